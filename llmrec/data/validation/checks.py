"""The domain checks every loader's interactions pass: required values, time, ratings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from llmrec.data.errors import DataFormatError
from llmrec.data.validation.policy import ERROR, FIX, SKIP, RatingScale
from llmrec.data.validation.report import LoadReport


def _date(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.6g} s"


def check_domains(
    report: LoadReport,
    frame: pd.DataFrame,
    lines: np.ndarray,
    path: object,
    *,
    fields: Mapping[str, str] | None = None,
    rating_scale: RatingScale | tuple[float, ...] | None = None,
    required: tuple[str, ...] = (),
    timestamp_unit: str = "s",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Domains of the parsed interactions: required values, timestamps, ratings.

    Args:
        report: Where findings go; its policy decides each.
        frame: ``user_id, item_id, timestamp (s), rating, review`` as parsed.
        lines: Source line of each row.
        path: The interactions file.
        fields: Canonical name -> the file's name for messages (``{"rating": "stars"}``).
        rating_scale: The format's scale; a scale in the policy replaces it.
        required: Canonical fields that must not be blank (``("rating", "timestamp")``).
        timestamp_unit: The unit numbers were read in (``"s"`` or ``"ms"``).

    Returns:
        The frame and lines without the dropped rows (timestamps converted if fixed).
    """
    fields = dict(fields or {})
    name_of = {k: fields.get(k, k) for k in ("timestamp", "rating")}
    drop = np.zeros(len(frame), bool)
    for canonical in required:
        blank = frame[canonical].isna().to_numpy() & ~drop
        got = report.rows(
            "missing_value",
            blank,
            lines,
            path,
            name_of.get(canonical, canonical),
            lambda k: "is required by this format, got nothing",
        )
        if got in (ERROR, SKIP):
            drop |= blank
    ts = frame["timestamp"].to_numpy(dtype=float)
    ts = _fix_unit(report, ts, lines, path, name_of["timestamp"], timestamp_unit, drop)
    low = report.policy.timestamp_min
    high = report.policy.timestamp_max
    with np.errstate(invalid="ignore"):
        off = ~np.isnan(ts) & ((ts < low) | (ts > high) | ~np.isfinite(ts)) & ~drop
    got = report.rows(
        "timestamp_range",
        off,
        lines,
        path,
        name_of["timestamp"],
        lambda k: (
            f"{ts[k]:.10g} s ({_date(ts[k])}) is outside the plausible range "
            f"{_date(low)}..{_date(high)}"
        ),
    )
    if got in (ERROR, SKIP):
        drop |= off
    scale = report.policy.rating_scale or rating_scale
    if scale is not None and not isinstance(scale, RatingScale):
        scale = RatingScale(*scale)
    ratings = frame["rating"].to_numpy(dtype=float)
    if scale is not None:
        off = scale.outside(ratings) & ~drop
        what = f"the rating scale {scale}"
    else:
        off = ~np.isnan(ratings) & ~np.isfinite(ratings) & ~drop
        what = "a finite number"
    got = report.rows(
        "rating_range",
        off,
        lines,
        path,
        name_of["rating"],
        lambda k: f"{ratings[k]:g} is outside {what}",
    )
    if got in (ERROR, SKIP):
        drop |= off
    frame = frame.assign(timestamp=ts)
    known = ratings[~drop & ~np.isnan(ratings)]
    if scale is None and len(known):
        report.note(
            f"ratings observed {known.min():g}..{known.max():g}; no scale declared "
            "(pass rating_scale=(low, high) to check them)"
        )
    if drop.any():
        return frame[~drop].reset_index(drop=True), lines[~drop]
    return frame, lines


def _fix_unit(
    report: LoadReport,
    ts: np.ndarray,
    lines: np.ndarray,
    path: object,
    field_name: str,
    unit: str,
    drop: np.ndarray,
) -> np.ndarray:
    """Detect milliseconds read as seconds (and the reverse) over the whole column."""
    known = ts[~np.isnan(ts) & ~drop]
    if not len(known) or not np.isfinite(known).all():
        return ts
    low, high = report.policy.timestamp_min, report.policy.timestamp_max
    plausible = lambda v: (v >= low).all() and (v <= high).all()  # noqa: E731
    # 1e11 s is the year 5138: beyond any ISO date a file would hold, so these are numbers.
    # Read as milliseconds, seconds since 2000 fall in January 1970 (below 1e8 s, 1973).
    if unit == "s" and (known > max(high, 1e11)).all() and plausible(known / 1000.0):
        factor, said, real = 1 / 1000.0, "seconds", "milliseconds"
    elif unit == "ms" and (known < 1e8).all() and plausible(known * 1000.0):
        factor, said, real = 1000.0, "milliseconds", "seconds"
    else:
        return ts
    first = int(np.flatnonzero(~np.isnan(ts) & ~drop)[0])
    err = DataFormatError(
        path,
        int(lines[first]),
        field_name,
        f"all {len(known)} timestamps are implausible as {said} "
        f"({_date(known.min() if unit == 's' else known.max())}) and plausible as {real} "
        f"({_date(known.min() * factor)}..{_date(known.max() * factor)})",
    )
    if report.finding("timestamp_unit", err, n=len(known)) == FIX:
        return ts * factor
    return ts
