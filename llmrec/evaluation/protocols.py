"""Ranking protocols: full ranking (default) and sampled ranking, with an explicit tie policy.

Both protocols consume scores chunk by chunk (``score_fn(user_idx) -> (chunk, n_items)``), so
the whole ``(n_users, n_items)`` score matrix never exists: memory is one chunk of scores plus
the per-user outputs (ranks of held-out items, a top-k list).

Tie policy for an item tied with others at the same score:

- ``"pessimistic"`` (default): every tied non-relevant item is ranked above it;
- ``"optimistic"``: every tied non-relevant item is ranked below it;
- ``"random"``: a seeded random order of the tied items.

Tied relevant items are ordered among themselves by their position in the held-out list (random
order for ``"random"``), so the ranks in one row are always distinct positions of one ranking.
For one held-out item, the pessimistic rank is ``1 + |{j != t : s_j >= s_t}|``.

Ranks from scores under these policies are :func:`llmrec.metrics.ranking.rank_targets`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from llmrec.data.sampling import STRATEGIES, sample_masked_negatives
from llmrec.metrics.ranking import check_tie as _check_tie
from llmrec.metrics.ranking import rank_targets

logger = logging.getLogger(__name__)

ScoreFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class FullRanking:
    """Rank every catalogue item for every user; the user's training items are masked.

    Args:
        tie: Tie policy (``"pessimistic"``, ``"optimistic"``, ``"random"``).
        seed: Seed of the ``"random"`` tie policy.
        chunk_size: Users scored at once; memory is about ``chunk_size * n_items * 9`` bytes.
        mask_train: Exclude the user's training items from the ranking (held-out items are
            never masked, even when the user also has them in training).
    """

    tie: str = "pessimistic"
    seed: int = 0
    chunk_size: int = 1024
    mask_train: bool = True

    def __post_init__(self) -> None:
        _check_tie(self.tie)
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")

    def describe(self) -> dict:
        return {"protocol": "full", **asdict(self)}


@dataclass(frozen=True)
class SampledRanking:
    """Rank each held-out item against ``n_negatives`` sampled items (on request only).

    Negatives exclude the user's training and held-out items; they are drawn without
    replacement, uniformly or proportionally to training popularity, from a per-user seeded
    stream (so results do not depend on the chunk size). Metrics are computed per held-out
    item and averaged per user; beside each raw value the Krichene-Rendle corrected estimate
    of the full-ranking value is reported (:func:`krichene_rendle_correction`).

    Args:
        n_negatives: Negatives per user (``m``).
        sampler: ``"uniform"`` or ``"popularity"``.
        seed: Sampling (and random tie) seed.
        tie: Tie policy.
        chunk_size: Users scored at once.
        correction_gamma: Variance weight of the bias-variance corrected estimator.
    """

    n_negatives: int = 100
    sampler: str = "uniform"
    seed: int = 0
    tie: str = "pessimistic"
    chunk_size: int = 1024
    correction_gamma: float = 0.01

    def __post_init__(self) -> None:
        _check_tie(self.tie)
        if self.sampler not in STRATEGIES:
            raise ValueError(f"sampler {self.sampler!r} is not one of {STRATEGIES}")
        if self.n_negatives < 1:
            raise ValueError(f"n_negatives must be >= 1, got {self.n_negatives}")
        if self.chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {self.chunk_size}")

    def describe(self) -> dict:
        return {"protocol": "sampled", **asdict(self), "correction": "krichene-rendle-bv"}


@dataclass(frozen=True)
class RankingOutput:
    """What a protocol hands to the metrics.

    Attributes:
        ranks: ``(n_users, R)`` ranks of held-out items (``nan`` padding).
        n_candidates: ``(n_users,)`` items each user's ranking ranged over.
        topk: ``(n_users, K)`` recommended item indices (``-1`` pads), full ranking only.
    """

    ranks: np.ndarray
    n_candidates: np.ndarray
    topk: np.ndarray | None = None


def topk_items(scores: np.ndarray, k: int, excluded: np.ndarray | None = None) -> np.ndarray:
    """The ``k`` best items per row, best first, ``-1`` padding.

    Equal scores are ordered by item index, also at the cut-off (the lowest-index tied items get
    in). Works in the scores' dtype, without a negated copy.

    Args:
        scores: ``(n, n_items)`` scores.
        k: List length.
        excluded: ``(n, n_items)`` items never recommended (training items).

    Returns:
        ``(n, k)`` int64 item indices.
    """
    s = np.asarray(scores)
    if excluded is not None:
        s = np.where(excluded, -np.inf, s)
    n, n_items = s.shape
    k_eff = min(k, n_items)
    if k_eff < n_items:
        part = np.argpartition(s, n_items - k_eff, axis=1)[:, n_items - k_eff :]  # (n, k)
        threshold = np.take_along_axis(s, part, axis=1).min(axis=1, keepdims=True)  # (n, 1)
        at_cut = s == threshold
        # Rows where more items tie at the cut-off than were taken: fill by lowest index.
        redo = np.flatnonzero(
            at_cut.sum(axis=1) > (s[np.arange(n)[:, None], part] == threshold).sum(axis=1)
        )
        if len(redo):
            sub, cut = s[redo], at_cut[redo]
            need = k_eff - (sub > threshold[redo]).sum(axis=1, keepdims=True)
            chosen = (sub > threshold[redo]) | (cut & (np.cumsum(cut, axis=1) <= need))
            part[redo] = np.nonzero(chosen)[1].reshape(len(redo), k_eff)
    else:
        part = np.broadcast_to(np.arange(n_items), (n, n_items))
    part_scores = np.take_along_axis(s, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    top = np.take_along_axis(part, order, axis=1)
    top = np.where(np.isneginf(np.take_along_axis(s, top, axis=1)), -1, top)
    if k_eff < k:
        top = np.hstack([top, np.full((n, k - k_eff), -1, dtype=top.dtype)])
    return top.astype(np.int64)


def training_mask(train_matrix, users: np.ndarray, n_items: int) -> np.ndarray:
    """Dense ``(len(users), n_items)`` boolean mask of the users' training items (one chunk)."""
    block = np.zeros((len(users), n_items), dtype=bool)
    sub = train_matrix[users]
    rows = np.repeat(np.arange(len(users)), np.diff(sub.indptr))
    block[rows, sub.indices] = True
    return block


