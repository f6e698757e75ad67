"""RLPA with GRPO: learn to infer a user's profile over a dialogue with a simulated user.

Usage (CPU; SmolLM2-135M with LoRA, about 15 minutes):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml recipes/grpo.py \
        --config recipes/smollm2/grpo/config_lora.yaml

Plumbing check in seconds:

    python recipes/grpo.py --config recipes/tiny-random/grpo/config_tiny.yaml

Synthetic users with known traits (:mod:`llmrec.data.synthetic`) are played by
:class:`~llmrec.training.simulator.UserSimulator` s that reveal a little per turn. Every user turn
of the training users' dialogues is a GRPO prompt; the policy answers
``<profile>...</profile><response>...</response>`` and is rewarded by format-gated profile F1
against the gold traits, a response reward (rule-based relevance, or a judge model), and
optionally a tag-count shaping term (reward functions in that order, for ``reward_weights``).
Before and after training the policy plays full dialogues with held-out users; the script prints
their profile F1 and the reward over steps, writes ``metrics.json`` and ends with one line of JSON.
"""

from dataclasses import dataclass, field

from trl import GRPOConfig, ModelConfig, ScriptArguments, TrlParser


@dataclass
class GRPOScriptArguments(ScriptArguments):
    """Simulated users, dialogue shape and rewards of the RLPA recipe."""

    dataset_name: str = field(default="synthetic", metadata={"help": "Only 'synthetic'."})
    world_users: int = field(default=200, metadata={"help": "Users in the synthetic world."})
    world_items: int = field(default=300, metadata={"help": "Items in the synthetic world."})
    train_users: int = field(default=64, metadata={"help": "Users whose dialogues train."})
    eval_users: int = field(default=16, metadata={"help": "Held-out users evaluated."})
    n_turns: int = field(default=3, metadata={"help": "User messages per dialogue."})
    traits_per_turn: int = field(default=1, metadata={"help": "Traits revealed per turn."})
    reveal_order: str = field(default="shuffled", metadata={"help": "'shuffled' or 'given'."})
    silent_prob: float = field(default=0.0, metadata={"help": "Chance a turn reveals nothing."})
    simulator_model: str | None = field(
        default=None, metadata={"help": "Backend spec writing user messages (default: template)."}
    )
    context: str = field(
        default="template",
        metadata={"help": "Earlier assistant turns of training prompts: 'template' or 'policy'."},
    )
    profile_target: str = field(
        default="gold_traits", metadata={"help": "'gold_traits' (RLPA) or 'revealed_traits'."}
    )
    response_reward: str = field(
        default="relevance",
        metadata={"help": "'relevance', 'judge' (keep talking?), 'item_judge' or 'none'."},
    )
    judge_model: str | None = field(default=None, metadata={"help": "Backend spec of the judge."})
    tag_shaping: bool = field(default=True, metadata={"help": "Add the tag-count reward."})
    warm_start_steps: int = field(
        default=0, metadata={"help": "SFT steps on templated well-formed replies before GRPO."}
    )
    warm_start_learning_rate: float = field(default=1e-4, metadata={"help": "Its learning rate."})
    eval_max_new_tokens: int = field(default=128, metadata={"help": "Reply budget in evaluation."})


