"""SLMRec distillation: train a next-item teacher on a cut LM, distil it into a shallower student.

Ready to paste (from the repository root; CPU, ml-100k, an 8-block SmolLM2 teacher and a 2-block
student; 39 minutes measured on 2 cores shared with other jobs, see docs/training-distill-grpo.md):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml recipes/distill.py \
        --config recipes/smollm2/distill/config_8to2.yaml

    # tiny random model, seconds; from an install: python -m llmrec.recipes.distill --config ...
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

from __future__ import annotations

from llmrec.training.distill.arguments import DistillScriptArguments


def main(script_args: DistillScriptArguments, training_args, model_args) -> dict:
    """Train (or load) the teacher, distil the student, compare both; returns metrics and models."""
    import dataclasses
    import json
    from pathlib import Path

    import datasets
    import torch
    from transformers import Trainer, set_seed

    from llmrec.data import leave_one_out
    from llmrec.training.data import load_recipe_dataset
    from llmrec.training.distill.evaluation import compare_models, format_table, summarise
    from llmrec.training.distill.slmrec import (
        ItemSequenceCollator,
        SLMRecModel,
        next_item_examples,
        svd_item_embeddings,
    )
    from llmrec.training.distill.trainer import SLMRecDistillTrainer
    from llmrec.training.runtime import check_device, write_metrics

    check_device(training_args, model_args)
    script_args.check()
    if model_args.use_peft:
        raise ValueError("use_peft: the distillation recipe fine-tunes the cut decoder fully")
    set_seed(training_args.seed)
    out_dir = Path(training_args.output_dir)
    split = leave_one_out(load_recipe_dataset(script_args.dataset_name, seed=training_args.seed))
    examples = next_item_examples(
        split.train, script_args.max_history, script_args.examples_per_user
    )
    train_dataset = datasets.Dataset.from_dict(examples)
    collator = ItemSequenceCollator(script_args.max_history)
    item_table = None
    if script_args.item_init == "svd":
        item_table = svd_item_embeddings(split.train, script_args.item_dim, training_args.seed)

    def build(n_layers: int) -> SLMRecModel:
        return SLMRecModel.from_causal_lm(
            model_args.model_name_or_path,
            n_items=len(split.train.item_ids),
            item_dim=script_args.item_dim,
            instruction=script_args.instruction,
            response_marker=script_args.response_marker,
            n_layers=n_layers,
            item_embeddings=item_table,
            freeze_item_embeddings=script_args.freeze_item_embeddings,
            dtype=getattr(torch, model_args.dtype or "float32"),
        )

    def train_plain(model: SLMRecModel, folder: str, **changes) -> list[dict]:
        # Next-item cross-entropy only: the teacher, and the undistilled ablation.
        args = dataclasses.replace(training_args, output_dir=str(out_dir / folder), **changes)
        trainer = Trainer(
            model=model, args=args, train_dataset=train_dataset, data_collator=collator
        )
        trainer.train()
        return trainer.state.log_history

    teacher_log: list[dict] = []
    if script_args.teacher_path:
        teacher = SLMRecModel.from_pretrained(script_args.teacher_path)
    else:
        teacher = build(script_args.teacher_layers)
        teacher_log = train_plain(teacher, "teacher", num_train_epochs=script_args.teacher_epochs)
        teacher.save_pretrained(out_dir / "teacher")

    def new_student() -> SLMRecModel:
        if script_args.student_init == "teacher":
            return teacher.truncated(script_args.student_layers)
        return build(script_args.student_layers)

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
        rows["student (CE only)"] = plain = new_student()
        train_plain(plain, "student_ce")

    metrics = compare_models(
        rows,
        split,
        collator,
        script_args.max_history,
        eval_users=script_args.eval_users,
        batch_size=script_args.eval_batch_size,
        latency_rounds=script_args.latency_rounds,
        device=training_args.device,
    )
    summary = summarise(metrics)
    print(format_table(metrics))
    logs = {"teacher_log": teacher_log, "student_log": trainer.state.log_history}
    write_metrics(out_dir / "metrics.json", {"models": metrics, "summary": summary, **logs})
    print(json.dumps(summary, default=float))
    return {"metrics": metrics, "summary": summary, "models": rows, **logs}


def make_parser():
    from trl import ModelConfig, TrlParser

    from llmrec.training.distill.trainer import DistillConfig

    return TrlParser((DistillScriptArguments, DistillConfig, ModelConfig))


if __name__ == "__main__":
    import logging

    from llmrec.training.runtime import parse_recipe_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    main(*parse_recipe_args(make_parser()))
