"""What every training recipe shares: data loading, user sampling, device checks, model loading.

The recipes in ``recipes/`` stay short because the pieces they have in common live here:

- :func:`load_recipe_dataset` turns a dataset name from a YAML config into an
  :class:`~llmrec.data.InteractionDataset` (a catalogue name such as ``"ml-100k"`` or
  ``"synthetic"`` for the seeded synthetic world);
- :func:`sample_train_eval_users` draws disjoint training and evaluation users of a split, so evaluation
  users' held-out items and histories never reach training;
- :func:`check_device` fails early, naming the field, when a config asks for GPU-only features
  (bf16, fp16, 4/8-bit loading, ``require_gpu``) on a machine without CUDA;
- :func:`load_model_and_tokenizer` resolves llmrec aliases and loads the model the way the trl
  config asks for; :func:`scoring_backend` wraps the model a recipe holds as a backend, so its
  evaluation scores through :class:`~llmrec.context.scoring.AnswerScorer`;
- :class:`RankFingerprintCallback` writes a hash of each rank's trainable weights, to check that
  DDP replicas ended identical.

Example:
    >>> from llmrec.training.common import sample_train_eval_users
    >>> train_users, eval_users = sample_train_eval_users(split, 200, 100, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.data.sampling import sample_users
from llmrec.data.splits import Split
from llmrec.metrics.stats import Interval, paired_bootstrap_ci, paired_difference_ci

logger = logging.getLogger(__name__)

# Modules LoRA adapts on Llama-style decoders (SmolLM2, the tiny random Llama, Qwen, Mistral).
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def scoring_backend(model: Any, tokenizer: Any, batch_size: int | None = None):
    """A :class:`~llmrec.backends.hf.TransformersBackend` over the model a recipe holds.

    Evaluation inside a recipe scores and samples through the backend protocol like every other
    caller (:class:`~llmrec.context.scoring.AnswerScorer`). The tokenizer is copied because the
    backend pads on the left and trl's collators expect the training tokenizer unchanged.
    """
    import copy

    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend.from_model(model, copy.deepcopy(tokenizer), batch_size=batch_size)


def load_recipe_dataset(name: str, seed: int = 0) -> InteractionDataset:
    """The dataset a recipe config names.

    Args:
        name: A catalogue name for :func:`llmrec.data.load_dataset` (``"ml-100k"``, ...) or
            ``"synthetic"`` / ``"synthetic:n_users=200,n_items=300"`` for the seeded synthetic
            world of :mod:`llmrec.data.synthetic`.
        seed: Seed of the synthetic world (ignored for catalogue datasets).

    Returns:
        The full dataset; split it with :func:`llmrec.data.leave_one_out`.
    """
    if name == "synthetic" or name.startswith("synthetic:"):
        from llmrec.data.synthetic import SyntheticConfig, generate_world

        options: dict[str, Any] = {"seed": seed}
        for part in filter(None, name.partition(":")[2].split(",")):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"dataset {name!r}: expected key=value after ':', got {part!r}")
            options[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
        return generate_world(SyntheticConfig(**options)).dataset
    from llmrec.data import load_dataset

    return load_dataset(name)


def sample_train_eval_users(
    split: Split, n_train: int, n_eval: int, seed: int, min_history: int = 2
) -> tuple[list[str], list[str]]:
    """Disjoint training and evaluation users, drawn with a seeded generator.

    Evaluation users are drawn from users that have a held-out test item; training users from
    the rest. Training examples come from training users' ``split.train`` histories only, and
    evaluation users' test items are scored against their ``split.train`` histories, so no
    held-out interaction reaches training.

    Args:
        split: A split from :func:`llmrec.data.leave_one_out`.
        n_train: Training users wanted (fewer when the dataset has fewer).
        n_eval: Evaluation users wanted (fewer when fewer users have a held-out item).
        seed: Seed for the draw.
        min_history: Minimum training interactions a user needs to be drawn at all.

    Returns:
        ``(train_users, eval_users)``, each in a seeded random order.
    """
    if n_train < 0 or n_eval < 0:
        raise ValueError(f"n_train and n_eval must be >= 0, got {n_train} and {n_eval}")
    sizes = split.train.interactions.groupby("user_id").size()
    eligible = sorted(sizes.index[sizes >= min_history])
    held = set(split.test.interactions["user_id"])
    order = sample_users(eligible, len(eligible), seed, keep_order=False)  # a seeded shuffle
    eval_users = [u for u in order if u in held][:n_eval]
    taken = set(eval_users)
    train_users = [u for u in order if u not in taken][:n_train]
    return train_users, eval_users


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def check_device(training_args: Any, model_args: Any, require_gpu: bool = False) -> None:
    """Fail early, naming the field, when a config needs a GPU that is not there.

    Args:
        training_args: A trl config (``SFTConfig``, ``DPOConfig``).
        model_args: trl's ``ModelConfig``.
        require_gpu: The recipe's own ``require_gpu`` flag (set in the GPU configs).

    Raises:
        RuntimeError: On a machine without CUDA when the config asks for bf16, fp16, 4/8-bit
            loading or ``require_gpu``; the message names the field and the CPU config to use.
    """
    if has_cuda():
        return
    wanted = [
        f"{field}: true"
        for field, value in (
            ("require_gpu", require_gpu),
            ("bf16", getattr(training_args, "bf16", False)),
            ("fp16", getattr(training_args, "fp16", False)),
            ("load_in_4bit", getattr(model_args, "load_in_4bit", False)),
            ("load_in_8bit", getattr(model_args, "load_in_8bit", False)),
        )
        if value
    ]
    if wanted:
        raise RuntimeError(
            f"this config needs a CUDA GPU ({', '.join(wanted)}) and none is available; "
            "on CPU use a config_*cpu*.yaml or config_tiny.yaml, or set those fields to false "
            "and use_cpu: true"
        )
    if getattr(training_args, "gradient_checkpointing", False):
        logger.warning("gradient_checkpointing on CPU costs about 2.3x in speed for no benefit")


def load_model_and_tokenizer(model_args: Any, training_args: Any):
    """Load ``(model, tokenizer)`` as trl's ``ModelConfig`` describes, resolving llmrec aliases.

    ``model_args.model_name_or_path`` may be an alias (``"smollm2-135m-instruct"``,
    ``"tiny-random-llama"``), a hub id or a folder. The tokenizer pads on the right (training);
    evaluation helpers pad as they need.
    """
    import torch
    from transformers import AutoModelForCausalLM
    from trl import get_quantization_config

    from llmrec.models import load_tokenizer, resolve_model

    path = resolve_model(model_args.model_name_or_path)
    dtype = model_args.dtype or ("bfloat16" if getattr(training_args, "bf16", False) else None)
    kwargs: dict[str, Any] = {
        "dtype": getattr(torch, dtype) if dtype and dtype != "auto" else (dtype or torch.float32),
        "trust_remote_code": bool(getattr(model_args, "trust_remote_code", False)),
        "attn_implementation": model_args.attn_implementation,
    }
    quantization = get_quantization_config(model_args)
    if quantization is not None:
        from accelerate import PartialState

        kwargs["quantization_config"] = quantization
        kwargs["device_map"] = {"": PartialState().local_process_index}
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    tokenizer = load_tokenizer(path)
    tokenizer.padding_side = "right"
    if model.generation_config.pad_token_id is None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model, tokenizer


def trainable_fingerprint(model: Any) -> str:
    """SHA-256 over the names and bytes of a model's trainable parameters, in name order."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters(), key=lambda kv: kv[0]):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def make_rank_fingerprint_callback(output_dir: str | os.PathLike):
    """A ``TrainerCallback`` writing ``<output_dir>/rank_fingerprints/rank<r>.json`` at the end.

    Each file holds the world size, the rank and :func:`trainable_fingerprint` of that rank's
    model, so a test (or a user debugging DDP) can check that all replicas ended identical.
    """
    from transformers import TrainerCallback

    folder = Path(output_dir) / "rank_fingerprints"

    class RankFingerprintCallback(TrainerCallback):
        def on_train_end(self, args, state, control, model=None, **kwargs):
            import torch.distributed as dist

            world = dist.get_world_size() if dist.is_initialized() else 1
            rank = dist.get_rank() if dist.is_initialized() else 0
            folder.mkdir(parents=True, exist_ok=True)
            record = {"world_size": world, "rank": rank, "sha256": trainable_fingerprint(model)}
            (folder / f"rank{rank}.json").write_text(json.dumps(record))

    return RankFingerprintCallback()


