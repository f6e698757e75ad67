"""Reference points: random and most-popular recommenders.

Example:
    >>> rec = MostPopular().fit(split.train)  # doctest: +SKIP
"""

from __future__ import annotations

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender


class RandomRecommender(Recommender):
    """Uniform random scores from a per-user stream seeded by ``(seed, user)``.

    Args:
        seed: Base seed; a user's scores do not depend on chunking or other users.
    """

    name = "random"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def _fit(self, train: InteractionDataset) -> None:
        pass

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        out = np.empty((len(user_idx), self.n_items_), dtype=np.float32)
        for i, u in enumerate(np.asarray(user_idx)):
            out[i] = np.random.default_rng([self.seed, int(u)]).random(self.n_items_)
        return out


class MostPopular(Recommender):
    """Scores every user by the item's number of training interactions."""

    name = "most_popular"

    def _fit(self, train: InteractionDataset) -> None:
        self.popularity_ = np.asarray(self.matrix_.sum(axis=0)).ravel().astype(np.float32)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return np.broadcast_to(self.popularity_, (len(user_idx), self.n_items_)).copy()
