"""Non-LLM scores of (user, item) pairs that every judge validity table shows beside the judge.

A judge is only worth its cost where it separates good from bad items better than these:

- ``popularity``: the item's number of training interactions;
- ``item_mean``: the item's mean training rating (shrunk to the global mean by ``prior``
  pseudo-ratings, so an item rated once is not a 5.0);
- ``minilm``: cosine similarity of the item's text to the mean of the user's training history
  texts, both embedded with all-MiniLM-L6-v2;
- ``genre_overlap``: from the grounded facts (:mod:`llmrec.context.facts`): the item's values
  among the user's clear likes minus those among the clear dislikes, plus the share of the
  user's history that shares a value with the item (a tie-breaker below 1).

Every score is computed from ``split.train`` only.

Example:
    >>> scores = baseline_scores(split.train, pairs, ["popularity", "genre_overlap"])  # doctest: +SKIP
    >>> scores["popularity"].shape  # doctest: +SKIP
    (500,)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset, Item

BASELINES = ("popularity", "item_mean", "minilm", "genre_overlap")
DEFAULT_ENCODER = "all-minilm-l6-v2"


def popularity_scores(train: InteractionDataset, items: Sequence[Item]) -> np.ndarray:
    """Training interaction count of each item, shape ``(len(items),)``."""
    counts = train.interactions["item_id"].value_counts()
    return np.array([float(counts.get(it.item_id, 0)) for it in items])


def item_mean_scores(
    train: InteractionDataset, items: Sequence[Item], prior: float = 5.0
) -> np.ndarray:
    """Mean training rating per item, shrunk: ``(sum + prior * global) / (count + prior)``."""
    frame = train.interactions.dropna(subset=["rating"])
    if frame.empty:
        raise ValueError("item_mean baseline: the training data has no ratings")
    glob = float(frame["rating"].mean())
    stats = frame.groupby("item_id")["rating"].agg(["sum", "count"])
    out = []
    for it in items:
        if it.item_id in stats.index:
            s, c = stats.loc[it.item_id]
            out.append((float(s) + prior * glob) / (float(c) + prior))
        else:
            out.append(glob)
    return np.array(out)


def _item_text(item: Item) -> str:
    genres = ", ".join(item.genres)
    year = f" ({item.year})" if item.year else ""
    return f"{item.title}{year}. {genres}".strip()


def minilm_scores(
    train: InteractionDataset,
    pairs: Sequence[tuple[str, Item]],
    encoder: Any = None,
    max_history: int | None = None,
) -> np.ndarray:
    """Cosine of each item's embedding to the mean embedding of its user's history items.

    Args:
        train: Training interactions.
        pairs: ``(user_id, item)`` rows.
        encoder: A sentence-transformers model; default all-MiniLM-L6-v2 (embedded asset).
        max_history: Use the user's last ``max_history`` items (default all).
    """
    if encoder is None:
        from llmrec.models import load_sentence_transformer

        encoder = load_sentence_transformer(DEFAULT_ENCODER, device="cpu")
    users = list(dict.fromkeys(u for u, _ in pairs))
    needed: dict[str, Item] = {it.item_id: it for _, it in pairs}
    histories = {}
    for u in users:
        hist = train.history_items(u)
        histories[u] = hist[-max_history:] if max_history else hist
        needed.update({it.item_id: it for it in histories[u]})
    ids = list(needed)
    vectors = encoder.encode(
        [_item_text(needed[i]) for i in ids], batch_size=64, normalize_embeddings=True
    )  # (n_items, dim)
    index = {i: k for k, i in enumerate(ids)}
    user_vec = {}
    for u in users:
        rows = [index[it.item_id] for it in histories[u]]
        mean = vectors[rows].mean(axis=0) if rows else np.zeros(vectors.shape[1])  # (dim,)
        user_vec[u] = mean / (np.linalg.norm(mean) or 1.0)
    return np.array([float(vectors[index[it.item_id]] @ user_vec[u]) for u, it in pairs])


def genre_overlap_scores(
    train: InteractionDataset, pairs: Sequence[tuple[str, Item]], attribute: str = "genres"
) -> np.ndarray:
    """Likes minus dislikes among the item's values, plus the history share sharing a value."""
    from llmrec.context.facts import FactsConfig, base_shares, item_values, user_facts

    cfg = FactsConfig(attribute=attribute)
    base = base_shares(train, attribute)
    facts, shares = {}, {}
    for u in dict.fromkeys(u for u, _ in pairs):
        facts[u] = user_facts(train, u, cfg, base)
        shares[u] = [set(item_values(it, attribute)) for it in train.history_items(u)]
    out = []
    for u, it in pairs:
        values = set(item_values(it, attribute))
        f = facts[u]
        hist = shares[u]
        share = sum(bool(values & h) for h in hist) / len(hist) if hist else 0.0
        out.append(len(values & set(f.likes)) - len(values & set(f.dislikes)) + 0.99 * share)
    return np.array(out, dtype=float)


def baseline_scores(
    train: InteractionDataset,
    pairs: Sequence[tuple[str, Item]],
    names: Sequence[str] = BASELINES,
    encoder: Any = None,
) -> dict[str, np.ndarray]:
    """Each named baseline's score for every ``(user_id, item)`` pair, shape ``(len(pairs),)``.

    Raises:
        ValueError: for an unknown name (the valid names are listed).
    """
    unknown = sorted(set(names) - set(BASELINES))
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(BASELINES)}")
    items = [it for _, it in pairs]
    out: dict[str, np.ndarray] = {}
    for name in names:
        if name == "popularity":
            out[name] = popularity_scores(train, items)
        elif name == "item_mean":
            out[name] = item_mean_scores(train, items)
        elif name == "minilm":
            out[name] = minilm_scores(train, pairs, encoder)
        else:
            out[name] = genre_overlap_scores(train, pairs)
    return out
