"""Seeded sampling of users and of negative items: the one place llmrec draws either.

- :func:`sample_users`: ``n`` users of a list without replacement.
- :func:`sample_negatives`: a fixed candidate set per user for sampled ranking evaluation
  (without replacement; uniform or popularity-weighted).
- :func:`sample_masked_negatives`: the same from a forbidden-item mask, one seeded stream per user
  (sampled-ranking evaluation).
- :func:`sample_pair_negatives`: negatives for each training interaction (BPR-style losses).
- :func:`popularity_matched_negatives`: for each positive, negatives from the same training
  popularity decile, so a scorer cannot separate positives from negatives by popularity alone.
- :func:`negatives_for_user`: one user's negatives drawn from a caller's generator stream (the
  form the training data builders use, one user after another).

All exclude every item the user has interacted with in ``exclude`` (default: the dataset
itself; pass the full dataset to also exclude held-out positives). Indices refer to
``dataset.item_ids``. No function changes its inputs.

Example:
    >>> negs = sample_negatives(split.train, n=99, seed=0, exclude=[ds])  # doctest: +SKIP
    >>> negs.shape  # doctest: +SKIP
    (943, 99)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass

import numpy as np

from llmrec.data.records import InteractionDataset

STRATEGIES = ("uniform", "popularity")


def sample_users(user_ids: Sequence[str], n: int, seed: int, keep_order: bool = True) -> list[str]:
    """``n`` users drawn without replacement (all of them when fewer), seeded.

    The draw is the first ``n`` positions of ``np.random.default_rng(seed).permutation``, so a
    larger ``n`` extends a smaller one's sample.

    Args:
        user_ids: The users to draw from (distinct).
        n: Users wanted (``>= 0``).
        seed: Seed of the draw.
        keep_order: Return the drawn users in their order in ``user_ids`` (default), or in the
            seeded draw order (``n = len(user_ids)`` then gives a seeded shuffle).

    Example:
        >>> sample_users(["a", "b", "c", "d"], 2, seed=0)
        ['a', 'c']
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    pool = list(user_ids)
    pick = np.random.default_rng(seed).permutation(len(pool))[: min(n, len(pool))]
    return [pool[k] for k in (np.sort(pick) if keep_order else pick)]


def negatives_for_user(
    dataset: InteractionDataset, exclude: Set[str], n: int, rng: np.random.Generator
) -> list[str]:
    """``n`` distinct item ids drawn uniformly from ``dataset.item_ids`` minus ``exclude``.

    Draws from the caller's generator, so a loop over users gives one reproducible stream.

    Raises:
        ValueError: when fewer than ``n`` items are left.
    """
    pool = [iid for iid in dataset.item_ids if iid not in exclude]
    if n > len(pool):
        raise ValueError(f"asked for {n} negatives but only {len(pool)} items are eligible")
    return [pool[i] for i in rng.choice(len(pool), size=n, replace=False)]


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


def _mask_seen(
    keys: np.ndarray, chunk: np.ndarray, indptr: np.ndarray, seen_item: np.ndarray, fill: float
) -> None:
    """Set ``keys[r, i] = fill`` for every item ``i`` seen by user ``chunk[r]`` (in place).

    ``seen_item[indptr[u]:indptr[u + 1]]`` are user ``u``'s seen items (the sorted seen keys
    make each user's items one run), so the mask is built without a loop over users.
    """
    lo, hi = indptr[chunk], indptr[chunk + 1]
    counts = hi - lo
    row = np.repeat(np.arange(len(chunk)), counts)
    run = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    keys[row, seen_item[np.repeat(lo, counts) + run]] = fill


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
        _mask_seen(keys, chunk, indptr, seen_item, -np.inf)
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


def sample_masked_negatives(
    users: np.ndarray,
    forbidden: np.ndarray,
    m: int,
    sampler: str,
    popularity: np.ndarray | None,
    seed: int,
) -> np.ndarray:
    """``m`` distinct negatives per user, never a forbidden item; weighted without replacement.

    The form sampled-ranking evaluation uses: the caller passes the forbidden items as a mask,
    and each user's draw has its own seeded stream.

    Uses the Gumbel top-``m`` trick on ``log w_i`` (``w`` uniform or training popularity + 1),
    from a generator seeded by ``(seed, user)``, so a user's negatives do not depend on which
    other users are evaluated. Users with fewer than ``m`` allowed items get ``-1`` padding.

    Args:
        users: ``(n,)`` user indices (seed the per-user streams).
        forbidden: ``(n, n_items)`` boolean: training and held-out items.
        m: Negatives per user.
        sampler: ``"uniform"`` or ``"popularity"``.
        popularity: Training counts, needed for ``"popularity"``.
        seed: Base seed.
    """
    if sampler not in STRATEGIES:
        raise ValueError(f"sampler must be one of {STRATEGIES}, got {sampler!r}")
    n_items = forbidden.shape[1]
    if sampler == "popularity":
        if popularity is None:
            raise ValueError("the popularity sampler needs item popularity")
        logw = np.log(np.asarray(popularity, dtype=np.float64) + 1.0)
    else:
        logw = np.zeros(n_items)
    out = np.full((len(users), m), -1, dtype=np.int64)
    for i, u in enumerate(users):
        g = np.random.default_rng([seed, int(u)]).gumbel(size=n_items)
        key = np.where(forbidden[i], -np.inf, logw + g)
        n_ok = int((~forbidden[i]).sum())
        take = min(m, n_ok)
        if take == 0:
            continue
        idx = np.argpartition(-key, take - 1)[:take] if take < n_items else np.arange(n_items)
        out[i, :take] = idx[:take]
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