def full_ranking(
    score_fn: ScoreFn,
    users: np.ndarray,
    targets: np.ndarray,
    n_items: int,
    protocol: FullRanking = FullRanking(),
    train_matrix=None,
    k_max: int = 100,
    progress: bool = False,
    desc: str = "full ranking",
    offset: int = 0,
) -> RankingOutput:
    """Rank all items for ``users`` chunk by chunk; ranks of ``targets`` and top-``k_max`` lists.

    Args:
        score_fn: ``score_fn(user_idx) -> (len(user_idx), n_items)`` scores.
        users: ``(n_users,)`` user indices.
        targets: ``(n_users, R)`` held-out item indices, ``-1`` padding.
        n_items: Catalogue size.
        protocol: :class:`FullRanking` settings.
        train_matrix: Sparse ``(all_users, n_items)`` training interactions (for masking).
        k_max: Length of the kept top-k lists.
        progress: Show a tqdm bar.
        desc: Progress bar label.
        offset: Position of ``users[0]`` in the whole evaluation, when this call ranks one
            part of it (Ray workers): random tie-breaking then draws what one call would.
    """
    from tqdm.auto import tqdm

    users = np.asarray(users, dtype=np.int64)
    ranks = np.empty(targets.shape, dtype=np.float64)
    n_cand = np.empty(len(users), dtype=np.int64)
    topk = np.empty((len(users), k_max), dtype=np.int64)
    starts = range(0, len(users), protocol.chunk_size)
    for start in tqdm(starts, desc=desc, disable=not progress, unit="chunk"):
        stop = start + protocol.chunk_size
        u = users[start:stop]
        scores = np.asarray(score_fn(u))  # (chunk, n_items)
        if scores.shape != (len(u), n_items):
            raise ValueError(
                f"score_fn returned shape {scores.shape}, expected {(len(u), n_items)}"
            )
        excl = None
        if protocol.mask_train and train_matrix is not None:
            excl = training_mask(train_matrix, u, n_items)
        rng = None
        if protocol.tie == "random":
            rng = np.random.default_rng([protocol.seed, offset + start])
        ranks[start:stop] = rank_targets(scores, targets[start:stop], protocol.tie, excl, rng)
        if excl is not None:  # held-out items stay rankable even if seen in training
            t = targets[start:stop]
            rows = np.broadcast_to(np.arange(len(u))[:, None], t.shape)
            excl[rows[t >= 0], t[t >= 0]] = False
        n_cand[start:stop] = n_items - (0 if excl is None else excl.sum(axis=1))
        topk[start:stop] = topk_items(scores, k_max, excl)
    return RankingOutput(ranks=ranks, n_candidates=n_cand, topk=topk)


