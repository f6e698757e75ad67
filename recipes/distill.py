"""SLMRec distillation: train a next-item teacher on a cut LM, distil it into a shallower student.

Usage (CPU; ml-100k, an 8-block SmolLM2 teacher and a 2-block student; 39 minutes measured on
2 cores shared with other jobs, see docs/training-distill-grpo.md):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml recipes/distill.py \
        --config recipes/smollm2/distill/config_8to2.yaml

Plumbing check in seconds:

    python recipes/distill.py --config recipes/tiny-random/distill/config_tiny.yaml

The teacher (the first ``teacher_layers`` blocks of the LM, item-ID embeddings projected in, the
last state projected out and scored against all items) is trained with next-item cross-entropy,
unless ``teacher_path`` names one already trained. The student is the teacher cut to
``student_layers`` blocks, trained with cross-entropy plus block-wise hidden-state alignment
(and optional per-block heads and logit KD). Both are evaluated on the leave-one-out test items by
full ranking (HR@10, NDCG@10, history masked, ties against the target); the script prints them
with parameter counts and inference latency side by side, writes ``metrics.json`` and ends with
one line of JSON.
"""

from dataclasses import dataclass, field

from trl import ModelConfig, ScriptArguments, TrlParser

from llmrec.training.distill import DistillConfig


@dataclass
class DistillScriptArguments(ScriptArguments):
    """Data and model-shape arguments of the distillation recipe."""

    dataset_name: str = field(default="ml-100k", metadata={"help": "llmrec dataset name."})
    max_history: int = field(default=10, metadata={"help": "Most recent items per input."})
    examples_per_user: int = field(
        default=4, metadata={"help": "Last training positions per user (0 = every position)."}
    )
    item_dim: int = field(default=64, metadata={"help": "Item embedding width."})
    item_init: str = field(
        default="svd", metadata={"help": "'svd' (pretrained from train interactions) or 'random'."}
    )
    freeze_item_embeddings: bool = field(default=False, metadata={"help": "Keep items fixed."})
    teacher_layers: int = field(default=8, metadata={"help": "Blocks of the LM the teacher keeps."})
    student_layers: int = field(default=2, metadata={"help": "Blocks the student keeps."})
    teacher_path: str | None = field(
        default=None, metadata={"help": "A trained SLMRec teacher folder; trained here if unset."}
    )
    teacher_epochs: float = field(default=1.0, metadata={"help": "Epochs of teacher training."})
    student_init: str = field(
        default="teacher",
        metadata={"help": "'teacher' (cut of the trained teacher) or 'base' (cut of the raw LM)."},
    )
    train_undistilled_student: bool = field(
        default=False, metadata={"help": "Also train the same student with CE only (ablation)."}
    )
    instruction: str = field(
        default="Given the user's watch history, predict the next movie. History:",
        metadata={"help": "Text before the item embeddings."},
    )
    response_marker: str = field(default=" Next movie:", metadata={"help": "Text after them."})
    eval_users: int = field(default=0, metadata={"help": "Held-out users evaluated (0 = all)."})
    eval_batch_size: int = field(default=64, metadata={"help": "Users per scoring pass."})
    latency_rounds: int = field(default=5, metadata={"help": "Alternating timing rounds."})


