"""What every training recipe does around its trainer: device checks, model loading, argument
parsing, rank checks and writing metrics.

- :func:`check_device` fails early, naming the field, when a config asks for GPU-only features
  (bf16, fp16, 4/8-bit loading, ``require_gpu``) on a machine without CUDA;
- :func:`load_model_and_tokenizer` resolves llmrec aliases and loads the model the way the trl
  config asks for (safetensors only); :func:`scoring_backend` wraps the model a recipe holds
  as a backend, so its evaluation scores through :class:`~llmrec.context.scoring.AnswerScorer`;
- :func:`parse_recipe_args` parses ``TrlParser`` arguments, naming the config on a bf16-on-CPU error;
- :func:`make_rank_fingerprint_callback` writes a hash of each rank's trainable weights, to check
  that DDP replicas ended identical.

Datasets and users for recipes are in :mod:`llmrec.training.data`; intervals in recipe metrics
in :mod:`llmrec.training.reporting`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


def scoring_backend(model: Any, tokenizer: Any, batch_size: int | None = None):
    """A :class:`~llmrec.backends.hf.TransformersBackend` over the model a recipe holds.

    Evaluation inside a recipe scores and samples through the backend protocol like every other
    caller (:class:`~llmrec.context.scoring.AnswerScorer`). The tokenizer is copied because the
    backend pads on the left and trl's collators expect the training tokenizer unchanged.
    """
    import copy

    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend.from_model(model, copy.deepcopy(tokenizer), batch_size=batch_size)


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
        "use_safetensors": True,  # never unpickle weights: safetensors only, as everywhere in llmrec
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
