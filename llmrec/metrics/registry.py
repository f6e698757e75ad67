"""Metrics by name (``"ndcg@10"``, ``"mrr"``, ``"coverage@20"``) and one entry point to compute them.

Example:
    >>> import numpy as np
    >>> from llmrec.metrics import evaluate
    >>> out = evaluate(["hr@1", "ndcg@10", "mrr"], ranks=np.array([1.0, 4.0]))
    >>> {k: v.round(3).tolist() for k, v in out.items()}
    {'hr@1': [1.0, 0.0], 'ndcg@10': [1.0, 0.431], 'mrr': [1.0, 0.25]}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec.metrics import beyond_accuracy as ba
from llmrec.metrics import ranking as rk


@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes:
        name: Canonical name.
        kind: ``"rank"`` (from ranks of relevant items, per user), ``"topk"`` (from top-k lists,
            per user) or ``"catalog"`` (from top-k lists, one value for the whole run).
        k: ``"required"``, ``"optional"`` or ``"none"`` (whether ``@k`` is allowed).
        compute: ``compute(inputs, k) -> array | float``, ``inputs`` a dict of named arrays.
        needs: Names of the inputs it reads.
    """

    name: str
    kind: str
    k: str
    compute: Callable[[dict[str, Any], int | None], Any]
    needs: tuple[str, ...]


def _spec(name, kind, k, needs, compute) -> MetricSpec:
    return MetricSpec(name, kind, k, compute, tuple(needs))


_SPECS = [
    _spec("hr", "rank", "required", ["ranks"], lambda x, k: rk.hit_rate(x["ranks"], k)),
    _spec("recall", "rank", "required", ["ranks"], lambda x, k: rk.recall(x["ranks"], k)),
    _spec("precision", "rank", "required", ["ranks"], lambda x, k: rk.precision(x["ranks"], k)),
    _spec(
        "ndcg", "rank", "required", ["ranks"], lambda x, k: rk.ndcg(x["ranks"], k, x.get("gains"))
    ),
    _spec("mrr", "rank", "optional", ["ranks"], lambda x, k: rk.mrr(x["ranks"], k)),
    _spec("map", "rank", "optional", ["ranks"], lambda x, k: rk.average_precision(x["ranks"], k)),
    _spec(
        "auc",
        "rank",
        "none",
        ["ranks", "n_candidates"],
        lambda x, k: rk.auc(x["ranks"], x["n_candidates"]),
    ),
    _spec(
        "coverage",
        "catalog",
        "required",
        ["topk", "n_items"],
        lambda x, k: ba.catalog_coverage(x["topk"], x["n_items"], k),
    ),
    _spec(
        "gini",
        "catalog",
        "required",
        ["topk", "n_items"],
        lambda x, k: ba.gini_index(x["topk"], x["n_items"], k),
    ),
    _spec(
        "novelty",
        "topk",
        "required",
        ["topk", "popularity", "n_users"],
        lambda x, k: ba.novelty(x["topk"], x["popularity"], x["n_users"], k),
    ),
    _spec(
        "arp",
        "topk",
        "required",
        ["topk", "popularity"],
        lambda x, k: ba.average_popularity(x["topk"], x["popularity"], k),
    ),
    _spec(
        "long_tail",
        "topk",
        "required",
        ["topk", "popularity"],
        lambda x, k: ba.long_tail_share(x["topk"], x["popularity"], k),
    ),
    _spec(
        "ild",
        "topk",
        "required",
        ["topk", "embeddings"],
        lambda x, k: ba.intra_list_diversity(x["topk"], x["embeddings"], k),
    ),
]

METRICS: dict[str, MetricSpec] = {s.name: s for s in _SPECS}
ALIASES = {"hit_rate": "hr", "hit": "hr", "hitrate": "hr", "ap": "map", "rr": "mrr"}


def available_metrics() -> list[str]:
    """Registered names, with ``@k`` where a cut-off is required."""
    return [f"{s.name}@k" if s.k == "required" else s.name for s in _SPECS]


def parse_metric(name: str) -> tuple[MetricSpec, int | None]:
    """``"ndcg@10"`` -> (spec of ndcg, 10).

    Raises:
        ValueError: unknown name (listing the valid ones), malformed or missing cut-off.
    """
    base, sep, k_text = str(name).strip().lower().partition("@")
    base = ALIASES.get(base, base)
    spec = METRICS.get(base)
    if spec is None:
        raise ValueError(f"unknown metric {name!r}; valid: {', '.join(available_metrics())}")
    k = None
    if sep:
        if not k_text.isdigit() or int(k_text) < 1:
            raise ValueError(f"metric {name!r}: the cut-off after '@' must be a positive integer")
        k = int(k_text)
        if spec.k == "none":
            raise ValueError(f"metric {name!r}: {spec.name} takes no cut-off; use {spec.name!r}")
    elif spec.k == "required":
        raise ValueError(f"metric {name!r} needs a cut-off, e.g. '{spec.name}@10'")
    return spec, k


def max_cutoff(metrics: Iterable[str]) -> int:
    """Largest ``k`` among metric names (0 if none has one)."""
    return max((parse_metric(m)[1] or 0 for m in metrics), default=0)


def evaluate(metrics: Iterable[str], **inputs: Any) -> dict[str, np.ndarray | float]:
    """Compute named metrics from the inputs they need; per-user arrays or catalogue floats.

    Args:
        metrics: Names such as ``"ndcg@10"``, ``"mrr"``, ``"coverage@20"``.
        **inputs: ``ranks`` (and optional ``gains``, ``n_candidates``) for accuracy metrics;
            ``topk``, ``n_items``, ``popularity``, ``n_users``, ``embeddings`` for the others.

    Returns:
        ``{name: values}`` in the order asked, keyed by the name as given.

    Raises:
        ValueError: unknown metric, or an input a metric needs is missing.
    """
    out: dict[str, np.ndarray | float] = {}
    for name in metrics:
        spec, k = parse_metric(name)
        missing = [n for n in spec.needs if inputs.get(n) is None]
        if missing:
            raise ValueError(f"metric {name!r} needs input(s) {missing}; got {sorted(inputs)}")
        out[name] = spec.compute(inputs, k)
    return out
