"""Evaluate one fitted recommender on held-out interactions: protocol, then metrics.

Example:
    >>> from llmrec.evaluation import evaluate_recommender, FullRanking
    >>> from llmrec.evaluation.recommenders import EASE
    >>> rec = EASE().fit(split.train)  # doctest: +SKIP
    >>> res = evaluate_recommender(rec, split.train, split.test, ["ndcg@10", "hr@10"])  # doctest: +SKIP
    >>> res.per_user["ndcg@10"].mean()  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.protocols import (
    FullRanking,
    RankingOutput,
    SampledRanking,
    full_ranking,
    krichene_rendle_correction,
    sampled_ranking,
)
from llmrec.metrics.ranking import pad_relevant
from llmrec.metrics.registry import evaluate, parse_metric

logger = logging.getLogger(__name__)

RELEVANCE = ("binary", "rating")


@dataclass(frozen=True)
class Targets:
    """Held-out items of the evaluated users.

    Attributes:
        users: ``(n_users,)`` user indices (into ``train.user_ids``).
        items: ``(n_users, R)`` item indices, ``-1`` padding.
        gains: ``(n_users, R)`` graded relevance (ratings) or ``None`` for binary.
    """

    users: np.ndarray
    items: np.ndarray
    gains: np.ndarray | None = None


def heldout_targets(
    heldout: InteractionDataset, relevance: str = "binary", users: Sequence[str] | None = None
) -> Targets:
    """Group held-out interactions by user (repeated items kept once, at their first time).

    Args:
        heldout: The held-out part of a split (same catalogue and users as training).
        relevance: ``"binary"`` or ``"rating"`` (gains = the held-out rating).
        users: Restrict to these user ids (in this order); default every held-out user.
    """
    if relevance not in RELEVANCE:
        raise ValueError(f"relevance {relevance!r} is not one of {RELEVANCE}")
    frame = heldout.interactions.drop_duplicates(["user_id", "item_id"])
    if relevance == "rating" and frame["rating"].isna().any():
        raise ValueError(f"relevance='rating' but {heldout.name} has interactions without rating")
    groups = frame.groupby("user_id", sort=False)
    order = list(groups.groups) if users is None else [u for u in users if u in groups.groups]
    item_lists, gain_lists = [], []
    for uid in order:
        g = groups.get_group(uid)
        item_lists.append(g["item_id"].map(heldout.item_index).to_numpy(np.int64))
        gain_lists.append(g["rating"].to_numpy(np.float64))
    items = pad_relevant(item_lists)
    gains = None
    if relevance == "rating":
        gains = np.zeros(items.shape)
        for i, g in enumerate(gain_lists):
            gains[i, : len(g)] = g
    user_idx = np.array([heldout.user_index[u] for u in order], dtype=np.int64)
    return Targets(user_idx, items, gains)


@dataclass
class SystemResult:
    """Per-user metric values of one system (plus catalogue-level values and timings).

    Attributes:
        name: System label.
        users: ``(n_users,)`` evaluated user indices (the same for every system of a suite).
        per_user: ``{metric: (n_users,)}``.
        catalog: ``{metric: float}`` for catalogue-level metrics (coverage, Gini).
        corrected: ``{metric: (n_users,)}`` Krichene-Rendle estimates (sampled protocol only).
        topk: ``(n_users, K)`` recommended lists (full ranking only).
        protocol: The protocol's description.
        config: The recommender's hyper-parameters.
        seconds: ``{"fit": ..., "evaluate": ...}``.
    """

    name: str
    users: np.ndarray
    per_user: dict[str, np.ndarray]
    catalog: dict[str, float] = field(default_factory=dict)
    corrected: dict[str, np.ndarray] = field(default_factory=dict)
    topk: np.ndarray | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def mean(self, metric: str) -> float:
        if metric in self.catalog:
            return self.catalog[metric]
        return float(np.mean(self.per_user[metric]))


def _per_target(metric: str, ranks: np.ndarray, n_candidates: np.ndarray) -> np.ndarray:
    """Metric of each (user, held-out item) pair as a single-target ranking, mean per user."""
    n, width = ranks.shape
    flat = ranks.reshape(-1)
    cands = np.repeat(n_candidates, width)
    values = np.asarray(evaluate([metric], ranks=flat, n_candidates=cands)[metric]).reshape(
        n, width
    )
    values = np.where(np.isnan(ranks), np.nan, values)
    return np.nanmean(values, axis=1)


def compute_metrics(
    metrics: Sequence[str],
    ranking: RankingOutput,
    train: InteractionDataset,
    gains: np.ndarray | None = None,
    item_embeddings: np.ndarray | None = None,
    per_target: bool = False,
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Split named metrics into per-user arrays and catalogue-level floats.

    Args:
        metrics: Metric names.
        ranking: A protocol's output.
        train: Training data (popularity and user count for beyond-accuracy metrics).
        gains: Graded relevance for NDCG.
        item_embeddings: For ``ild@k``.
        per_target: Score every held-out item as its own single-target ranking (sampled).
    """
    popularity = train.item_popularity()
    inputs = {
        "ranks": ranking.ranks,
        "gains": gains,
        "n_candidates": ranking.n_candidates,
        "topk": ranking.topk,
        "n_items": len(train.item_ids),
        "popularity": popularity,
        "n_users": len(train.active_users()),
        "embeddings": item_embeddings,
    }
    per_user: dict[str, np.ndarray] = {}
    catalog: dict[str, float] = {}
    for name in metrics:
        spec, _ = parse_metric(name)
        if spec.kind != "rank" and ranking.topk is None:
            raise ValueError(f"metric {name!r} needs top-k lists, which only full ranking gives")
        if spec.kind == "rank" and per_target:
            per_user[name] = _per_target(name, ranking.ranks, ranking.n_candidates)
            continue
        value = evaluate([name], **inputs)[name]
        if spec.kind == "catalog":
            catalog[name] = float(value)
        else:
            per_user[name] = np.asarray(value, dtype=np.float64)
    return per_user, catalog


