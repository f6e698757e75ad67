"""Item-based collaborative filtering: item-kNN and EASE.

Example:
    >>> rec = EASE(l2=500.0).fit(split.train)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender


class ItemKNN(Recommender):
    """Item-kNN with shrunk cosine similarity, keeping the ``neighbours`` most similar items.

    ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)``; the score of item ``j`` for
    user ``u`` is ``sum_{i in history(u)} sim(i, j)`` over the kept neighbours.

    Args:
        neighbours: Neighbours kept per item.
        shrink: Shrinkage term of the similarity denominator.
    """

    name = "item_knn"

    def __init__(self, neighbours: int = 100, shrink: float = 10.0) -> None:
        if neighbours < 1:
            raise ValueError(f"neighbours must be >= 1, got {neighbours}")
        self.neighbours = neighbours
        self.shrink = shrink

    def _fit(self, train: InteractionDataset) -> None:
        from scipy.sparse import csr_matrix

        x = self.matrix_.astype(np.float32)
        co = (x.T @ x).toarray()  # (n_items, n_items) co-occurrence counts
        norms = np.sqrt(np.diag(co))
        sim = co / (np.outer(norms, norms) + self.shrink + 1e-12)
        np.fill_diagonal(sim, 0.0)
        k = min(self.neighbours, self.n_items_ - 1)
        if k < self.n_items_ - 1:
            drop = np.argpartition(-sim, k, axis=0)[k:]  # (n_items - k, n_items) per column
            np.put_along_axis(sim, drop, 0.0, axis=0)
        self.similarity_ = csr_matrix(sim.astype(np.float32))

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray((self.matrix_[user_idx] @ self.similarity_).todense(), np.float32)


class EASE(Recommender):
    """EASE (Steck, WWW 2019): a closed-form item-item linear model with a zero diagonal.

    ``P = (X^T X + l2 I)^{-1}``, ``B_ij = -P_ij / P_jj`` (``B_jj = 0``); scores ``X_u B``.
    Memory and time grow with ``n_items^2`` / ``n_items^3``: fine up to tens of thousands.

    Args:
        l2: L2 regularisation ``lambda``.
    """

    name = "ease"

    def __init__(self, l2: float = 500.0) -> None:
        if l2 <= 0:
            raise ValueError(f"l2 must be > 0, got {l2}")
        self.l2 = l2

    def _fit(self, train: InteractionDataset) -> None:
        x = self.matrix_.astype(np.float64)
        gram = (x.T @ x).toarray()  # (n_items, n_items)
        gram[np.diag_indices_from(gram)] += self.l2
        p = np.linalg.inv(gram)
        b = -p / np.diag(p)[None, :]
        np.fill_diagonal(b, 0.0)
        self.weights_ = b.astype(np.float32)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.asarray(self.matrix_[user_idx] @ self.weights_, dtype=np.float32)
