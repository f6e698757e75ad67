"""LoRA SFT of the judge on its own prompt and answer format (ratings and matched negatives).

Ready to paste (from the repository root):

    accelerate launch --config_file recipes/accelerate_configs/single_cpu.yaml \
        recipes/judge.py --config recipes/smollm2/judge/config_lora_cpu.yaml

    # tiny random model, seconds:
    python recipes/judge.py --config recipes/tiny-random/judge/config_tiny.yaml

Then validate the adapter on users it never saw (the recipe's training users, written to
``<output_dir>/judge_train_users.json``, are left out automatically):

    llmrec judge validate --data ml-100k --profiles facts --adapter <output_dir>

The examples are the exact chats ``PointwiseJudge`` sends, answered with one digit
(:mod:`llmrec.training.judge_data`). Any YAML key can be overridden on the command line.
"""

from __future__ import annotations

import json
import os

from llmrec.training.judge_data import JudgeScriptArguments


def main(script_args, training_args, model_args) -> dict:
    """Build the data, train, save the adapter and the list of training users."""
    from trl import SFTTrainer, get_peft_config

    from llmrec.training import runtime
    from llmrec.training.judge_data import TRAIN_USERS_FILE, build_judge_data

    runtime.check_device(training_args, model_args)
    data = build_judge_data(script_args, seed=training_args.seed)
    model, tokenizer = runtime.load_model_and_tokenizer(model_args, training_args)
    trainer = SFTTrainer(
        model=model,
        args=training_args,
        train_dataset=data.train.select_columns(["prompt", "completion"]),
        processing_class=tokenizer,
        peft_config=get_peft_config(model_args),
    )
    trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_model(training_args.output_dir)
    summary = {
        "train_examples": len(data.train),
        "train_users": len(data.train_users),
        "excluded_users": data.excluded,
        "labels": data.label_counts,
        "losses": runtime.losses(trainer.state.log_history),
    }
    if trainer.accelerator.is_main_process:
        path = os.path.join(training_args.output_dir, TRAIN_USERS_FILE)
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(data.train_users, handle)
        runtime.write_metrics(os.path.join(training_args.output_dir, "train_summary.json"), summary)
        trainer.accelerator.print(json.dumps({k: v for k, v in summary.items() if k != "losses"}))
    trainer.accelerator.wait_for_everyone()
    return {"summary": summary, "trainer": trainer}


def make_parser():
    from trl import ModelConfig, SFTConfig, TrlParser

    return TrlParser((JudgeScriptArguments, SFTConfig, ModelConfig))


if __name__ == "__main__":
    from llmrec.training.runtime import parse_recipe_args

    script_args, training_args, model_args = parse_recipe_args(make_parser())
    main(script_args, training_args, model_args)
