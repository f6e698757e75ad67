"""DPO for profile generation, as LettinGo does: profiles that help a recommender are preferred.

Ready to paste (from the repository root):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml \
        recipes/dpo.py --config recipes/smollm2/dpo/config_lora_cpu.yaml

    # tiny random model, seconds; from an install: python -m llmrec.recipes.dpo --config ...
    python recipes/dpo.py --config recipes/tiny-random/dpo/config_tiny.yaml

    # GPU, bf16 / QLoRA 4-bit, DDP over all local GPUs:
    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml \
        recipes/dpo.py --config recipes/smollm2/dpo/config_qlora.yaml

The untrained generator samples ``n_profiles`` profiles per training user; a frozen scorer LLM
rates each by the AUC of its Yes/No answers on the user's recent items against negatives; the
pairs train the generator with trl's ``DPOTrainer`` and LoRA (the reference model is the
generator with its adapter off). Before and after, held-out users' greedy profiles are scored
the same way on their held-out test items; the recipe prints both as JSON and writes
``<output_dir>/eval_metrics.json``.
"""

from __future__ import annotations

import json
import os
import time

from llmrec.training.dpo.data import DPOScriptArguments


def main(script_args, training_args, model_args) -> dict:
    """Sample, score, pair, train, save and evaluate; returns metrics and the log history."""
    from dataclasses import asdict

    import numpy as np
    from trl import DPOTrainer, get_peft_config

    from llmrec.training import reporting, runtime
    from llmrec.training.dpo.data import (
        build_dpo_data,
        evaluate_generator,
        train_log_summary,
        write_eval_profiles,
    )

    runtime.check_device(training_args, model_args, script_args.require_gpu)
    started = time.perf_counter()
    model, tokenizer = runtime.load_model_and_tokenizer(model_args, training_args)
    seconds = {"load_model": time.perf_counter() - started}
    data = build_dpo_data(
        script_args, model, tokenizer, model_args.model_name_or_path, seed=training_args.seed
    )
    seconds.update(data.seconds)
    before = None
    if script_args.eval_before_after and runtime.is_main_process():
        start = time.perf_counter()
        before = evaluate_generator(model, tokenizer, data, script_args)
        seconds["eval_before"] = time.perf_counter() - start
    callbacks = []
    if script_args.write_rank_fingerprints:
        callbacks.append(runtime.make_rank_fingerprint_callback(training_args.output_dir))
    start = time.perf_counter()
    trainer = DPOTrainer(
        model=model,
        args=training_args,
        train_dataset=data.pairs.select_columns(["prompt", "chosen", "rejected"]),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    seconds["train"] = time.perf_counter() - start
    trainer.save_model(training_args.output_dir)

    metrics: dict = {}
    if trainer.accelerator.is_main_process:
        model = trainer.accelerator.unwrap_model(trainer.model)
        gaps = np.asarray(data.pairs["score_chosen"]) - np.asarray(data.pairs["score_rejected"])
        metrics = {
            "pairs": len(data.pairs),
            "train_users": len(data.train_tasks),
            "eval_users": len(data.eval_tasks),
            "train_profile_score_mean": float(data.profile_scores.mean()),
            "pair_score_gap_mean": float(gaps.mean()) if len(gaps) else 0.0,
            "world_size": trainer.accelerator.num_processes,
            "train_log": train_log_summary(trainer.state.log_history),
        }
        if before is not None:
            start = time.perf_counter()
            after = evaluate_generator(model, tokenizer, data, script_args)
            seconds["eval_after"] = time.perf_counter() - start
            metrics.update(
                reporting.before_after_metrics(before[1], after[1], "auc", training_args.seed)
            )
            metrics["eval_profiles_changed"] = float(
                sum(a != b for a, b in zip(before[0], after[0])) / max(1, len(before[0]))
            )
            write_eval_profiles(
                os.path.join(training_args.output_dir, "eval_profiles.jsonl"), data, before, after
            )
        data.pairs.to_json(os.path.join(training_args.output_dir, "train_pairs.jsonl"))
        seconds["total"] = time.perf_counter() - started
        metrics["seconds"] = {k: round(v, 1) for k, v in seconds.items()}
        metrics["settings"] = {
            "script": asdict(script_args),
            "model": model_args.model_name_or_path,
            "lora_r": model_args.lora_r,
            "lora_alpha": model_args.lora_alpha,
            **{
                k: getattr(training_args, k)
                for k in (
                    "beta",
                    "learning_rate",
                    "num_train_epochs",
                    "max_steps",
                    "per_device_train_batch_size",
                    "gradient_accumulation_steps",
                    "lr_scheduler_type",
                    "precompute_ref_log_probs",
                    "seed",
                )
            },
            "optimizer_steps": trainer.state.global_step,
        }
        runtime.write_metrics(os.path.join(training_args.output_dir, "eval_metrics.json"), metrics)
        trainer.accelerator.print(json.dumps(metrics, sort_keys=True, default=str))
    trainer.accelerator.wait_for_everyone()
    return {"metrics": metrics, "log_history": trainer.state.log_history, "trainer": trainer}


def make_parser():
    from trl import DPOConfig, ModelConfig, TrlParser

    return TrlParser((DPOScriptArguments, DPOConfig, ModelConfig))


if __name__ == "__main__":
    import logging

    from llmrec.training.runtime import parse_recipe_args

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    script_args, training_args, model_args = parse_recipe_args(make_parser())
    main(script_args, training_args, model_args)