def losses(log_history: Sequence[dict[str, Any]]) -> list[float]:
    """The training losses a trainer logged, in step order."""
    return [float(row["loss"]) for row in log_history if "loss" in row]


def write_metrics(path: str | os.PathLike, metrics: dict[str, Any]) -> None:
    """Write a recipe's final metrics as pretty JSON (creating the folder)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(metrics, indent=2, sort_keys=True, default=float) + "\n")


def is_main_process() -> bool:
    """Rank 0 of a distributed run, or the only process."""
    from accelerate import PartialState

    return PartialState().is_main_process


def interval_metrics(key: str, interval: Interval) -> dict[str, float]:
    """An :class:`~llmrec.metrics.stats.Interval` as flat trainer metrics.

    Trainer logs and ``metrics.json`` hold flat ``{name: float}`` rows, so the interval is
    ``{key: value, key_ci_low: low, key_ci_high: high}``.
    """
    return {key: interval.value, f"{key}_ci_low": interval.low, f"{key}_ci_high": interval.high}


def before_after_metrics(
    before: np.ndarray, after: np.ndarray, name: str, seed: int = 0
) -> dict[str, float]:
    """``before_<name>``, ``after_<name>`` and ``diff_<name>`` (paired), each with a 95% CI.

    All three use the same user resamples (one seed), so the difference is paired.
    """
    cis = paired_bootstrap_ci({"before": before, "after": after}, seed=seed)
    out: dict[str, float] = {}
    for label, interval in (
        ("before", cis["before"]),
        ("after", cis["after"]),
        ("diff", paired_difference_ci(after, before, seed=seed)),
    ):
        out.update(interval_metrics(f"{label}_{name}", interval))
    return out


def parse_recipe_args(parser: Any, args: Sequence[str] | None = None) -> tuple:
    """``parser.parse_args_and_config(args)``, turning transformers' bf16-on-CPU error into ours.

    transformers refuses ``bf16: true`` without a GPU while it builds the config, before the
    recipe can look at it; the message then names the config file and the CPU alternative.
    """
    import sys

    try:
        return parser.parse_args_and_config(args)
    except ValueError as err:
        if "bf16" not in str(err) or has_cuda():
            raise
        argv = list(sys.argv[1:] if args is None else args)
        config = argv[argv.index("--config") + 1] if "--config" in argv[:-1] else "the config"
        raise RuntimeError(
            f"{config} needs a CUDA GPU (bf16: true) and none is available; on CPU use a "
            "config_*cpu*.yaml or config_tiny.yaml, or set bf16: false and use_cpu: true"
        ) from err
