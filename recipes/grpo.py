"""RLPA with GRPO: learn to infer a user's profile over a dialogue with a simulated user.

Ready to paste (from the repository root; CPU, SmolLM2-135M with LoRA, about 15 minutes):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml recipes/grpo.py \
        --config recipes/smollm2/grpo/config_lora.yaml

    # tiny random model, seconds; from an install: python -m llmrec.recipes.grpo --config ...
    python recipes/grpo.py --config recipes/tiny-random/grpo/config_tiny.yaml

Synthetic users with known traits (:mod:`llmrec.data.synthetic`) are played by
:class:`~llmrec.training.grpo.simulator.UserSimulator` s that reveal a little per turn. Every user turn
of the training users' dialogues is a GRPO prompt; the policy answers
``<profile>...</profile><response>...</response>`` and is rewarded by format-gated profile F1
against the gold traits, a response reward (rule-based relevance, or a judge model), and
optionally a tag-count shaping term (reward functions in that order, for ``reward_weights``).
Before and after training the policy plays full dialogues with held-out users; the script prints
their profile F1 and the reward over steps, writes ``metrics.json`` and ends with one line of JSON.
"""

from __future__ import annotations

from llmrec.training.grpo.arguments import GRPOScriptArguments


def main(script_args: GRPOScriptArguments, training_args, model_args) -> dict:
    """Evaluate, (warm-start,) train with GRPO, save, evaluate again; returns stages and curve."""
    import json
    from pathlib import Path

    from transformers import set_seed
    from trl import GRPOTrainer, get_peft_config

    from llmrec.backends.base import GenerationParams
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data.synthetic import SyntheticConfig, generate_world
    from llmrec.training.grpo.data import grpo_dataset, rollout_dialogues, simulators_for
    from llmrec.training.grpo.evaluation import (
        evaluate_policy,
        format_report,
        reward_curve,
        split_users,
        summarise,
    )
    from llmrec.training.grpo.reward_functions import reward_functions
    from llmrec.training.grpo.simulator import RevealPolicy
    from llmrec.training.grpo.warm_start import warm_start
    from llmrec.training.runtime import (
        check_device,
        load_model_and_tokenizer,
        trainable_fingerprint,
        write_metrics,
    )

    check_device(training_args, model_args)
    script_args.check()
    set_seed(training_args.seed)
    world = generate_world(
        SyntheticConfig(
            n_users=script_args.world_users,
            n_items=script_args.world_items,
            seed=training_args.seed,
        )
    )
    train_ids, eval_ids = split_users(
        list(world.gold), script_args.train_users, script_args.eval_users, training_args.seed
    )
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
    generation = GenerationParams(max_new_tokens=script_args.eval_max_new_tokens, temperature=0.0)

    def evaluate(model) -> dict:
        backend = TransformersBackend.from_model(model, tokenizer)
        return evaluate_policy(
            backend,
            world.gold,
            eval_ids,
            reveal,
            script_args.n_turns,
            generation,
            simulator_backend,
        )

    model, tokenizer = load_model_and_tokenizer(model_args, training_args)
    stages = {"base": evaluate(model)}
    train_sims = simulators_for(world.gold, train_ids, reveal, simulator_backend)
    if script_args.warm_start_steps > 0:
        model = warm_start(model, tokenizer, train_sims, script_args, training_args, model_args)
        stages["warm start"] = evaluate(model)
    context = TransformersBackend.from_model(model, tokenizer)
    train_dataset = grpo_dataset(
        rollout_dialogues(
            train_sims,
            script_args.n_turns,
            context if script_args.context == "policy" else None,
            generation,
        )
    )
    tokenizer.padding_side = "left"
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=reward_functions(script_args, world, train_ids),
        args=training_args,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    start_fingerprint = trainable_fingerprint(trainer.model)
    trainer.train()
    trainer.save_model(training_args.output_dir)

    stages["after GRPO"] = evaluate(trainer.model)
    curve = reward_curve(trainer.state.log_history)
    print(format_report(stages, curve))
    summary = summarise(
        stages,
        curve,
        steps=trainer.state.global_step,
        weights_changed=trainable_fingerprint(trainer.model) != start_fingerprint,
        eval_users=len(eval_ids),
        train_prompts=train_dataset.num_rows,
    )
    write_metrics(
        Path(training_args.output_dir) / "metrics.json",
        {"stages": stages, "reward_curve": curve, "summary": summary},
    )
    print(json.dumps(summary, default=float))
    return {"stages": stages, "curve": curve, "summary": summary, "trainer": trainer}


def make_parser():
    from trl import GRPOConfig, ModelConfig, TrlParser

    return TrlParser((GRPOScriptArguments, GRPOConfig, ModelConfig))


if __name__ == "__main__":
    import logging

    from llmrec.training.runtime import parse_recipe_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    main(*parse_recipe_args(make_parser()))
