"""LoRA SFT for recommendation as language (next-item titles or TALLRec Yes/No).

Ready to paste (from the repository root):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml \
        recipes/sft.py --config recipes/smollm2/sft/config_lora_cpu.yaml

    # tiny random model, seconds; from an install: python -m llmrec.recipes.sft --config ...
    python recipes/sft.py --config recipes/tiny-random/sft/config_tiny.yaml

    # GPU, bf16 / QLoRA 4-bit, DDP over all local GPUs:
    accelerate launch --config_file recipes/accelerate_configs/ddp.yaml \
        recipes/sft.py --config recipes/smollm2/sft/config_qlora.yaml

Any YAML key can be overridden on the command line (``--max_steps 10``). At the end the recipe
evaluates the tuned model and, with ``eval_baseline``, the untuned one (adapter off) on held-out
users, prints the metrics as JSON and writes ``<output_dir>/eval_metrics.json``.
"""

from __future__ import annotations

import json
import os

from llmrec.training.sft.arguments import SFTScriptArguments


def main(script_args, training_args, model_args) -> dict:
    """Train, save and evaluate; returns ``{"metrics": ..., "log_history": ..., ...}``."""
    from trl import SFTTrainer, get_peft_config

    from llmrec.training import runtime
    from llmrec.training.sft.data import build_sft_data
    from llmrec.training.sft.evaluation import evaluate_sft

    runtime.check_device(training_args, model_args, script_args.require_gpu)
    data = build_sft_data(script_args, seed=training_args.seed)
    model, tokenizer = runtime.load_model_and_tokenizer(model_args, training_args)
    callbacks = []
    if script_args.write_rank_fingerprints:
        callbacks.append(runtime.make_rank_fingerprint_callback(training_args.output_dir))
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=data.train,
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
        callbacks=callbacks,
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)

    metrics: dict = {}
    if script_args.run_eval and trainer.accelerator.is_main_process:
        model = trainer.accelerator.unwrap_model(trainer.model)
        metrics = evaluate_sft(model, tokenizer, data, script_args, seed=training_args.seed)
        metrics["world_size"] = trainer.accelerator.num_processes
        metrics["train_examples"] = len(data.train)
        runtime.write_metrics(os.path.join(training_args.output_dir, "eval_metrics.json"), metrics)
        trainer.accelerator.print(json.dumps(metrics, sort_keys=True))
    trainer.accelerator.wait_for_everyone()
    return {"metrics": metrics, "log_history": trainer.state.log_history, "trainer": trainer}


def make_parser():
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))


if __name__ == "__main__":
    from llmrec.training.runtime import parse_recipe_args

    script_args, training_args, model_args = parse_recipe_args(make_parser())
    main(script_args, training_args, model_args)