def sampled_ranking(
    score_fn: ScoreFn,
    users: np.ndarray,
    targets: np.ndarray,
    n_items: int,
    protocol: SampledRanking,
    train_matrix=None,
    popularity: np.ndarray | None = None,
    progress: bool = False,
    desc: str = "sampled ranking",
) -> RankingOutput:
    """Rank each target among ``m`` sampled negatives; ranks are per target (``(n, R)``).

    Each held-out item is ranked against the negatives only (not against the user's other
    held-out items); ``n_candidates`` is ``m + 1``.
    """
    from tqdm.auto import tqdm

    users = np.asarray(users, dtype=np.int64)
    m = protocol.n_negatives
    ranks = np.empty(targets.shape, dtype=np.float64)
    starts = range(0, len(users), protocol.chunk_size)
    for start in tqdm(starts, desc=desc, disable=not progress, unit="chunk"):
        stop = start + protocol.chunk_size
        u = users[start:stop]
        t = targets[start:stop]
        scores = np.asarray(score_fn(u), dtype=np.float64)  # (chunk, n_items)
        if scores.shape != (len(u), n_items):
            raise ValueError(
                f"score_fn returned shape {scores.shape}, expected {(len(u), n_items)}"
            )
        forbidden = (
            training_mask(train_matrix, u, n_items)
            if train_matrix is not None
            else np.zeros((len(u), n_items), dtype=bool)
        )
        rows = np.broadcast_to(np.arange(len(u))[:, None], t.shape)
        forbidden[rows[t >= 0], t[t >= 0]] = True
        neg = sample_masked_negatives(u, forbidden, m, protocol.sampler, popularity, protocol.seed)
        neg_scores = np.where(neg >= 0, np.take_along_axis(scores, np.maximum(neg, 0), 1), np.nan)
        rng = np.random.default_rng([protocol.seed, start, 1])
        for j in range(t.shape[1]):
            ts = scores[np.arange(len(u)), np.maximum(t[:, j], 0)][:, None]  # (chunk, 1)
            greater = (neg_scores > ts).sum(axis=1)
            tied = (neg_scores == ts).sum(axis=1)
            if protocol.tie == "pessimistic":
                rank = 1 + greater + tied
            elif protocol.tie == "optimistic":
                rank = 1 + greater
            else:
                rank = 1 + greater + rng.integers(0, tied + 1)
            ranks[start:stop, j] = np.where(t[:, j] >= 0, rank, np.nan)
    return RankingOutput(ranks=ranks, n_candidates=np.full(len(users), m + 1))


@lru_cache(maxsize=256)
def _kr_weights(metric: str, n: int, m: int, gamma: float) -> np.ndarray:
    from scipy.stats import binom

    from llmrec.metrics import evaluate

    full_ranks = np.arange(1, n + 1, dtype=np.float64)  # true rank R among n candidates
    target = np.asarray(evaluate([metric], ranks=full_ranks, n_candidates=n)[metric])  # M(R)
    p = (full_ranks - 1) / max(n - 1, 1)  # chance a uniform negative beats the target
    r = np.arange(m + 1)  # sampled rank - 1
    a = binom.pmf(r[None, :], m, p[:, None])  # (n, m + 1): P(sampled rank = r + 1 | R)
    lhs = (1 - gamma) * a.T @ a + gamma * np.diag(a.sum(axis=0))
    rhs = a.T @ target
    return np.linalg.lstsq(lhs, rhs, rcond=None)[0]  # (m + 1,) corrected value per sampled rank


def krichene_rendle_correction(
    metric: str,
    sampled_ranks: np.ndarray,
    n_candidates: np.ndarray | int,
    n_negatives: int,
    gamma: float = 0.01,
) -> np.ndarray:
    """Corrected per-target estimates of a full-ranking metric from sampled ranks.

    Krichene and Rendle (KDD 2020, "On Sampled Metrics for Item Recommendation"), bias-variance
    estimator: with ``A[R, r] = Binom(r - 1; m, (R - 1)/(n - 1))`` the probability that a target
    of true rank ``R`` among ``n`` candidates gets sampled rank ``r``, the corrected values
    ``x_r`` minimise ``sum_R (E[x | R] - M(R))^2 + gamma Var[x | R]``, i.e.
    ``x = ((1 - gamma) A^T A + gamma diag(1^T A))^{-1} A^T M``. The estimate of a user is
    ``x[r_s]``; its mean over users estimates the full-ranking metric.

    Args:
        metric: A single-target metric name (``"hr@10"``, ``"ndcg@10"``, ``"mrr"``, ...).
        sampled_ranks: ``(n_users, R)`` sampled ranks (``nan`` padding).
        n_candidates: Full-ranking candidates per user (catalogue minus training items).
        n_negatives: ``m``.
        gamma: Variance weight (0 = minimal-bias estimator).

    Returns:
        ``(n_users, R)`` corrected estimates (``nan`` at padding).
    """
    r = np.asarray(sampled_ranks, dtype=np.float64)
    if r.ndim == 1:
        r = r[:, None]
    n = np.broadcast_to(np.asarray(n_candidates, dtype=np.int64), (len(r),))
    out = np.full(r.shape, np.nan)
    for value in np.unique(n):
        rows = n == value
        w = _kr_weights(metric, int(value), int(n_negatives), float(gamma))
        block = r[rows]
        ok = ~np.isnan(block)
        idx = np.clip(np.where(ok, block, 1).astype(np.int64) - 1, 0, n_negatives)
        out[rows] = np.where(ok, w[idx], np.nan)
    return out
