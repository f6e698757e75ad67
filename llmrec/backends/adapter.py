"""A Transformers backend with a LoRA adapter merged into its base model's weights.

The judge, profile and any other command taking ``--adapter`` build their backend here, so an
adapter trained by a recipe (trl / peft ``output_dir``) serves exactly like a base model: the
same batching, shared-prefix scoring and response cache. Merging (rather than keeping peft's
LoRA layers) makes inference as fast as the base model's, and the backend's fingerprint hashes
the merged weights, so cached replies of the base model are never reused for the adapted one.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["adapter_backend"]


def adapter_backend(
    model: str, adapter: str, cache: str | os.PathLike | None = None, **kwargs: Any
):
    """A Transformers backend over ``model`` with the LoRA ``adapter`` merged into its weights.

    Args:
        model: Alias, hub id or folder of the base model.
        adapter: Folder with ``adapter_config.json`` (a peft / trl output directory).
        cache: Response cache file, or ``None``.
        **kwargs: ``device``, ``dtype``, ``quantization`` (for loading) and ``batch_size``.

    Raises:
        ValueError: ``adapter`` holds no ``adapter_config.json``.
    """
    from peft import PeftModel

    from llmrec.backends import load_backend
    from llmrec.backends.hf import TransformersBackend
    from llmrec.models import load_causal_lm

    if not os.path.isfile(os.path.join(adapter, "adapter_config.json")):
        raise ValueError(
            f"--adapter {adapter}: no adapter_config.json in that folder (expected a LoRA "
            "output_dir written by a recipe)"
        )
    batch_size = kwargs.pop("batch_size", None)
    base, tokenizer = load_causal_lm(model, **kwargs)
    merged = PeftModel.from_pretrained(base, adapter).merge_and_unload()
    merged.eval()
    backend = TransformersBackend.from_model(merged, tokenizer, batch_size=batch_size)
    return load_backend(backend, cache=cache)