def main(
    script_args: DistillScriptArguments, training_args: DistillConfig, model_args: ModelConfig
):
    import dataclasses
    import json
    import logging
    from pathlib import Path

    import datasets
    import torch
    from transformers import Trainer, set_seed

    from llmrec.data import leave_one_out
    from llmrec.training.common import check_device, load_recipe_dataset, write_metrics
    from llmrec.training.distill import SLMRecDistillTrainer
    from llmrec.training.slmrec import (
        ItemSequenceCollator,
        SLMRecModel,
        count_parameters,
        evaluate_next_item,
        measure_latency,
        next_item_examples,
        svd_item_embeddings,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    check_device(training_args, model_args)
    if model_args.use_peft:
        raise ValueError("use_peft: the distillation recipe fine-tunes the cut decoder fully")
    set_seed(training_args.seed)
    out_dir = Path(training_args.output_dir)

    split = leave_one_out(load_recipe_dataset(script_args.dataset_name, seed=training_args.seed))
    n_items = len(split.train.item_ids)
    examples = next_item_examples(
        split.train, script_args.max_history, script_args.examples_per_user
    )
    train_dataset = datasets.Dataset.from_dict(examples)
    collator = ItemSequenceCollator(script_args.max_history)
    item_table = None
    if script_args.item_init == "svd":
        item_table = svd_item_embeddings(split.train, script_args.item_dim, training_args.seed)
    elif script_args.item_init != "random":
        raise ValueError(f"item_init must be 'svd' or 'random', got {script_args.item_init!r}")

    def build(n_layers: int) -> SLMRecModel:
        return SLMRecModel.from_causal_lm(
            model_args.model_name_or_path,
            n_items=n_items,
            item_dim=script_args.item_dim,
            instruction=script_args.instruction,
            response_marker=script_args.response_marker,
            n_layers=n_layers,
            item_embeddings=item_table,
            freeze_item_embeddings=script_args.freeze_item_embeddings,
            dtype=getattr(torch, model_args.dtype or "float32"),
        )

    def evaluate(model: SLMRecModel) -> dict[str, float]:
        report = evaluate_next_item(
            model,
            split,
            script_args.max_history,
            max_users=script_args.eval_users,
            batch_size=script_args.eval_batch_size,
            device=training_args.device,
        )
        return report.to_dict()

    # Teacher: trained here with next-item CE unless given.
    if script_args.teacher_path:
        teacher = SLMRecModel.from_pretrained(script_args.teacher_path)
        teacher_log = []
    else:
        teacher = build(script_args.teacher_layers)
        teacher_args = dataclasses.replace(
            training_args,
            output_dir=str(out_dir / "teacher"),
            num_train_epochs=script_args.teacher_epochs,
        )
        trainer = Trainer(
            model=teacher, args=teacher_args, train_dataset=train_dataset, data_collator=collator
        )
        trainer.train()
        teacher_log = trainer.state.log_history
        teacher.save_pretrained(out_dir / "teacher")

    # Student: the teacher cut to fewer blocks (or a cut of the raw LM), then distilled.
    def new_student() -> SLMRecModel:
        if script_args.student_init == "teacher":
            return teacher.truncated(script_args.student_layers)
        if script_args.student_init == "base":
            return build(script_args.student_layers)
        raise ValueError(
            f"student_init must be 'teacher' or 'base', got {script_args.student_init!r}"
        )

    student = new_student()
    trainer = SLMRecDistillTrainer(
        teacher,
        model=student,
        args=training_args,
        train_dataset=train_dataset,
        data_collator=collator,
    )
    trainer.train()
    student.save_pretrained(out_dir / "student")

    rows = {"teacher": teacher, "student": student}
    if script_args.train_undistilled_student:
        plain = new_student()
        ce_args = dataclasses.replace(training_args, output_dir=str(out_dir / "student_ce"))
        Trainer(
            model=plain, args=ce_args, train_dataset=train_dataset, data_collator=collator
        ).train()
        rows["student (CE only)"] = plain

    metrics = {name: evaluate(model) for name, model in rows.items()}
    latency = measure_latency(
        list(rows.values()),
        collator,
        split.train,
        batch_size=script_args.eval_batch_size,
        rounds=script_args.latency_rounds,
        device=training_args.device,
    )
    for (name, model), ms in zip(rows.items(), latency):
        metrics[name].update(
            params=count_parameters(model),
            block_params=count_parameters(model.decoder)
            - count_parameters(model.decoder.get_input_embeddings()),
            layers=model.num_layers,
            latency_ms_per_batch=ms,
        )

    t, s = metrics["teacher"], metrics["student"]
    summary = {
        "teacher_ndcg@10": t["ndcg@10"],
        "student_ndcg@10": s["ndcg@10"],
        "teacher_hr@10": t["hr@10"],
        "student_hr@10": s["hr@10"],
        "ndcg_share_kept": s["ndcg@10"] / t["ndcg@10"] if t["ndcg@10"] else float("nan"),
        "hr_share_kept": s["hr@10"] / t["hr@10"] if t["hr@10"] else float("nan"),
        "layer_share": s["layers"] / t["layers"],
        "param_share": s["params"] / t["params"],
        "block_param_share": s["block_params"] / t["block_params"],
        "inference_speedup": t["latency_ms_per_batch"] / s["latency_ms_per_batch"],
        "eval_users": t["users"],
    }
    if "student (CE only)" in metrics:
        summary["undistilled_student_ndcg@10"] = metrics["student (CE only)"]["ndcg@10"]
    header = f"{'model':<20}{'layers':>7}{'params':>12}{'HR@10':>8}{'NDCG@10':>9}{'ms/batch':>10}"
    print(header)
    for name, m in metrics.items():
        print(
            f"{name:<20}{m['layers']:>7}{m['params']:>12,}{m['hr@10']:>8.4f}"
            f"{m['ndcg@10']:>9.4f}{m['latency_ms_per_batch']:>10.1f}"
        )
    write_metrics(
        out_dir / "metrics.json",
        {
            "models": metrics,
            "summary": summary,
            "teacher_log": teacher_log,
            "student_log": trainer.state.log_history,
        },
    )
    print(json.dumps(summary, default=float))
    return {
        "metrics": metrics,
        "summary": summary,
        "models": rows,
        "teacher_log": teacher_log,
        "student_log": trainer.state.log_history,
    }


def make_parser():
    return TrlParser((DistillScriptArguments, DistillConfig, ModelConfig))


if __name__ == "__main__":
    from llmrec.training.common import parse_recipe_args

    main(*parse_recipe_args(make_parser()))
