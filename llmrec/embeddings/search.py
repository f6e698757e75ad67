"""Exact top-k search over embedding tables, in chunks; FAISS optional.

:func:`topk` scores queries against all keys in chunks of queries (``chunk_size`` rows of the
score matrix at a time, so 100k x 100k searches run in bounded memory) and keeps the top ``k``
per query, optionally excluding known items (a user's training history). It is exact: the same
result as sorting the full score matrix, up to the order among exactly tied scores.

:class:`FaissIndex` wraps ``faiss.IndexFlatIP`` for users who install the ``faiss`` extra
(``pip install 'llmrec[faiss]'``); it is exact too, and faster on large CPU tables.

Example:
    >>> import numpy as np
    >>> from llmrec.embeddings.search import topk
    >>> keys = np.eye(3, dtype=np.float32)
    >>> scores, idx = topk(np.array([[0.1, 0.9, 0.5]], np.float32), keys, k=2)
    >>> idx.tolist()
    [[1, 2]]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

METRICS = ("dot", "cosine")


def _normalise(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def _exclusion_rows(exclude: Any, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) pairs to mask for query rows ``start:stop`` (rows relative to ``start``)."""
    if exclude is None:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if hasattr(exclude, "tocsr"):
        block = exclude.tocsr()[start:stop].tocoo()
        return block.row.astype(np.int64), block.col.astype(np.int64)
    rows, cols = [], []
    for r, items in enumerate(exclude[start:stop]):
        items = np.asarray(items, dtype=np.int64)
        rows.append(np.full(len(items), r, np.int64))
        cols.append(items)
    if not rows:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def topk(
    queries: np.ndarray,
    keys: np.ndarray,
    k: int = 10,
    metric: str = "cosine",
    exclude: Any = None,
    chunk_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` keys for each query.

    Args:
        queries: ``(n_queries, dim)``.
        keys: ``(n_keys, dim)``.
        k: Results per query (capped at ``n_keys``).
        metric: ``"cosine"`` or ``"dot"``.
        exclude: Keys never returned for a query: a scipy sparse ``(n_queries, n_keys)`` matrix
            (non-zeros are excluded) or a sequence of index arrays, one per query. Excluded
            slots that still make it into the top ``k`` (fewer than ``k`` keys left) get score
            ``-inf``.
        chunk_size: Query rows scored at once.

    Returns:
        ``(scores, indices)``, both ``(n_queries, k)``, best first.
    """
    import torch

    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; allowed: {list(METRICS)}")
    queries = np.asarray(queries, dtype=np.float32)
    keys = np.asarray(keys, dtype=np.float32)
    if queries.ndim != 2 or keys.ndim != 2 or queries.shape[1] != keys.shape[1]:
        raise ValueError(f"need (n, d) queries and (m, d) keys, got {queries.shape}, {keys.shape}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    if metric == "cosine":
        queries, keys = _normalise(queries), _normalise(keys)
    k = min(k, keys.shape[0])
    key_t = torch.from_numpy(keys)  # (m, d)
    out_scores = np.empty((queries.shape[0], k), np.float32)
    out_index = np.empty((queries.shape[0], k), np.int64)
    with torch.inference_mode():
        for start in range(0, queries.shape[0], chunk_size):
            stop = min(start + chunk_size, queries.shape[0])
            scores = torch.from_numpy(queries[start:stop]) @ key_t.T  # (chunk, m)
            rows, cols = _exclusion_rows(exclude, start, stop)
            if len(rows):
                scores[torch.from_numpy(rows), torch.from_numpy(cols)] = float("-inf")
            top = torch.topk(scores, k, dim=1)
            out_scores[start:stop] = top.values.numpy()
            out_index[start:stop] = top.indices.numpy()
    return out_scores, out_index


class FaissIndex:
    """Exact inner-product search with FAISS (``IndexFlatIP``), behind the ``faiss`` extra.

    Args:
        keys: ``(n_keys, dim)`` vectors.
        metric: ``"cosine"`` (vectors normalised first) or ``"dot"``.

    Example:
        >>> index = FaissIndex(item_vectors)  # doctest: +SKIP
        >>> scores, idx = index.search(user_vectors, k=10)  # doctest: +SKIP
    """

    def __init__(self, keys: np.ndarray, metric: str = "cosine") -> None:
        try:
            import faiss
        except ImportError as err:
            raise ImportError(
                "FaissIndex needs faiss: pip install 'llmrec[faiss]' (or use llmrec.embeddings.topk)"
            ) from err
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; allowed: {list(METRICS)}")
        self.metric = metric
        keys = np.ascontiguousarray(keys, dtype=np.float32)
        if metric == "cosine":
            keys = np.ascontiguousarray(_normalise(keys))
        self.index = faiss.IndexFlatIP(keys.shape[1])
        self.index.add(keys)

    def search(self, queries: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """``(scores, indices)`` of shape ``(n_queries, k)``, best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.metric == "cosine":
            queries = np.ascontiguousarray(_normalise(queries))
        scores, index = self.index.search(queries, k)
        return scores, index.astype(np.int64)


def search_ids(
    queries: np.ndarray, keys: np.ndarray, key_ids: Sequence[str], k: int = 10, **kwargs: Any
) -> list[list[tuple[str, float]]]:
    """:func:`topk` with ids: one ``[(key_id, score), ...]`` list per query, best first."""
    scores, index = topk(queries, keys, k=k, **kwargs)
    return [
        [(key_ids[j], float(s)) for j, s in zip(row_i, row_s) if np.isfinite(s)]
        for row_i, row_s in zip(index, scores)
    ]
