"""Accuracy metrics on ranks of relevant items: one pure, vectorised function per metric.

Every function takes ``ranks``, the 1-based positions of each user's relevant (held-out) items
in that user's ranking, and returns one value per user; averaging and confidence intervals are
separate steps (:mod:`llmrec.metrics.stats`).

Conventions of ``ranks`` (shape ``(n_users,)`` for one relevant item per user, or
``(n_users, n_slots)``):

- a finite value ``r >= 1`` is the position of a relevant item;
- ``np.inf`` is a relevant item that was not retrieved (outside a top-k list);
- ``np.nan`` pads rows with fewer relevant items than ``n_slots``; padding never counts.

Within one row, finite ranks must be distinct (they are positions in one list);
:func:`rank_targets`, which makes ranks from scores, guarantees it for every tie policy.

Example:
    >>> import numpy as np
    >>> from llmrec.metrics.ranking import ndcg, hit_rate
    >>> ranks = np.array([1.0, 3.0, np.inf])
    >>> hit_rate(ranks, k=2).tolist()
    [1.0, 0.0, 0.0]
    >>> ndcg(ranks, k=5).round(4).tolist()
    [1.0, 0.5, 0.0]
"""

from __future__ import annotations

import numpy as np

TIE_POLICIES = ("pessimistic", "optimistic", "random")


def check_tie(tie: str) -> str:
    """``tie`` if it is one of :data:`TIE_POLICIES`, else ``ValueError`` naming them."""
    if tie not in TIE_POLICIES:
        raise ValueError(f"tie policy {tie!r} is not one of {TIE_POLICIES}")
    return tie


def as_rank_matrix(ranks: np.ndarray) -> np.ndarray:
    """Validate ``ranks`` and view it as a float ``(n_users, n_slots)`` matrix (no copy if 2-D).

    Raises:
        ValueError: on ranks below 1 or more than two dimensions.
    """
    arr = np.asarray(ranks, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"ranks must be 1-D or 2-D, got shape {arr.shape}")
    finite = arr[np.isfinite(arr)]
    if finite.size and finite.min() < 1:
        raise ValueError(f"ranks are 1-based; got a rank of {finite.min()}")
    return arr


def _check_k(k: int) -> int:
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return int(k)


def n_relevant(ranks: np.ndarray) -> np.ndarray:
    """Number of relevant items per user (non-padding slots), shape ``(n_users,)``."""
    return (~np.isnan(as_rank_matrix(ranks))).sum(axis=1)


def _gain_matrix(r: np.ndarray, gains: np.ndarray | None) -> np.ndarray:
    if gains is None:
        return (~np.isnan(r)).astype(np.float64)
    g = np.asarray(gains, dtype=np.float64)
    if g.ndim == 1:
        g = g[:, None]
    if g.shape != r.shape:
        raise ValueError(f"gains shape {g.shape} differs from ranks shape {r.shape}")
    return np.where(np.isnan(r), 0.0, g)


def hits_at_k(ranks: np.ndarray, k: int) -> np.ndarray:
    """Number of relevant items in the top ``k``: ``sum_i 1[r_i <= k]``."""
    r = as_rank_matrix(ranks)
    return (r <= _check_k(k)).sum(axis=1).astype(np.float64)


def hit_rate(ranks: np.ndarray, k: int) -> np.ndarray:
    """Hit rate (HR@k): ``1[min_i r_i <= k]``, 1 when any relevant item is in the top ``k``."""
    r = as_rank_matrix(ranks)
    return (r <= _check_k(k)).any(axis=1).astype(np.float64)


def recall(ranks: np.ndarray, k: int) -> np.ndarray:
    """Recall@k: ``|{i : r_i <= k}| / R``, with ``R`` the number of relevant items (0 if R = 0)."""
    r = as_rank_matrix(ranks)
    n_rel = (~np.isnan(r)).sum(axis=1)
    hits = (r <= _check_k(k)).sum(axis=1)
    return np.divide(hits, n_rel, out=np.zeros(len(r)), where=n_rel > 0)


def precision(ranks: np.ndarray, k: int) -> np.ndarray:
    """Precision@k: ``|{i : r_i <= k}| / k``."""
    return hits_at_k(ranks, k) / _check_k(k)


