"""Instruction-aware user embeddings (InstructUE-style): u = f(user data, instruction).

- :mod:`~llmrec.embeddings.sources`: user data as text per source (profile, history, attributes).
- :mod:`~llmrec.embeddings.encoder`: :class:`UserEncoder` on sentence-transformers.
- :mod:`~llmrec.embeddings.fusion`: :class:`FusionAdapter`, the multi-source adapter.
- :mod:`~llmrec.embeddings.userqa`: UserQA triples from interaction data.
- :mod:`~llmrec.embeddings.losses` and :mod:`~llmrec.embeddings.train`: contrastive (and
  optional autoregressive) training through ``SentenceTransformerTrainer``.
- :mod:`~llmrec.embeddings.store` and :mod:`~llmrec.embeddings.search`: embedding tables and
  exact top-k search.
- :mod:`~llmrec.embeddings.evaluate`: probes, retrieval, instruction sensitivity.

Names are imported lazily, so ``import llmrec.embeddings`` does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "UserEncoder": "encoder",
    "history_mean": "encoder",
    "FusionAdapter": "fusion",
    "EmbeddingTable": "store",
    "topk": "search",
    "FaissIndex": "search",
    "UserQAExample": "userqa",
    "build_userqa": "userqa",
    "paraphrase_instructions": "userqa",
    "user_sources": "sources",
    "instruction_prefix": "instructions",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = importlib.import_module(f"llmrec.embeddings.{_EXPORTS[name]}")
        return getattr(module, name)
    raise AttributeError(f"module 'llmrec.embeddings' has no attribute {name!r}")
