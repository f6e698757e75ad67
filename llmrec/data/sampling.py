"""Seeded negative sampling: items a user has not interacted with, as catalogue indices.

Two shapes are common: a fixed candidate set per user for sampled ranking evaluation
(:func:`sample_negatives`, without replacement) and negatives for each training interaction
(:func:`sample_pair_negatives`, for BPR-style losses). Both exclude every item the user has
interacted with in ``exclude`` (default: the dataset itself; pass the full dataset to also exclude
held-out positives). Indices refer to ``dataset.item_ids``.

Example:
    >>> negs = sample_negatives(split.train, n=99, seed=0, exclude=[ds])  # doctest: +SKIP
    >>> negs.shape  # doctest: +SKIP
    (943, 99)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from llmrec.data.records import InteractionDataset

STRATEGIES = ("uniform", "popularity")


def _log_weights(dataset: InteractionDataset, strategy: str, alpha: float) -> np.ndarray:
    """Log sampling weight per catalogue item, shape ``(n_items,)``."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    n_items = len(dataset.item_ids)
    if strategy == "uniform":
        return np.zeros(n_items)
    # Add-one smoothing keeps never-seen items possible (as in most toolkits' popularity samplers).
    counts = dataset.item_popularity().astype(np.float64) + 1.0
    return alpha * np.log(counts)


def _seen_keys(
    dataset: InteractionDataset, exclude: Iterable[InteractionDataset] | None
) -> np.ndarray:
    """Sorted unique ``user_index * n_items + item_index`` of every excluded interaction."""
    n_items = len(dataset.item_ids)
    parts = [dataset] if exclude is None else list(exclude)
    keys = []
    for part in parts:
        frame = part.interactions
        u = frame["user_id"].map(dataset.user_index)
        i = frame["item_id"].map(dataset.item_index)
        known = u.notna().to_numpy() & i.notna().to_numpy()
        keys.append(u.to_numpy()[known].astype(np.int64) * n_items + i.to_numpy()[known])
    return np.unique(np.concatenate(keys).astype(np.int64)) if keys else np.zeros(0, np.int64)


def sample_negatives(
    dataset: InteractionDataset,
    n: int,
    user_ids: Sequence[str] | None = None,
    *,
    strategy: str = "uniform",
    alpha: float = 1.0,
    seed: int = 0,
    exclude: Iterable[InteractionDataset] | None = None,
    chunk_cells: int = 20_000_000,
) -> np.ndarray:
    """``n`` distinct negatives per user, shape ``(n_users, n)``, indices into ``item_ids``.

    Sampling is without replacement with probability proportional to the weight (uniform, or
    ``(count + 1) ** alpha`` for popularity), via the Gumbel top-k trick, in chunks of users so
    memory stays under ``chunk_cells`` float64 cells.

    Args:
        dataset: Gives the catalogue, the users and (for popularity) the item counts.
        n: Negatives per user.
        user_ids: Rows of the result; default ``dataset.user_ids``.
        strategy: ``"uniform"`` or ``"popularity"``.
        alpha: Exponent on popularity counts.
        seed: Seed of ``np.random.default_rng``; same seed and inputs give the same array.
        exclude: Datasets whose interactions count as positives; default ``[dataset]``.
        chunk_cells: Upper bound on users x items cells per chunk.

    Raises:
        ValueError: when a user has fewer than ``n`` items left to sample from.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    users = list(dataset.user_ids if user_ids is None else user_ids)
    unknown = [u for u in users if u not in dataset.user_index]
    if unknown:
        raise ValueError(f"unknown user ids {unknown[:5]} (not in {dataset.name!r})")
    rows = np.array([dataset.user_index[u] for u in users], dtype=np.int64)
    n_items = len(dataset.item_ids)
    log_w = _log_weights(dataset, strategy, alpha)
    seen = _seen_keys(dataset, exclude)
    seen_user, seen_item = np.divmod(seen, n_items)
    indptr = np.searchsorted(seen_user, np.arange(len(dataset.user_ids) + 1))
    rng = np.random.default_rng(seed)
    out = np.empty((len(rows), n), dtype=np.int64)
    if n == 0:
        return out
    step = max(1, chunk_cells // max(n_items, 1))
    for start in range(0, len(rows), step):
        chunk = rows[start : start + step]
        keys = log_w[None, :] + rng.gumbel(size=(len(chunk), n_items))  # (chunk, n_items)
        # Mask each row's positives; the seen keys are sorted, so each user's are one run.
        lo, hi = indptr[chunk], indptr[chunk + 1]
        counts = hi - lo
        row = np.repeat(np.arange(len(chunk)), counts)
        run = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        keys[row, seen_item[np.repeat(lo, counts) + run]] = -np.inf
        available = np.isfinite(keys).sum(axis=1)
        if (available < n).any():
            short = int(np.argmax(available < n))
            raise ValueError(
                f"user {users[start + short]!r} has {int(available[short])} items left to "
                f"sample, fewer than n={n}"
            )
        top = np.argpartition(-keys, n - 1, axis=1)[:, :n]  # (chunk, n), unordered
        # Order the n picks by key, so the result is a proper sequential sample.
        picked = np.take_along_axis(keys, top, axis=1)
        out[start : start + len(chunk)] = np.take_along_axis(
            top, np.argsort(-picked, axis=1), axis=1
        )
    return out


def sample_pair_negatives(
    dataset: InteractionDataset,
    k: int = 1,
    *,
    strategy: str = "uniform",
    alpha: float = 1.0,
    seed: int = 0,
    exclude: Iterable[InteractionDataset] | None = None,
    max_rounds: int = 100,
) -> np.ndarray:
    """``k`` negatives for every interaction row, shape ``(n_interactions, k)``.

    Rows follow ``dataset.interactions``. Draws are independent (a negative can repeat across
    the ``k`` columns); draws that hit one of the user's positives are redrawn, vectorised,
    until none is left.

    Args:
        dataset: Training interactions.
        k: Negatives per interaction.
        strategy: ``"uniform"`` or ``"popularity"``.
        alpha: Exponent on popularity counts.
        seed: Seed of ``np.random.default_rng``.
        exclude: Datasets whose interactions count as positives; default ``[dataset]``.
        max_rounds: Give up (``ValueError``) after this many redraw rounds.

    Example:
        >>> negs = sample_pair_negatives(split.train, k=4, seed=0)  # doctest: +SKIP
    """
    n_items = len(dataset.item_ids)
    log_w = _log_weights(dataset, strategy, alpha)
    p = np.exp(log_w - log_w.max())
    p /= p.sum()
    seen = _seen_keys(dataset, exclude)
    users = dataset.user_codes()
    rng = np.random.default_rng(seed)
    out = rng.choice(n_items, size=(len(users), k), p=p)
    user_grid = np.repeat(users[:, None], k, axis=1)
    for _ in range(max_rounds):
        clash = np.isin(user_grid * n_items + out, seen)
        if not clash.any():
            return out
        out[clash] = rng.choice(n_items, size=int(clash.sum()), p=p)
    raise ValueError(
        f"could not draw negatives in {max_rounds} rounds; some user has interacted with "
        "(nearly) every item"
    )