def ndcg(ranks: np.ndarray, k: int, gains: np.ndarray | None = None) -> np.ndarray:
    """Normalised discounted cumulative gain, NDCG@k (Järvelin and Kekäläinen, linear gains).

    ``DCG@k = sum_{i : r_i <= k} g_i / log2(r_i + 1)`` and ``NDCG@k = DCG@k / IDCG@k``, where
    ``IDCG@k`` places the gains in decreasing order at ranks ``1..min(k, R)``. Binary relevance
    (``gains=None``) gives ``g_i = 1``; with one relevant item at rank ``r`` this is
    ``1[r <= k] / log2(r + 1)``. Users without relevant items (or with zero gains) get 0.

    Args:
        ranks: Ranks of relevant items (see the module docstring).
        k: Cut-off.
        gains: Graded relevance of each slot of ``ranks`` (same shape); ``None`` for binary.
    """
    r = as_rank_matrix(ranks)
    k = _check_k(k)
    g = _gain_matrix(r, gains)
    with np.errstate(invalid="ignore", divide="ignore"):
        dcg = np.where(r <= k, g / np.log2(r + 1.0), 0.0).sum(axis=1)
    ideal = -np.sort(-g, axis=1)[:, :k]  # (n_users, min(k, n_slots)) gains in decreasing order
    idcg = (ideal / np.log2(np.arange(2, ideal.shape[1] + 2))).sum(axis=1)
    return np.divide(dcg, idcg, out=np.zeros(len(r)), where=idcg > 0)


def mrr(ranks: np.ndarray, k: int | None = None) -> np.ndarray:
    """Mean reciprocal rank per user (RR@k): ``1 / min_i r_i`` if ``min_i r_i <= k`` else 0."""
    r = as_rank_matrix(ranks)
    first = np.fmin.reduce(r, axis=1, initial=np.inf)  # NaN padding ignored
    limit = np.inf if k is None else _check_k(k)
    return np.where(first <= limit, 1.0 / first, 0.0)


