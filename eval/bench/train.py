"""LoRA SFT training throughput: the llmrec SFT recipe against a bare trl ``SFTTrainer``.

Both sides train the same LoRA adapter on the same next-item examples (built by the recipe's
data code from MovieLens-100k) for one epoch with the same batch size, learning rate, seed
and maximum length. The bare side is ``SFTTrainer`` with trl's defaults plus the flags CPU
training needs (``use_cpu``, no bf16, no activation checkpointing); the recipe side runs
``recipes/sft.py`` with its config (length-grouped batches, so less padding). Throughput is
real (non-padding) tokens per second of the training loop; each side runs ``--repeats``
times in alternating order and the best run counts.

    python eval/bench/train.py                                    # SmolLM2-135M, 64 examples
    python eval/bench/train.py --model tiny-random-llama --examples 256   # seconds

The last line is JSON with ``throughput_ratio`` = recipe tokens/s / bare tokens/s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def load_sft_recipe():
    spec = importlib.util.spec_from_file_location("recipe_sft", ROOT / "recipes" / "sft.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tokens_per_second(log_history: list[dict]) -> tuple[float, float, float]:
    """``(tokens, seconds, tokens/s)`` from a trainer's log: trl's last ``num_tokens`` count."""
    tokens = max(float(row["num_tokens"]) for row in log_history if "num_tokens" in row)
    seconds = next(float(row["train_runtime"]) for row in log_history if "train_runtime" in row)
    return tokens, seconds, tokens / seconds


def run_recipe(recipe, overrides: list[str], out: str) -> list[dict]:
    parser = recipe.make_parser()
    script_args, training_args, model_args = parser.parse_args_and_config(
        [*overrides, "--output_dir", out]
    )
    return recipe.main(script_args, training_args, model_args)["log_history"]


def run_bare(recipe, overrides: list[str], out: str) -> list[dict]:
    from trl import SFTConfig, SFTTrainer, get_peft_config

    from llmrec.models import resolve_model
    from llmrec.training.sft.data import build_sft_data

    script_args, training_args, model_args = recipe.make_parser().parse_args_and_config(
        [*overrides, "--output_dir", out]
    )
    data = build_sft_data(script_args, seed=training_args.seed)
    args = SFTConfig(
        output_dir=out,
        num_train_epochs=1,
        per_device_train_batch_size=training_args.per_device_train_batch_size,
        learning_rate=training_args.learning_rate,
        max_length=training_args.max_length,
        seed=training_args.seed,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        use_cpu=True,
        bf16=False,
        gradient_checkpointing=False,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=resolve_model(model_args.model_name_or_path),
        args=args,
        train_dataset=data.train,
        peft_config=get_peft_config(model_args),
    )
    trainer.train()
    return trainer.state.log_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--config", default="recipes/smollm2/sft/config_lora_cpu.yaml")
    parser.add_argument("--examples", type=int, default=64, help="training users (1 example each)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=1)
    opts = parser.parse_args()

    import torch

    overrides = [
        "--config", str(ROOT / opts.config),
        "--model_name_or_path", opts.model,
        "--train_users", str(opts.examples),
        "--targets_per_user", "1",
        "--num_train_epochs", "1",
        "--max_steps", "-1",
        "--per_device_train_batch_size", str(opts.batch_size),
        "--gradient_accumulation_steps", "1",
        "--run_eval", "false",
        "--logging_steps", "1",
        "--disable_tqdm", "true",
        "--save_strategy", "no",
    ]  # fmt: skip
    recipe = load_sft_recipe()
    results: dict[str, list[tuple[float, float, float]]] = {"bare": [], "recipe": []}
    order = ["bare", "recipe"]
    for repeat in range(opts.repeats):
        for side in order if repeat % 2 == 0 else order[::-1]:
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                runner = run_bare if side == "bare" else run_recipe
                logs = runner(recipe, overrides, out)
                results[side].append(tokens_per_second(logs))
                print(f"{side:7s} run {repeat}: {time.perf_counter() - start:.1f}s wall")

    best = {side: max(runs, key=lambda r: r[2]) for side, runs in results.items()}
    print()
    print(f"LoRA SFT throughput, {opts.model}, {opts.examples} examples, batch {opts.batch_size}")
    print(f"torch threads: {torch.get_num_threads()}")
    print(f"{'side':8s} {'tokens':>8s} {'seconds':>9s} {'tokens/s':>9s}")
    for side, (tokens, seconds, rate) in best.items():
        print(f"{side:8s} {tokens:8.0f} {seconds:9.2f} {rate:9.1f}")
    ratio = best["recipe"][2] / best["bare"][2]
    print(f"throughput ratio (recipe / bare): {ratio:.3f}")
    print(
        json.dumps(
            {
                "model": opts.model,
                "examples": opts.examples,
                "batch_size": opts.batch_size,
                "bare_tokens_per_s": round(best["bare"][2], 2),
                "recipe_tokens_per_s": round(best["recipe"][2], 2),
                "tokens": best["recipe"][0],
                "throughput_ratio": round(ratio, 4),
            }
        )
    )


if __name__ == "__main__":
    main()