def main(script_args: GRPOScriptArguments, training_args: GRPOConfig, model_args: ModelConfig):
    import json
    import logging
    from pathlib import Path

    import numpy as np
    from transformers import set_seed
    from trl import GRPOTrainer, get_peft_config

    from llmrec.backends.base import GenerationParams
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data.synthetic import SyntheticConfig, generate_world
    from llmrec.training.common import (
        check_device,
        load_model_and_tokenizer,
        trainable_fingerprint,
        write_metrics,
    )
    from llmrec.training.grpo_data import (
        grpo_dataset,
        profile_f1_report,
        rollout_dialogues,
        simulators_for,
    )
    from llmrec.training.rewards import ProfileF1Reward, response_reward, tag_count_reward
    from llmrec.training.simulator import RevealPolicy

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    check_device(training_args, model_args)
    if script_args.dataset_name != "synthetic":
        raise ValueError(
            f"dataset_name: GRPO needs users with gold traits; only 'synthetic' is supported, "
            f"got {script_args.dataset_name!r}"
        )
    if script_args.context not in ("template", "policy"):
        raise ValueError(f"context must be 'template' or 'policy', got {script_args.context!r}")
    set_seed(training_args.seed)
    out_dir = Path(training_args.output_dir)

    world = generate_world(
        SyntheticConfig(
            n_users=script_args.world_users,
            n_items=script_args.world_items,
            seed=training_args.seed,
        )
    )
    users = list(world.gold)
    if script_args.train_users + script_args.eval_users > len(users):
        raise ValueError(
            f"train_users + eval_users = {script_args.train_users + script_args.eval_users} "
            f"exceeds world_users = {len(users)}"
        )
    order = np.random.default_rng(training_args.seed).permutation(len(users))
    eval_ids = [users[i] for i in order[: script_args.eval_users]]
    train_ids = [users[i] for i in order[script_args.eval_users :]][: script_args.train_users]
    reveal = RevealPolicy(
        traits_per_turn=script_args.traits_per_turn,
        order=script_args.reveal_order,
        silent_prob=script_args.silent_prob,
        seed=training_args.seed,
    )
    simulator_backend = None
    if script_args.simulator_model:
        from llmrec.backends import load_backend

        simulator_backend = load_backend(script_args.simulator_model)

    model, tokenizer = load_model_and_tokenizer(model_args, training_args)
    policy = TransformersBackend.from_model(model, tokenizer)
    generation = GenerationParams(max_new_tokens=script_args.eval_max_new_tokens, temperature=0.0)

    def evaluate(backend) -> dict:
        backend.model.eval()
        sims = simulators_for(world.gold, eval_ids, reveal, simulator_backend)
        dialogues = rollout_dialogues(sims, script_args.n_turns, backend, generation)
        report = profile_f1_report(dialogues)
        report["example_reply"] = dialogues[0].turns[-1].reply if dialogues else ""
        logging.getLogger("recipes.grpo").info("held-out dialogues: %s", json.dumps(report))
        return report

    before = evaluate(policy)
    train_sims = simulators_for(world.gold, train_ids, reveal, simulator_backend)
    warm = None
    if script_args.warm_start_steps > 0:
        model = warm_start(model, tokenizer, train_sims, script_args, training_args, model_args)
        policy = TransformersBackend.from_model(model, tokenizer)
        warm = evaluate(policy)
    context_policy = policy if script_args.context == "policy" else None
    train_dataset = grpo_dataset(
        rollout_dialogues(train_sims, script_args.n_turns, context_policy, generation)
    )

    reward_funcs = [ProfileF1Reward(script_args.profile_target)]
    if script_args.response_reward == "item_judge":
        extra = item_judge_reward(world, train_ids, script_args.judge_model)
    else:
        extra = response_reward(script_args.response_reward, script_args.judge_model)
    if extra is not None:
        reward_funcs.append(extra)
    if script_args.tag_shaping:
        reward_funcs.append(tag_count_reward)
    tokenizer.padding_side = "left"
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_funcs,
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    start_fingerprint = trainable_fingerprint(trainer.model)
    trainer.train()
    trainer.save_model(training_args.output_dir)

    after = evaluate(TransformersBackend.from_model(trainer.model, tokenizer))
    curve = [
        {"step": row["step"], "reward": row["reward"]}
        | {k: v for k, v in row.items() if k.startswith("rewards/") and k.endswith("/mean")}
        for row in trainer.state.log_history
        if "reward" in row
    ]
    print(f"{'step':>6}{'reward':>9}")
    for row in curve:
        print(f"{row['step']:>6}{row['reward']:>9.4f}")
    stages = {"base": before} | ({"warm start": warm} if warm else {}) | {"after GRPO": after}
    print(f"{'':<22}" + "".join(f"{name:>12}" for name in stages))
    for key in ("profile_f1", "profile_f1_last_turn", "format_rate"):
        print(f"{key:<22}" + "".join(f"{r[key]:>12.4f}" for r in stages.values()))
    summary = {
        "profile_f1_before": before["profile_f1"],
        "profile_f1_warm_start": warm["profile_f1"] if warm else None,
        "profile_f1_after": after["profile_f1"],
        "format_rate_before": before["format_rate"],
        "format_rate_warm_start": warm["format_rate"] if warm else None,
        "format_rate_after": after["format_rate"],
        "reward_first": curve[0]["reward"] if curve else None,
        "reward_last": curve[-1]["reward"] if curve else None,
        "steps": trainer.state.global_step,
        "weights_changed": trainable_fingerprint(trainer.model) != start_fingerprint,
        "eval_users": len(eval_ids),
        "train_prompts": train_dataset.num_rows,
    }
    write_metrics(
        out_dir / "metrics.json",
        {"stages": stages, "reward_curve": curve, "summary": summary},
    )
    print(json.dumps(summary, default=float))
    return {"stages": stages, "curve": curve, "summary": summary, "trainer": trainer}


def item_judge_reward(world, user_ids, judge_model):
    """llmrec's pointwise judge as the response reward, behind the format gate.

    The judge reads each user's gold traits as the profile and scores the item the response
    names (its first line, matched to a catalogue title) on the 1-5 rubric, mapped to [0, 1].
    """
    from llmrec.backends import load_backend
    from llmrec.context.view import UserContext
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.judge.reward import JudgeReward
    from llmrec.training.rewards import FormatGatedReward

    if not judge_model:
        raise ValueError("response_reward 'item_judge' needs judge_model (a backend spec)")
    profiles = {u: "; ".join(world.gold[u].traits()) for u in user_ids}
    judge = PointwiseJudge(load_backend(judge_model), UserContext(profiles=profiles))
    return FormatGatedReward(JudgeReward(judge, catalogue=world.dataset.items), "item_judge")


def warm_start(model, tokenizer, simulators, script_args, training_args, model_args):
    """A short SFT on templated well-formed replies (see ``grpo_data.warm_start_dataset``).

    With LoRA the adapter is merged afterwards, so GRPO starts a fresh adapter on top.
    """
    from trl import SFTConfig, SFTTrainer, get_peft_config

    from llmrec.training.grpo_data import rollout_dialogues, warm_start_dataset

    data = warm_start_dataset(rollout_dialogues(simulators, script_args.n_turns))
    args = SFTConfig(
        output_dir=str(training_args.output_dir) + "/warm_start",
        max_steps=script_args.warm_start_steps,
        learning_rate=script_args.warm_start_learning_rate,
        per_device_train_batch_size=training_args.per_device_train_batch_size,
        logging_steps=training_args.logging_steps,
        save_strategy="no",
        report_to="none",
        use_cpu=training_args.use_cpu,
        bf16=training_args.bf16,
        gradient_checkpointing=False,
        seed=training_args.seed,
    )
    tokenizer.padding_side = "right"
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=data,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    trainer.train()
    model = trainer.model
    if hasattr(model, "merge_and_unload"):
        model = model.merge_and_unload()
    return model


def make_parser():
    return TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig))


if __name__ == "__main__":
    from llmrec.training.common import parse_recipe_args

    main(*parse_recipe_args(make_parser()))
