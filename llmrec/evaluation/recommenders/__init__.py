"""Recommenders with ``fit(train)`` and ``score(user_idx) -> (n, n_items)``; one module per family.

Built by type name from suite files through :func:`build_recommender`.

Example:
    >>> from llmrec.evaluation.recommenders import build_recommender
    >>> build_recommender("ease", {"l2": 200.0})
    EASE(l2=200.0)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from llmrec.evaluation.recommenders.adapters import (
    CallableRecommender,
    PrecomputedRankings,
    read_rankings,
)
from llmrec.evaluation.recommenders.base import Recommender
from llmrec.evaluation.recommenders.bpr import BPRMF
from llmrec.evaluation.recommenders.llm_reranker import LLMReranker
from llmrec.evaluation.recommenders.neighbourhood import EASE, ItemKNN
from llmrec.evaluation.recommenders.sasrec import SASRec
from llmrec.evaluation.recommenders.simple import MostPopular, RandomRecommender
from llmrec.evaluation.recommenders.text_embedding import TextEmbeddingRecommender

RECOMMENDERS: dict[str, type[Recommender]] = {
    "random": RandomRecommender,
    "most_popular": MostPopular,
    "item_knn": ItemKNN,
    "ease": EASE,
    "bpr_mf": BPRMF,
    "sasrec": SASRec,
    "text_embedding": TextEmbeddingRecommender,
    "llm_reranker": LLMReranker,
    "precomputed": PrecomputedRankings,
}


def build_recommender(kind: str, params: Mapping[str, Any] | None = None) -> Recommender:
    """A recommender from its type name and keyword parameters (as in a suite file).

    ``llm_reranker`` takes ``base: {type: ..., params: {...}}``, ``backend`` as a spec string
    and ``profiles`` as a path to a profiles JSONL (:mod:`llmrec.profiles.store`).

    Raises:
        ValueError: unknown type (listing the valid ones) or parameter.
    """
    cls = RECOMMENDERS.get(kind)
    if cls is None:
        raise ValueError(f"unknown recommender type {kind!r}; valid: {', '.join(RECOMMENDERS)}")
    kwargs = dict(params or {})
    if cls is LLMReranker:
        base = kwargs.pop("base", {"type": "ease"})
        if not isinstance(base, Mapping) or "type" not in base:
            raise ValueError(f"llm_reranker: base must be {{type: ..., params: ...}}, got {base!r}")
        kwargs["base"] = build_recommender(base["type"], base.get("params"))
        if isinstance(kwargs.get("profiles"), str):
            from llmrec.context.profile_files import read_profile_texts

            kwargs["profiles"] = read_profile_texts(kwargs["profiles"])
        kwargs.setdefault("backend", "smollm2-135m-instruct")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ValueError(f"recommender {kind!r}: bad parameters {sorted(kwargs)}: {err}") from err


__all__ = [
    "BPRMF",
    "EASE",
    "RECOMMENDERS",
    "CallableRecommender",
    "ItemKNN",
    "LLMReranker",
    "MostPopular",
    "PrecomputedRankings",
    "RandomRecommender",
    "Recommender",
    "SASRec",
    "TextEmbeddingRecommender",
    "build_recommender",
    "read_rankings",
]
