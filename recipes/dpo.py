"""DPO for profile generation, as LettinGo does: profiles that help a recommender are preferred.

Ready to paste (from the repository root):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml \
        recipes/dpo.py --config recipes/smollm2/dpo/config_lora_cpu.yaml

    # tiny random model, seconds:
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

from llmrec.training.dpo_data import DPOScriptArguments


def main(script_args, training_args, model_args) -> dict:
    """Sample, score, pair, train, save and evaluate; returns metrics and the log history."""
    from trl import DPOTrainer, get_peft_config

    from llmrec.training import common
    from llmrec.training.dpo_data import build_dpo_data, generator_scores

    common.check_device(training_args, model_args, script_args.require_gpu)
    model, tokenizer = common.load_model_and_tokenizer(model_args, training_args)
    data = build_dpo_data(
        script_args, model, tokenizer, model_args.model_name_or_path, seed=training_args.seed
    )
    before = None
    if script_args.eval_before_after and common.is_main_process():
        before = generator_scores(model, tokenizer, data, script_args)
    callbacks = []
    if script_args.write_rank_fingerprints:
        callbacks.append(common.make_rank_fingerprint_callback(training_args.output_dir))
    trainer = DPOTrainer(
        model=model,
        args=training_args,
        train_dataset=data.pairs.select_columns(["prompt", "chosen", "rejected"]),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)

    metrics: dict = {}
    if trainer.accelerator.is_main_process:
        model = trainer.accelerator.unwrap_model(trainer.model)
        metrics = {
            "pairs": len(data.pairs),
            "train_profile_score_mean": float(data.profile_scores.mean()),
            "world_size": trainer.accelerator.num_processes,
        }
        if before is not None:
            after = generator_scores(model, tokenizer, data, script_args)
            metrics.update(common.before_after_metrics(before, after, "auc", training_args.seed))
        common.write_metrics(os.path.join(training_args.output_dir, "eval_metrics.json"), metrics)
        trainer.accelerator.print(json.dumps(metrics, sort_keys=True))
    trainer.accelerator.wait_for_everyone()
    return {"metrics": metrics, "log_history": trainer.state.log_history, "trainer": trainer}


def make_parser():
    from trl import DPOConfig, ModelConfig, TrlParser

    return TrlParser((DPOScriptArguments, DPOConfig, ModelConfig))


if __name__ == "__main__":
    from llmrec.training.common import parse_recipe_args

    script_args, training_args, model_args = parse_recipe_args(make_parser())
    main(script_args, training_args, model_args)
