"""Splits of a dataset into train / validation / test, built so that nothing leaks.

A :class:`Split` holds ``train`` (an :class:`InteractionDataset` with only the training
interactions) and the held-out interactions as separate datasets. Downstream code (profiles,
training-data builders, recommenders) receives ``split.train``, so held-out interactions cannot
reach a prompt or a model by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from llmrec.data.records import InteractionDataset


@dataclass(frozen=True)
class Split:
    """Train and held-out parts of one dataset, sharing the catalogue and users."""

    train: InteractionDataset
    valid: InteractionDataset
    test: InteractionDataset
    strategy: str

    def heldout(self, part: str = "test") -> InteractionDataset:
        if part not in ("test", "valid"):
            raise ValueError(f"part must be 'test' or 'valid', got {part!r}")
        return self.test if part == "test" else self.valid

    def describe(self) -> dict:
        return {
            "strategy": self.strategy,
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
        }


def leave_one_out(
    dataset: InteractionDataset, validation: bool = True, min_train: int = 1
) -> Split:
    """Last interaction of each user is test, the one before validation, the rest training.

    Users with too few interactions to leave ``min_train`` training items keep everything in
    training (they get no held-out item) rather than losing their history.

    Args:
        dataset: Time-ordered interactions (ties keep the source order).
        validation: Hold out the second-to-last item as validation.
        min_train: Minimum training interactions a user must keep to be held out.
    """
    frame = dataset.interactions
    pos_from_end = frame.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    sizes = frame.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    held = 1 + int(validation)
    eligible = sizes >= held + min_train
    test_mask = eligible & (pos_from_end == 0)
    valid_mask = eligible & (pos_from_end == 1) if validation else np.zeros(len(frame), bool)
    train_mask = ~(test_mask | valid_mask)
    return Split(
        train=dataset.with_interactions(frame[train_mask], f"{dataset.name}/train"),
        valid=dataset.with_interactions(frame[valid_mask], f"{dataset.name}/valid"),
        test=dataset.with_interactions(frame[test_mask], f"{dataset.name}/test"),
        strategy=f"leave_one_out(validation={validation}, min_train={min_train})",
    )


def _require_timestamps(dataset: InteractionDataset, what: str) -> None:
    missing = int(dataset.interactions["timestamp"].isna().sum())
    if missing:
        raise ValueError(
            f"{what} needs timestamps, but {missing} of {len(dataset)} interactions of "
            f"{dataset.name!r} have none; use leave_one_out or ratio_split (file order) instead"
        )


def _fraction(name: str, value: float) -> float:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")
    return float(value)


def temporal_split(
    dataset: InteractionDataset,
    test: float = 0.1,
    valid: float = 0.1,
    *,
    test_start: float | None = None,
    valid_start: float | None = None,
    drop_cold_users: bool = False,
    drop_cold_items: bool = False,
) -> Split:
    """Global temporal cut: everything before one moment trains, everything after is held out.

    Unlike per-user splits, no training interaction of any user happens after a held-out one, so
    a model cannot learn from the future of other users. The cut is a quantile of all timestamps
    (``test=0.1``: the last 10% of time-ordered interactions) or an explicit timestamp.
    Interactions at exactly the cut go to the later part. Users or items that first appear
    after the cut are cold in the held-out parts; they are kept (filter them if the protocol
    says so).

    Args:
        dataset: Interactions with timestamps (missing timestamps raise ``ValueError``).
        test: Fraction of interactions (by time quantile) in the test part.
        valid: Fraction in the validation part, just before the test part.
        test_start: Explicit test cut (seconds); overrides ``test``.
        valid_start: Explicit validation cut; overrides ``valid`` (must be <= ``test_start``).
        drop_cold_users: Drop held-out interactions of users with no training interaction
            (dropped, not moved to training; the split then covers less than the dataset).
        drop_cold_items: Likewise for items never seen in training.

    Example:
        >>> split = temporal_split(ds, test=0.1, valid=0.1)  # doctest: +SKIP
        >>> split.train.interactions.timestamp.max() < split.test.interactions.timestamp.min()
        True
    """
    _require_timestamps(dataset, "temporal_split")
    frame = dataset.interactions
    times = frame["timestamp"].to_numpy()
    if test_start is None:
        test_start = float(np.quantile(times, 1.0 - _fraction("test", test))) if len(times) else 0
        if test == 0:
            test_start = np.inf
    if valid_start is None:
        valid_q = 1.0 - _fraction("test", test) - _fraction("valid", valid)
        if valid_q <= 0:
            raise ValueError(f"test + valid must be < 1, got {test} + {valid}")
        valid_start = float(np.quantile(times, valid_q)) if valid and len(times) else test_start
    if valid_start > test_start:
        raise ValueError(f"valid_start {valid_start} is after test_start {test_start}")
    test_mask = times >= test_start
    valid_mask = (times >= valid_start) & ~test_mask
    train_mask = ~(test_mask | valid_mask)
    warm = np.ones(len(frame), dtype=bool)
    for drop, column in ((drop_cold_users, "user_id"), (drop_cold_items, "item_id")):
        if drop:
            warm &= frame[column].isin(frame[column][train_mask].unique()).to_numpy()
    test_mask &= warm
    valid_mask &= warm
    return Split(
        train=dataset.with_interactions(frame[train_mask], f"{dataset.name}/train"),
        valid=dataset.with_interactions(frame[valid_mask], f"{dataset.name}/valid"),
        test=dataset.with_interactions(frame[test_mask], f"{dataset.name}/test"),
        strategy=(
            f"temporal_split(valid_start={valid_start}, test_start={test_start}, "
            f"drop_cold_users={drop_cold_users}, drop_cold_items={drop_cold_items})"
        ),
    )


def ratio_split(
    dataset: InteractionDataset,
    test: float = 0.2,
    valid: float = 0.0,
    *,
    order: str = "time",
    seed: int = 0,
    min_train: int = 1,
) -> Split:
    """Per-user split: each user's last (or random) fraction is held out.

    With ``order="time"`` the held-out interactions of a user are that user's latest ones (file
    order for untimed data, as in :func:`leave_one_out`); with ``order="random"`` a seeded random
    subset. A user holds out ``floor(n * test)`` test and ``floor(n * valid)`` validation
    interactions, at least one each when the fraction is positive, as long as ``min_train``
    remain; otherwise the user keeps everything in training. Users without interactions are
    skipped (they stay users of every part, with empty histories).

    Args:
        dataset: The interactions.
        test: Fraction of each user's interactions in test.
        valid: Fraction in validation (taken just before the test ones for ``order="time"``).
        order: ``"time"`` or ``"random"``.
        seed: Seed for ``order="random"``.
        min_train: Training interactions a user must keep to be held out at all.

    Example:
        >>> split = ratio_split(ds, test=0.2)  # doctest: +SKIP
    """
    if order not in ("time", "random"):
        raise ValueError(f"order must be 'time' or 'random', got {order!r}")
    test, valid = _fraction("test", test), _fraction("valid", valid)
    if test + valid >= 1:
        raise ValueError(f"test + valid must be < 1, got {test} + {valid}")
    frame = dataset.interactions
    groups = frame.groupby("user_id", sort=False)
    sizes = groups["item_id"].transform("size").to_numpy()
    if order == "time":
        rank = groups.cumcount(ascending=False).to_numpy()  # 0 = latest
    else:
        rng = np.random.default_rng(seed)
        keys = frame[["user_id"]].assign(_k=rng.random(len(frame)))
        rank = keys.groupby("user_id", sort=False)["_k"].rank(method="first").to_numpy() - 1
        rank = rank.astype(np.int64)
    n_test = np.floor(sizes * test).astype(np.int64)
    n_valid = np.floor(sizes * valid).astype(np.int64)
    if test > 0:
        n_test = np.maximum(n_test, 1)
    if valid > 0:
        n_valid = np.maximum(n_valid, 1)
    eligible = sizes - n_test - n_valid >= min_train
    test_mask = eligible & (rank < n_test)
    valid_mask = eligible & (rank >= n_test) & (rank < n_test + n_valid)
    train_mask = ~(test_mask | valid_mask)
    return Split(
        train=dataset.with_interactions(frame[train_mask], f"{dataset.name}/train"),
        valid=dataset.with_interactions(frame[valid_mask], f"{dataset.name}/valid"),
        test=dataset.with_interactions(frame[test_mask], f"{dataset.name}/test"),
        strategy=f"ratio_split(test={test}, valid={valid}, order={order!r}, seed={seed})",
    )


def kcore(
    dataset: InteractionDataset, k: int, *, user_k: int | None = None, item_k: int | None = None
) -> InteractionDataset:
    """Keep the largest subset where every user and every item has at least ``k`` interactions.

    Filters users and items alternately until nothing changes (the iterative k-core). Items and
    users that lose all their interactions leave the catalogue and user list as well.

    Args:
        dataset: The dataset to filter (not modified).
        k: Minimum interactions per user and per item.
        user_k: Overrides ``k`` for users.
        item_k: Overrides ``k`` for items.

    Example:
        >>> core = kcore(ds, 5)  # doctest: +SKIP
        >>> core.interactions.groupby("item_id").size().min() >= 5
        True
    """
    user_k = k if user_k is None else user_k
    item_k = k if item_k is None else item_k
    if min(user_k, item_k) < 1:
        raise ValueError(f"k must be >= 1, got user_k={user_k}, item_k={item_k}")
    frame = dataset.interactions
    keep = np.ones(len(frame), dtype=bool)
    u_inv, u_codes = pd.factorize(frame["user_id"])
    i_inv, i_codes = pd.factorize(frame["item_id"])
    while True:
        u_count = np.bincount(u_inv[keep], minlength=len(u_codes))
        i_count = np.bincount(i_inv[keep], minlength=len(i_codes))
        new_keep = keep & (u_count[u_inv] >= user_k) & (i_count[i_inv] >= item_k)
        if (new_keep == keep).all():
            break
        keep = new_keep
    kept = frame[keep]
    kept_items = set(i_codes[np.unique(i_inv[keep])])
    kept_users = set(u_codes[np.unique(u_inv[keep])])
    items_left = [it for iid, it in dataset.items.items() if iid in kept_items]
    users_left = [u for uid, u in dataset.users.items() if uid in kept_users]
    return InteractionDataset(
        items_left, kept, users_left, name=f"{dataset.name}/kcore{user_k}-{item_k}"
    )
