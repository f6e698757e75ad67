"""History windows: the last ``n`` interactions or the last ``d`` days, of one user or all.

Windows trim what a profile or a sequential model sees. They apply to a history (a list of
:class:`~llmrec.data.records.Interaction`, oldest first) or to a whole dataset.

Example:
    >>> from llmrec.data.records import Interaction
    >>> hist = [Interaction("u", str(i), timestamp=i * 86400.0) for i in range(10)]
    >>> [r.item_id for r in last_n(hist, 3)]
    ['7', '8', '9']
    >>> [r.item_id for r in last_days(hist, 2)]
    ['7', '8', '9']
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llmrec.data.records import Interaction, InteractionDataset

DAY = 86400.0


def last_n(history: Sequence[Interaction], n: int) -> list[Interaction]:
    """The ``n`` most recent interactions of a time-ordered history (all if shorter)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    return list(history[len(history) - n :]) if n else []


def last_days(
    history: Sequence[Interaction], days: float, now: float | None = None
) -> list[Interaction]:
    """Interactions within ``days`` days before ``now`` (default: the history's last timestamp).

    The window is closed at both ends: ``now - days * 86400 <= timestamp <= now``.

    Raises:
        ValueError: when an interaction has no timestamp, or ``days`` is negative.
    """
    if days < 0:
        raise ValueError(f"days must be >= 0, got {days}")
    if not history:
        return []
    if any(r.timestamp is None for r in history):
        raise ValueError("last_days needs timestamps; this history has interactions without one")
    end = max(r.timestamp for r in history) if now is None else now
    start = end - days * DAY
    return [r for r in history if start <= r.timestamp <= end]


def window(
    dataset: InteractionDataset,
    last: int | None = None,
    days: float | None = None,
    now: float | None = None,
) -> InteractionDataset:
    """Apply :func:`last_n` and/or :func:`last_days` to every user's history at once.

    Args:
        dataset: Time-ordered interactions.
        last: Keep each user's ``last`` most recent interactions.
        days: Keep interactions within ``days`` days before ``now``.
        now: End of the day window; default each user's own last timestamp.

    Returns:
        A dataset with the same catalogue and users and the windowed interactions.

    Example:
        >>> recent = window(split.train, last=50)  # doctest: +SKIP
    """
    frame = dataset.interactions
    keep = np.ones(len(frame), dtype=bool)
    if last is not None:
        if last < 0:
            raise ValueError(f"last must be >= 0, got {last}")
        from_end = frame.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
        keep &= from_end < last
    if days is not None:
        if days < 0:
            raise ValueError(f"days must be >= 0, got {days}")
        if frame["timestamp"].isna().any():
            raise ValueError(
                f"window(days=...) needs timestamps; {dataset.name!r} has interactions without one"
            )
        times = frame["timestamp"].to_numpy()
        if now is None:
            end = frame.groupby("user_id", sort=False)["timestamp"].transform("max").to_numpy()
        else:
            end = np.full(len(frame), float(now))
        keep &= (times >= end - days * DAY) & (times <= end)
    suffix = "/window" + (f"-last{last}" if last is not None else "")
    suffix += f"-{days}d" if days is not None else ""
    return dataset.with_interactions(frame[keep], f"{dataset.name}{suffix}")
