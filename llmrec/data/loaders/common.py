"""What every loader shares: reading text with exact line numbers, parsing interaction fields,
and turning parsed rows into an :class:`InteractionDataset` under the bad-input policies.

Policies (the same keywords on every loader):

* ``on_error``: ``"raise"`` (default) on the first malformed row, naming file, line and field;
  ``"skip"`` drops it, counts it by reason and logs a summary (``dataset.load_report``).
* ``unknown_items``: interactions whose item is not in the catalogue: ``"raise"`` (default),
  ``"skip"`` (counted) or ``"add"`` (a bare item titled by its id).
* ``dedupe``: exact duplicate interaction rows are kept (and counted in the report) unless
  ``dedupe=True``, which drops all but the first and counts them.
"""

from __future__ import annotations

import contextlib
import gc
import gzip
import math
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.errors import BadRows, DataFormatError
from llmrec.data.records import InteractionDataset, Item, User

UNKNOWN_ITEM_POLICIES = ("raise", "skip", "add")
INTERACTION_FIELDS = ("user_id", "item_id", "timestamp", "rating", "review")


@contextlib.contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of small objects.

    Appending millions of lists or dicts otherwise triggers repeated full collections, which
    can cost more than the parsing itself; reference counting still frees memory meanwhile.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def open_binary(path: Path):
    """Open a file for reading bytes, transparently un-gzipping ``*.gz``."""
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def text_lines(path: Path, encoding: str = "utf-8", fallback: str | None = None) -> Iterator[str]:
    """Yield decoded lines (with their newline) of ``path``; line ``k`` is the ``k``-th yielded.

    Args:
        path: A text file, optionally gzipped.
        encoding: The expected encoding.
        fallback: Encoding to use for a line that ``encoding`` cannot decode (``"latin-1"`` for
            MovieLens); without it such a line raises :class:`DataFormatError`.
    """
    with open_binary(path) as handle:
        for line_no, raw in enumerate(handle, start=1):
            try:
                yield raw.decode(encoding)
            except UnicodeDecodeError as err:
                if fallback is None:
                    bad = raw[err.start : err.start + 1].hex()
                    raise DataFormatError(
                        path,
                        line_no,
                        None,
                        f"is not {encoding} text (byte 0x{bad} at column {err.start + 1}); "
                        "pass encoding='latin-1' (or the file's encoding) if that is intended",
                    ) from err
                yield raw.decode(fallback)


def check_policies(on_error: str, unknown_items: str) -> BadRows:
    if unknown_items not in UNKNOWN_ITEM_POLICIES:
        raise ValueError(
            f"unknown_items must be one of {UNKNOWN_ITEM_POLICIES}, got {unknown_items!r}"
        )
    return BadRows(on_error)


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def parse_id(value: Any, path: Path, line: int | None, field: str) -> str:
    if _blank(value):
        raise DataFormatError(path, line, field, "expected a non-empty id, got nothing")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def parse_number(value: Any, path: Path, line: int | None, field: str) -> float | None:
    """A float, or ``None`` for a blank cell."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise DataFormatError(path, line, field, f"expected a number, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise DataFormatError(path, line, field, f"expected a number, got {value!r}") from None
    if math.isnan(number):
        return None
    return number


def parse_timestamp(
    value: Any, path: Path, line: int | None, field: str, unit: str = "s"
) -> float | None:
    """Seconds since the epoch from a number (in ``unit``: s or ms) or an ISO-8601 date string.

    Naive dates are taken as UTC. Blank means unknown (``None``).
    """
    if _blank(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value) / (1000.0 if unit == "ms" else 1.0)
    if isinstance(value, (datetime, pd.Timestamp)):
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.timestamp()
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return None if math.isnan(number) else number / (1000.0 if unit == "ms" else 1.0)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise DataFormatError(
            path, line, field, f"expected seconds since the epoch or an ISO date, got {value!r}"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def parse_interaction(
    record: Mapping[str, Any],
    path: Path,
    line: int | None,
    columns: Mapping[str, str],
    timestamp_unit: str = "s",
) -> tuple[str, str, float | None, float | None, str | None]:
    """``(user_id, item_id, timestamp, rating, review)`` from a raw record.

    ``columns`` maps canonical names (:data:`INTERACTION_FIELDS`) to the record's keys; a
    canonical name absent from ``columns`` is taken as missing (``None``).
    """
    user = parse_id(record.get(columns["user_id"]), path, line, columns["user_id"])
    item = parse_id(record.get(columns["item_id"]), path, line, columns["item_id"])
    ts = rating = review = None
    if "timestamp" in columns:
        key = columns["timestamp"]
        ts = parse_timestamp(record.get(key), path, line, key, timestamp_unit)
    if "rating" in columns:
        rating = parse_number(record.get(columns["rating"]), path, line, columns["rating"])
    if "review" in columns:
        text = record.get(columns["review"])
        review = None if _blank(text) else str(text)
    return user, item, ts, rating, review


def _as_series(values: Sequence[Any] | pd.Series | np.ndarray) -> pd.Series:
    if isinstance(values, pd.Series):
        return values.reset_index(drop=True)
    return pd.Series(values if isinstance(values, np.ndarray) else list(values), dtype=object)


def _kinds(s: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Masks ``(is_str, is_null, is_plain_number)`` of an object or typed series."""
    if s.dtype.kind in "iuf":
        return np.zeros(len(s), bool), s.isna().to_numpy(), s.notna().to_numpy()
    if isinstance(s.dtype, pd.StringDtype):
        is_null = s.isna().to_numpy()
        return ~is_null, is_null, np.zeros(len(s), bool)
    if s.dtype.kind == "b":
        return np.zeros(len(s), bool), np.zeros(len(s), bool), np.zeros(len(s), bool)
    types = s.map(type)
    is_str = types.isin([str]).to_numpy()
    is_null = s.isna().to_numpy() & ~is_str
    is_num = types.isin([int, float, np.int64, np.float64, np.int32, np.float32]).to_numpy()
    return is_str, is_null, is_num & ~is_null


