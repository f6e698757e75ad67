"""A content-based recommender on sentence embeddings of item text (MiniLM by default).

Each item's title, year, genres and attributes are encoded once; a user is the mean of the
normalised embeddings of their most recent training items; scores are cosine similarities.

Example:
    >>> rec = TextEmbeddingRecommender("all-minilm-l6-v2").fit(split.train)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset, Item
from llmrec.evaluation.recommenders.base import Recommender

logger = logging.getLogger(__name__)


def item_text(item: Item) -> str:
    """The text encoded for an item: ``"Title (year). Genres: a, b. key: value."``."""
    parts = [item.title + (f" ({item.year})" if item.year else "")]
    if item.genres:
        parts.append("Genres: " + ", ".join(item.genres))
    if item.description:
        parts.append(item.description)
    for key, value in item.attributes.items():
        parts.append(f"{key}: {value}")
    return ". ".join(parts)


class TextEmbeddingRecommender(Recommender):
    """User = mean of history item embeddings; score = cosine similarity to each item.

    Args:
        model: Sentence-transformers alias, hub id or path (``"all-minilm-l6-v2"``).
        history: Most recent training items averaged into the user vector.
        batch_size: Encoding batch size.
        device: Encoding device (default CPU).
        encoder: An already loaded ``SentenceTransformer`` (then ``model`` is only a label).
    """

    name = "text_embedding"

    def __init__(
        self,
        model: str = "all-minilm-l6-v2",
        history: int = 50,
        batch_size: int = 64,
        device: str = "cpu",
        encoder: Any = None,
    ) -> None:
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        self.model = model
        self.history = history
        self.batch_size = batch_size
        self.device = device
        self._encoder = encoder

    def config(self) -> dict[str, Any]:
        return {k: v for k, v in super().config().items() if k != "_encoder"}

    def _fit(self, train: InteractionDataset) -> None:
        encoder = self._encoder
        if encoder is None:
            from llmrec.models import load_sentence_transformer

            encoder = load_sentence_transformer(self.model, device=self.device)
        texts = [item_text(train.items[i]) for i in train.item_ids]
        emb = encoder.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True
        )
        self.item_embeddings_ = np.asarray(emb, dtype=np.float32)  # (n_items, dim)
        codes, users = train.item_codes(), train.user_codes()
        user_vecs = np.zeros((self.n_users_, emb.shape[1]), dtype=np.float32)
        bounds = np.flatnonzero(np.diff(users)) + 1  # sorted by user, then time
        if len(users):
            for seq, u in zip(np.split(codes, bounds), users[np.r_[0, bounds]]):
                user_vecs[u] = self.item_embeddings_[seq[-self.history :]].mean(axis=0)
        norms = np.linalg.norm(user_vecs, axis=1, keepdims=True)
        self.user_embeddings_ = user_vecs / np.where(norms > 0, norms, 1.0)  # (n_users, dim)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        return self.user_embeddings_[np.asarray(user_idx)] @ self.item_embeddings_.T
