"""The recommender interface every baseline and adapter implements.

A recommender is fitted on training interactions only and then scores users in chunks:
``score(user_idx)`` returns a dense ``(len(user_idx), n_items)`` float matrix whose column ``j``
is ``train.item_ids[j]`` and whose row ``i`` is ``train.user_ids[user_idx[i]]`` (the split parts
share the catalogue and users, so indices agree across train and held-out data). The protocols
mask training items; a recommender need not.

Example:
    >>> from llmrec.evaluation.recommenders import MostPopular
    >>> rec = MostPopular().fit(split.train)  # doctest: +SKIP
    >>> rec.score(np.array([0, 1])).shape  # doctest: +SKIP
    (2, 1682)
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset


class Recommender(abc.ABC):
    """Base class: ``fit(train) -> self`` and ``score(user_idx) -> (n, n_items)``.

    Subclasses implement :meth:`_fit` and :meth:`score`; :meth:`fit` keeps the catalogue size,
    the binary training matrix and the training dataset for them.
    """

    name: str = "recommender"

    def fit(self, train: InteractionDataset) -> Recommender:
        """Learn from ``train`` (the training part of a split only)."""
        self.train_ = train
        self.n_items_ = len(train.item_ids)
        self.n_users_ = len(train.user_ids)
        self.matrix_ = train.interaction_matrix(binary=True).tocsr()  # (n_users, n_items)
        self._fit(train)
        return self

    @abc.abstractmethod
    def _fit(self, train: InteractionDataset) -> None:
        """Family-specific training."""

    @abc.abstractmethod
    def score(self, user_idx: np.ndarray) -> np.ndarray:
        """Scores ``(len(user_idx), n_items)``, higher is better."""

    def score_users(self, user_ids: Sequence[str]) -> np.ndarray:
        """Scores for users given by id (``train.user_ids`` entries) instead of index."""
        self._check_fitted()
        index = self.train_.user_index
        unknown = [u for u in user_ids if str(u) not in index]
        if unknown:
            raise ValueError(f"unknown user id(s) {unknown[:5]}; not in the training dataset")
        return self.score(np.array([index[str(u)] for u in user_ids], dtype=np.int64))

    def config(self) -> dict[str, Any]:
        """Hyper-parameters, recorded in results."""
        return {k: v for k, v in vars(self).items() if not k.endswith("_") and k != "name"}

    def _check_fitted(self) -> None:
        if not hasattr(self, "matrix_"):
            raise ValueError(f"{type(self).__name__} is not fitted; call fit(split.train) first")

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"
