"""Evaluate a saved SFT adapter, and its base model with the adapter off, on held-out users.

Does what ``recipes/sft.py`` does at its end, for a run trained with ``--run_eval false`` or
to evaluate on other settings. Pass the recipe's config so the data split and user draw are the
same; the evaluation users are the first ``eval_users`` of the same seeded draw, disjoint from
the training users as long as ``eval_users`` is at most the value used in training.

Example:
    python -m llmrec.training.sft.eval_run --config recipes/smollm2/sft/config_lora_cpu.yaml \
        --output_dir runs/smollm2-sft-next-item --eval_users 40 --n_negatives 19
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> dict:
    """Parse the recipe's arguments, load ``output_dir``'s adapter, print and write the metrics."""
    from peft import PeftModel
    from trl import ModelConfig, SFTConfig, TrlParser

    from llmrec.training import runtime
    from llmrec.training.sft.arguments import SFTScriptArguments
    from llmrec.training.sft.data import build_sft_data
    from llmrec.training.sft.evaluation import evaluate_sft

    parser = TrlParser((SFTScriptArguments, SFTConfig, ModelConfig))
    script_args, training_args, model_args = runtime.parse_recipe_args(parser, argv)
    adapter = training_args.output_dir
    if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise ValueError(f"{adapter} holds no adapter_config.json; pass the run's --output_dir")
    data = build_sft_data(script_args, seed=training_args.seed)
    model, tokenizer = runtime.load_model_and_tokenizer(model_args, training_args)
    model = PeftModel.from_pretrained(model, adapter)
    metrics = evaluate_sft(model, tokenizer, data, script_args, seed=training_args.seed)
    runtime.write_metrics(os.path.join(adapter, "eval_metrics.json"), metrics)
    print(json.dumps(metrics, sort_keys=True))
    return metrics


if __name__ == "__main__":
    main()