def average_precision(ranks: np.ndarray, k: int | None = None) -> np.ndarray:
    """Average precision (AP@k): ``(1/R) sum_{j : r_(j) <= k} j / r_(j)``.

    ``r_(1) < r_(2) < ...`` are the sorted ranks of the ``R`` relevant items, so ``j / r_(j)`` is
    the precision at the ``j``-th hit. The denominator is all ``R`` relevant items (as in ranx and
    trec_eval), not ``min(k, R)``. MAP is its mean over users.
    """
    r = np.sort(as_rank_matrix(ranks), axis=1)  # NaN padding sorts last
    n_rel = (~np.isnan(r)).sum(axis=1)
    limit = np.inf if k is None else _check_k(k)
    j = np.arange(1, r.shape[1] + 1, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        prec = np.where(r <= limit, j / r, 0.0).sum(axis=1)
    return np.divide(prec, n_rel, out=np.zeros(len(r)), where=n_rel > 0)


def auc(ranks: np.ndarray, n_candidates: np.ndarray | int) -> np.ndarray:
    """Per-user AUC: the share of (relevant, non-relevant) pairs ordered correctly.

    With sorted ranks ``r_(j)`` among ``N`` ranked candidates, ``R`` of them relevant, the
    ``j``-th relevant item has ``r_(j) - j`` non-relevant items above it, so
    ``AUC = (1/R) sum_j (N - R - r_(j) + j) / (N - R)``. Needs ranks over all candidates (full
    or sampled ranking, not top-k lists): an unretrieved item (``inf``) counts as ranked last.

    Args:
        ranks: Ranks of relevant items.
        n_candidates: Items ranked per user (catalogue minus masked items), scalar or per user.
    """
    r = np.sort(as_rank_matrix(ranks), axis=1)
    n_rel = (~np.isnan(r)).sum(axis=1)
    n = np.broadcast_to(np.asarray(n_candidates, dtype=np.float64), (len(r),))
    n_neg = n - n_rel
    j = np.arange(1, r.shape[1] + 1, dtype=np.float64)
    r = np.where(np.isinf(r), n[:, None], r)
    with np.errstate(invalid="ignore"):
        below = np.where(np.isnan(r), 0.0, n_neg[:, None] - (r - j))
    ok = (n_rel > 0) & (n_neg > 0)
    denom = n_rel * n_neg
    return np.divide(below.sum(axis=1), denom, out=np.full(len(r), np.nan), where=ok)


def pad_relevant(lists: list, fill: int = -1) -> np.ndarray:
    """Stack ragged lists of item indices into an ``(n_users, max_len)`` int matrix padded by ``fill``."""
    width = max((len(x) for x in lists), default=0)
    out = np.full((len(lists), max(width, 1)), fill, dtype=np.int64)
    for i, x in enumerate(lists):
        out[i, : len(x)] = x
    return out


def ranks_from_topk(topk: np.ndarray, relevant: np.ndarray, chunk_size: int = 4096) -> np.ndarray:
    """Ranks of relevant items in top-k lists: position + 1, ``inf`` if absent, ``nan`` padding.

    Args:
        topk: ``(n_users, K)`` item indices in ranked order (``-1`` pads short lists).
        relevant: ``(n_users, R)`` relevant item indices, ``-1`` for padding (see
            :func:`pad_relevant`), or ``(n_users,)`` for one relevant item per user.
        chunk_size: Users per vectorised block (memory ``chunk * R * K`` booleans).

    Returns:
        ``(n_users, R)`` float ranks.
    """
    top = np.asarray(topk)
    rel = np.asarray(relevant)
    if rel.ndim == 1:
        rel = rel[:, None]
    if top.ndim != 2 or len(top) != len(rel):
        raise ValueError(f"topk {top.shape} and relevant {rel.shape} must have the same rows")
    out = np.empty(rel.shape, dtype=np.float64)
    for start in range(0, len(top), chunk_size):
        t = top[start : start + chunk_size]
        q = rel[start : start + chunk_size]
        eq = (t[:, None, :] == q[:, :, None]) & (t[:, None, :] >= 0)  # (chunk, R, K)
        found = eq.any(axis=2)
        pos = eq.argmax(axis=2) + 1.0
        block = np.where(found, pos, np.inf)
        out[start : start + chunk_size] = np.where(q < 0, np.nan, block)
    return out


def rank_targets(
    scores: np.ndarray,
    targets: np.ndarray,
    tie: str = "pessimistic",
    excluded: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Ranks of target items in each row's ranking of all non-excluded items, from scores.

    The one place llmrec turns scores into ranks. Tie policies (:data:`TIE_POLICIES`):
    ``"pessimistic"`` ranks every tied non-target above the target (for one target,
    ``rank = 1 + |{j != t : s_j >= s_t}|``), ``"optimistic"`` below it
    (``1 + |{j : s_j > s_t}|``), ``"random"`` orders ties by seeded random keys. Tied targets of
    one row are ordered by their position in ``targets``, so a row's ranks are distinct.

    Args:
        scores: ``(n, n_items)`` scores, higher is better; excluded items may hold any value.
        targets: ``(n, R)`` target item indices, ``-1`` for padding.
        tie: Tie policy.
        excluded: ``(n, n_items)`` boolean mask of items left out of the ranking (training
            items); targets are never excluded.
        rng: Generator for the ``"random"`` tie policy.

    Returns:
        ``(n, R)`` float ranks, 1-based, ``nan`` at padding (``(n, 1)`` for 1-D ``targets``).

    Example:
        >>> scores = np.array([[0.5, 0.9, 0.5, 0.1]])
        >>> rank_targets(scores, np.array([2]), tie="pessimistic").tolist()
        [[3.0]]
        >>> rank_targets(scores, np.array([2]), tie="optimistic").tolist()
        [[2.0]]
    """
    check_tie(tie)
    s = np.asarray(scores)
    tgt = np.asarray(targets)
    if tgt.ndim == 1:
        tgt = tgt[:, None]
    n, n_items = s.shape
    if np.isnan(s).any():
        bad = np.argwhere(np.isnan(s))[0]
        raise ValueError(f"scores contain NaN (row {bad[0]}, item {bad[1]})")
    valid = tgt >= 0
    safe = np.where(valid, tgt, 0)
    rows = np.arange(n)[:, None]
    candidate = None
    if excluded is not None:
        candidate = ~np.asarray(excluded, dtype=bool)  # a new array: targets are unmasked below
        candidate[np.broadcast_to(rows, tgt.shape)[valid], tgt[valid]] = True
        s = np.where(candidate, s, -np.inf)
    t_scores = s[rows, safe]  # (n, R)
    keys = rng.random(s.shape) if tie == "random" else None  # (n, n_items) tie-break keys
    out = np.full(tgt.shape, np.nan)
    for j in range(tgt.shape[1]):
        t = t_scores[:, j : j + 1]  # (n, 1)
        greater = (s > t).sum(axis=1)  # excluded items sit at -inf, never above
        tied = s == t
        if candidate is not None:
            tied &= candidate
        same = valid & (t_scores == t)  # tied targets in this row, (n, R)
        if tie == "pessimistic":
            rank = greater + tied.sum(axis=1) - same[:, j + 1 :].sum(axis=1)
        elif tie == "optimistic":
            rank = greater + 1 + same[:, :j].sum(axis=1)
        else:
            k_t = keys[np.arange(n), safe[:, j]][:, None]
            rank = greater + 1 + (tied & (keys < k_t)).sum(axis=1)
        out[:, j] = np.where(valid[:, j], rank, np.nan)
    return out
