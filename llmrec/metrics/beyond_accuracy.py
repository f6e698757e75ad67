"""Beyond-accuracy metrics on top-k lists: coverage, exposure Gini, novelty, diversity, popularity.

Inputs are ``topk``, an ``(n_users, K)`` matrix of item indices in ranked order (``-1`` pads
short lists), and item-level side information (interaction counts, embeddings). Per-user metrics
return ``(n_users,)`` arrays; catalogue-level metrics (coverage, Gini) return a float.

Example:
    >>> import numpy as np
    >>> from llmrec.metrics.beyond_accuracy import catalog_coverage, gini_index
    >>> topk = np.array([[0, 1], [0, 2]])
    >>> catalog_coverage(topk, n_items=4, k=2)
    0.75
    >>> round(gini_index(topk, n_items=4, k=2), 4)
    0.375
"""

from __future__ import annotations

import numpy as np


def _cut(topk: np.ndarray, k: int) -> np.ndarray:
    top = np.asarray(topk)
    if top.ndim != 2:
        raise ValueError(f"topk must be (n_users, K), got shape {top.shape}")
    if int(k) != k or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")
    return top[:, : int(k)]


def exposure(topk: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """How many top-``k`` lists each item appears in, shape ``(n_items,)``."""
    top = _cut(topk, k)
    return np.bincount(top[top >= 0].ravel(), minlength=n_items)[:n_items]


def catalog_coverage(topk: np.ndarray, n_items: int, k: int) -> float:
    """Catalogue coverage@k: share of catalogue items recommended to at least one user."""
    return float((exposure(topk, n_items, k) > 0).sum() / n_items)


def gini_index(topk: np.ndarray, n_items: int, k: int) -> float:
    """Gini coefficient of item exposure in top-``k`` lists (0 = even, 1 = one item only).

    With exposures sorted increasingly ``x_(1) <= ... <= x_(n)`` over all ``n`` catalogue items,
    ``G = sum_i (2i - n - 1) x_(i) / (n sum_i x_i)``.
    """
    x = np.sort(exposure(topk, n_items, k)).astype(np.float64)
    total = x.sum()
    if total == 0:
        return 0.0
    i = np.arange(1, n_items + 1)
    return float(((2 * i - n_items - 1) * x).sum() / (n_items * total))


def _list_mean(values: np.ndarray, top: np.ndarray) -> np.ndarray:
    valid = top >= 0
    picked = np.where(valid, values[np.where(valid, top, 0)], 0.0)
    count = valid.sum(axis=1)
    return np.divide(picked.sum(axis=1), count, out=np.zeros(len(top)), where=count > 0)


def novelty(topk: np.ndarray, popularity: np.ndarray, n_users: int, k: int) -> np.ndarray:
    """Mean self-information of the recommended items: ``mean_i -log2(p_i)``.

    ``p_i = max(pop_i, 1) / n_users`` is the share of training users who interacted with item
    ``i`` (an unseen item counts as seen once, so novelty stays finite).

    Args:
        topk: Ranked item indices.
        popularity: Training interaction count per item, ``(n_items,)``.
        n_users: Users in the training data.
        k: Cut-off.
    """
    info = -np.log2(np.maximum(np.asarray(popularity, dtype=np.float64), 1.0) / n_users)
    return _list_mean(info, _cut(topk, k))


def average_popularity(topk: np.ndarray, popularity: np.ndarray, k: int) -> np.ndarray:
    """Average recommendation popularity (ARP@k): mean training count of the listed items."""
    return _list_mean(np.asarray(popularity, dtype=np.float64), _cut(topk, k))


def long_tail_items(popularity: np.ndarray, head_fraction: float = 0.2) -> np.ndarray:
    """Boolean mask of long-tail items: all but the ``head_fraction`` most popular items."""
    if not 0 <= head_fraction < 1:
        raise ValueError(f"head_fraction must be in [0, 1), got {head_fraction}")
    pop = np.asarray(popularity)
    n_head = int(round(head_fraction * len(pop)))
    order = np.argsort(-pop, kind="stable")
    tail = np.ones(len(pop), dtype=bool)
    tail[order[:n_head]] = False
    return tail


def long_tail_share(
    topk: np.ndarray, popularity: np.ndarray, k: int, head_fraction: float = 0.2
) -> np.ndarray:
    """Share of listed items from the long tail (APLT@k; tail per :func:`long_tail_items`)."""
    tail = long_tail_items(popularity, head_fraction).astype(np.float64)
    return _list_mean(tail, _cut(topk, k))


def intra_list_diversity(
    topk: np.ndarray, embeddings: np.ndarray, k: int, chunk_size: int = 2048
) -> np.ndarray:
    """Intra-list diversity: mean pairwise cosine distance ``1 - cos(e_i, e_j)`` within a list.

    ``ILD = (1 / (L (L - 1))) sum_{i != j} (1 - cos(e_i, e_j))`` over the ``L`` listed items;
    lists with fewer than two items get 0.

    Args:
        topk: Ranked item indices.
        embeddings: ``(n_items, dim)`` item vectors (normalised here).
        k: Cut-off.
        chunk_size: Users per block (memory ``chunk * k * dim`` floats).
    """
    top = _cut(topk, k)
    emb = np.asarray(embeddings, dtype=np.float64)
    norms = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = emb / np.where(norms > 0, norms, 1.0)
    out = np.zeros(len(top))
    for start in range(0, len(top), chunk_size):
        t = top[start : start + chunk_size]
        valid = t >= 0
        e = emb[np.where(valid, t, 0)] * valid[..., None]  # (chunk, k, dim)
        gram = np.einsum("ukd,uld->ukl", e, e)  # (chunk, k, k)
        n = valid.sum(axis=1).astype(np.float64)
        pairs = n * (n - 1)
        off_diag_sim = gram.sum(axis=(1, 2)) - np.einsum("ukk->u", gram)
        out[start : start + chunk_size] = np.divide(
            pairs - off_diag_sim, pairs, out=np.zeros(len(t)), where=pairs > 0
        )
    return out