def evaluate_recommender(
    recommender,
    train: InteractionDataset,
    heldout: InteractionDataset,
    metrics: Sequence[str],
    protocol: FullRanking | SampledRanking | None = None,
    targets: Targets | None = None,
    k_max: int | None = None,
    item_embeddings: np.ndarray | None = None,
    name: str | None = None,
    progress: bool = False,
) -> SystemResult:
    """Rank held-out items with a fitted recommender and compute the metrics.

    Args:
        recommender: Anything with ``score(user_idx) -> (n, n_items)`` (fitted on ``train``).
        train: The data it was fitted on (its items are masked in full ranking).
        heldout: Held-out interactions.
        metrics: Metric names (``"ndcg@10"``, ``"coverage@10"``, ...).
        protocol: :class:`FullRanking` (default) or :class:`SampledRanking`.
        targets: Precomputed :func:`heldout_targets` (to share one user order across systems).
        k_max: Length of the kept top-k lists (default: the largest cut-off asked, at least 10).
        item_embeddings: Item vectors for ``ild@k``.
        name: Label (default ``recommender.name``).
        progress: Show progress bars.
    """
    protocol = protocol or FullRanking()
    targets = targets or heldout_targets(heldout)
    n_items = len(train.item_ids)
    label = name or getattr(recommender, "name", type(recommender).__name__)
    if k_max is None:
        k_max = max([parse_metric(m)[1] or 0 for m in metrics] + [10])
    start = time.perf_counter()
    train_matrix = train.interaction_matrix(binary=True)
    if isinstance(protocol, SampledRanking):
        ranking = sampled_ranking(
            recommender.score, targets.users, targets.items, n_items, protocol, train_matrix,
            train.item_popularity(), progress, desc=label,
        )  # fmt: skip
    else:
        ranking = full_ranking(
            recommender.score, targets.users, targets.items, n_items, protocol, train_matrix,
            min(k_max, n_items), progress, desc=label,
        )  # fmt: skip
    sampled = isinstance(protocol, SampledRanking)
    per_user, catalog = compute_metrics(
        metrics, ranking, train, targets.gains, item_embeddings, per_target=sampled
    )
    corrected = {}
    if sampled:
        n_full = n_items - np.diff(train_matrix[targets.users].indptr)  # candidates if full
        for metric in per_user:
            est = krichene_rendle_correction(
                metric, ranking.ranks, n_full, protocol.n_negatives, protocol.correction_gamma
            )
            corrected[metric] = np.nanmean(est, axis=1)
    config = recommender.config() if hasattr(recommender, "config") else {}
    return SystemResult(
        name=label,
        users=targets.users,
        per_user=per_user,
        catalog=catalog,
        corrected=corrected,
        topk=ranking.topk,
        protocol=protocol.describe(),
        config=config,
        seconds={"evaluate": time.perf_counter() - start},
    )