def _fast_ids(s: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Ids as stripped strings, and the rows the exact parser must see (blank or unusual)."""
    if s.dtype.kind in "iu":  # typed integer ids: no float round trip, no precision loss
        return s.astype(str).astype(object), np.zeros(len(s), bool)
    out = pd.Series([None] * len(s), dtype=object)
    is_str, _, is_num = _kinds(s)
    if is_str.any():
        out[is_str] = s[is_str].astype(str).str.strip().to_numpy()
    if is_num.any():
        nums = pd.to_numeric(s[is_num]).astype(float)
        integral = (nums == np.floor(nums)).to_numpy()
        text = np.array([str(float(v)) for v in nums], dtype=object)
        text[integral] = nums[integral].astype(np.int64).astype(str).to_numpy()
        out[is_num] = text
    slow = ~(is_str | is_num) | out.isna().to_numpy() | (out == "").to_numpy()
    return out, slow


def _fast_numbers(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN = missing) and the rows the exact parser must see."""
    values = np.full(len(s), np.nan)
    is_str, is_null, is_num = _kinds(s)
    if is_num.any():
        values[is_num] = pd.to_numeric(s[is_num]).astype(float).to_numpy()
    fine = is_null | is_num
    if is_str.any():
        idx = np.flatnonzero(is_str)
        text = s.iloc[idx].astype(str).str.strip()
        parsed = pd.to_numeric(text, errors="coerce").astype(float).to_numpy()
        blank = (text == "").to_numpy()
        spelled_nan = text.str.lower().isin(["nan", "+nan", "-nan"]).to_numpy()
        values[idx] = np.where(blank, np.nan, parsed)
        fine[idx] = blank | ~np.isnan(parsed) | spelled_nan
    return values, ~fine


def _fast_timestamps(s: pd.Series, unit: str) -> tuple[np.ndarray, np.ndarray]:
    """Seconds (NaN = missing) and the rows to parse exactly (ISO dates are parsed here too)."""
    values, slow = _fast_numbers(s)
    values = values / (1000.0 if unit == "ms" else 1.0)
    if slow.any():
        idx = np.flatnonzero(slow)
        text = s.iloc[idx]
        is_text = text.map(type).isin([str]).to_numpy()
        if is_text.any():
            stamps = pd.to_datetime(
                text[is_text].str.strip().str.replace("Z", "+00:00", regex=False),
                format="ISO8601",
                utc=True,
                errors="coerce",
            )
            epoch = pd.Timestamp("1970-01-01", tz="UTC")
            seconds = ((stamps - epoch) / pd.Timedelta(seconds=1)).to_numpy(dtype=float)
            good = ~np.isnan(seconds)
            rows = idx[is_text][good]
            values[rows] = seconds[good]
            slow[rows] = False
    return values, slow


def parse_columns(
    raw: Mapping[str, Sequence[Any]],
    lines: Sequence[int] | np.ndarray,
    path: Path,
    columns: Mapping[str, str],
    bad: BadRows,
    timestamp_unit: str = "s",
) -> tuple[pd.DataFrame, np.ndarray]:
    """Parse whole columns at once; rows that need it go through :func:`parse_interaction`.

    Same results and errors as parsing row by row, at vectorised speed for clean data: any row
    whose values are blank, oddly typed or unparsable is handed to the exact per-row parser,
    which raises (or skips, per ``bad``) with the file, line and field.

    Args:
        raw: Source column name -> values, one per row (the columns ``columns`` maps to).
        lines: The source line of each row.
        path: The file, for messages.
        columns: Canonical name -> source column, as for :func:`parse_interaction`.
        bad: The bad-row policy.
        timestamp_unit: ``"s"`` or ``"ms"`` for numeric timestamps.

    Returns:
        ``(frame with INTERACTION_FIELDS, lines of the kept rows)``.
    """
    lines = np.asarray(lines, dtype=np.int64)
    n = len(lines)
    get = {name: _as_series(raw[src]) for name, src in columns.items() if src in raw}
    users, slow = _fast_ids(get["user_id"]) if "user_id" in get else (None, np.ones(n, bool))
    items, slow_items = _fast_ids(get["item_id"]) if "item_id" in get else (None, np.ones(n, bool))
    slow = slow | slow_items
    ts, rating = np.full(n, np.nan), np.full(n, np.nan)
    if "timestamp" in get:
        ts, slow_ts = _fast_timestamps(get["timestamp"], timestamp_unit)
        slow |= slow_ts
    if "rating" in get:
        rating, slow_rating = _fast_numbers(get["rating"])
        slow |= slow_rating
    review = pd.Series([None] * n, dtype=object)
    if "review" in get:
        text = get["review"]
        is_str, is_null, _ = _kinds(text)
        keep = is_str & (text.astype(str).str.strip() != "").to_numpy()
        review[keep] = text[keep].to_numpy()
        other = ~is_str & ~is_null
        review[other] = text[other].map(str).to_numpy()
    frame = pd.DataFrame(
        {
            "user_id": users if users is not None else [None] * n,
            "item_id": items if items is not None else [None] * n,
            "timestamp": ts,
            "rating": rating,
            "review": review,
        }
    )
    if not slow.any():
        return frame, lines
    keep = np.ones(n, bool)
    sources = {src: _as_series(raw[src]) for src in columns.values() if src in raw}
    for k in np.flatnonzero(slow):
        record = {src: values.iat[k] for src, values in sources.items()}
        try:
            frame.iloc[k] = parse_interaction(record, path, int(lines[k]), columns, timestamp_unit)
        except DataFormatError as err:
            bad.handle(err, "bad value")
            keep[k] = False
    return frame[keep].reset_index(drop=True), lines[keep]


def assemble(
    path: Path,
    rows: list[tuple[str, str, float | None, float | None, str | None]] | pd.DataFrame,
    lines: Sequence[int] | np.ndarray,
    items: dict[str, Item],
    users: dict[str, User],
    bad: BadRows,
    *,
    unknown_items: str = "raise",
    dedupe: bool = False,
    name: str = "dataset",
    items_path: Path | None = None,
) -> InteractionDataset:
    """Apply the unknown-item and duplicate policies and build the dataset.

    Args:
        path: The interactions file (for messages).
        rows: Parsed ``(user, item, timestamp, rating, review)`` tuples in file order.
        lines: The source line of each row.
        items: The catalogue; empty means "no item file": items are made from the ids.
        users: Users with attributes (users without interactions are kept, with empty history).
        bad: The bad-row collector (its report is attached as ``dataset.load_report``).
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"``.
        dedupe: Drop exact duplicate rows (counted) instead of keeping them (noted).
        name: Dataset name.
        items_path: The catalogue file, for messages.
    """
    if isinstance(rows, pd.DataFrame):
        frame = rows.reset_index(drop=True)
    else:
        frame = pd.DataFrame(rows, columns=list(INTERACTION_FIELDS))
    line_arr = np.asarray(lines, dtype=np.int64)
    if items:
        unknown = ~frame["item_id"].isin(items.keys()).to_numpy()
        if unknown.any():
            where = items_path.name if items_path else "the catalogue"
            first = int(np.flatnonzero(unknown)[0])
            if unknown_items == "raise":
                raise DataFormatError(
                    path,
                    int(line_arr[first]),
                    "item_id",
                    f"item {frame['item_id'].iat[first]!r} is not in {where} "
                    f"({int(unknown.sum())} such rows; pass unknown_items='skip' or 'add')",
                )
            if unknown_items == "skip":
                for k in np.flatnonzero(unknown):
                    bad.skip(
                        DataFormatError(
                            path,
                            int(line_arr[k]),
                            "item_id",
                            f"item {frame['item_id'].iat[k]!r} is not in {where}",
                        ),
                        "unknown item",
                    )
                frame, line_arr = frame[~unknown], line_arr[~unknown]
            else:
                for iid in pd.unique(frame["item_id"][unknown]):
                    items[iid] = Item(iid, iid)
                bad.note(
                    "unknown items added to the catalogue",
                    int(pd.unique(frame["item_id"][unknown]).size),
                )
    else:
        for iid in pd.unique(frame["item_id"]):
            items[iid] = Item(iid, iid)
    duplicated = frame.duplicated(keep="first").to_numpy()
    if duplicated.any():
        if dedupe:
            for k in np.flatnonzero(duplicated):
                bad.skip(
                    DataFormatError(path, int(line_arr[k]), None, "duplicates an earlier row"),
                    "duplicate row",
                )
            frame = frame[~duplicated]
        else:
            bad.note("exact duplicate rows", int(duplicated.sum()))
    bad.log(path)
    dataset = InteractionDataset(items.values(), frame, users.values(), name=name)
    dataset.load_report = bad
    return dataset