def popularity_bins(dataset: InteractionDataset, n_bins: int = 10) -> np.ndarray:
    """Popularity bin of each catalogue item (0 = least popular), shape ``(n_items,)``.

    Items are ordered by their interaction count in ``dataset`` (the training interactions)
    and cut into ``n_bins`` equal-size groups by mid-rank: ``bin = floor((rank - 1) * n_bins /
    n_items)`` with ``rank`` the average rank of tied counts, so items with equal counts share a
    bin (bins can then differ in size, and some can be empty).
    """
    from scipy.stats import rankdata

    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    counts = dataset.item_popularity()
    rank = rankdata(counts)  # (n_items,) mid-ranks, 1-based
    return np.minimum(((rank - 1) * n_bins / max(len(counts), 1)).astype(np.int64), n_bins - 1)


@dataclass(frozen=True)
class MatchedNegatives:
    """Negatives matched to positives by popularity bin.

    Attributes:
        items: ``(n_positives, n)`` negative item indices into ``dataset.item_ids``.
        bins: ``(n_positives,)`` popularity bin of each positive.
        fallback: ``(n_positives,)`` negatives drawn outside the positive's bin because it ran
            out of unseen items (taken from the nearest non-empty bins).
    """

    items: np.ndarray
    bins: np.ndarray
    fallback: np.ndarray


def popularity_matched_negatives(
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    item_ids: Sequence[str],
    n: int,
    *,
    seed: int = 0,
    n_bins: int = 10,
    exclude: Iterable[InteractionDataset] | None = None,
    chunk_cells: int = 20_000_000,
) -> MatchedNegatives:
    """``n`` distinct negatives per positive ``(user, item)``, from the positive's popularity bin.

    Bins are deciles by default (:func:`popularity_bins` on ``dataset``, the training
    interactions). Each positive's negatives are drawn uniformly without replacement from the
    items of its bin that its user has not interacted with (in ``exclude``) and that are not the
    positive itself. When the bin has fewer than ``n`` such items, the rest come from the
    nearest bins (distance ``|b - b_pos|``, ties between the two sides at random), and
    :attr:`MatchedNegatives.fallback` counts them. Vectorised: one random key per (positive,
    item), ordered by bin distance first.

    Args:
        dataset: Training interactions; gives the catalogue, the bins and the seen items.
        user_ids: User of each positive, length ``n_positives``.
        item_ids: Positive item of each row (for example the held-out item), same length.
        n: Negatives per positive.
        seed: Seed of ``np.random.default_rng``.
        n_bins: Popularity bins (10 gives deciles).
        exclude: Datasets whose interactions count as seen; default ``[dataset]``.
        chunk_cells: Upper bound on positives x items cells per chunk.

    Raises:
        ValueError: on unknown users or items, mismatched lengths, or a user with fewer than
            ``n`` unseen items in the whole catalogue.

    Example:
        >>> neg = popularity_matched_negatives(split.train, ["1"], ["50"], 9)  # doctest: +SKIP
        >>> (popularity_bins(split.train)[neg.items] == neg.bins[:, None]).all()  # doctest: +SKIP
        True
    """
    users, items = list(user_ids), list(item_ids)
    if len(users) != len(items):
        raise ValueError(f"user_ids ({len(users)}) and item_ids ({len(items)}) differ in length")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    unknown_u = [u for u in users if u not in dataset.user_index]
    unknown_i = [i for i in items if i not in dataset.item_index]
    if unknown_u or unknown_i:
        raise ValueError(
            f"unknown user ids {unknown_u[:5]} / item ids {unknown_i[:5]} (not in {dataset.name!r})"
        )
    rows = np.array([dataset.user_index[u] for u in users], dtype=np.int64)
    pos = np.array([dataset.item_index[i] for i in items], dtype=np.int64)
    n_items = len(dataset.item_ids)
    item_bin = popularity_bins(dataset, n_bins)  # (n_items,)
    seen = _seen_keys(dataset, exclude)
    seen_user, seen_item = np.divmod(seen, n_items)
    indptr = np.searchsorted(seen_user, np.arange(len(dataset.user_ids) + 1))
    rng = np.random.default_rng(seed)
    out = np.empty((len(rows), n), dtype=np.int64)
    fallback = np.zeros(len(rows), dtype=np.int64)
    step = max(1, chunk_cells // max(n_items, 1))
    for start in range(0, len(rows), step):
        chunk, p = rows[start : start + step], pos[start : start + step]
        distance = np.abs(item_bin[None, :] - item_bin[p][:, None])  # (chunk, n_items)
        # Keys order items by bin distance, then at random within a distance (keys in [0, 0.5)).
        keys = distance + 0.5 * rng.random((len(chunk), n_items))
        _mask_seen(keys, chunk, indptr, seen_item, np.inf)
        keys[np.arange(len(chunk)), p] = np.inf
        available = np.isfinite(keys).sum(axis=1)
        if (available < n).any():
            short = int(np.argmax(available < n))
            raise ValueError(
                f"user {users[start + short]!r} has {int(available[short])} unseen items, "
                f"fewer than n={n}"
            )
        if n == 0:
            continue
        top = np.argpartition(keys, n - 1, axis=1)[:, :n]  # (chunk, n), unordered
        picked = np.take_along_axis(keys, top, axis=1)
        order = np.argsort(picked, axis=1)
        out[start : start + len(chunk)] = np.take_along_axis(top, order, axis=1)
        fallback[start : start + len(chunk)] = (picked >= 1).sum(axis=1)
    return MatchedNegatives(out, item_bin[pos], fallback)
