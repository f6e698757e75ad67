"""What every loader shares: opening files (gzip, BOM, directories and links), reading text
with exact line numbers, parsing interaction fields, and turning parsed rows into an
:class:`InteractionDataset` through the validation layer (:mod:`llmrec.data.validation`).

Keywords every loader takes:

* ``policy``: a :class:`~llmrec.data.validation.ValidationPolicy` (or a mapping finding class
  -> action) deciding each class of finding;
* ``on_error``: ``"raise"`` or ``"skip"`` for row-level findings (a shortcut into the policy);
* ``unknown_items``: ``"raise"``, ``"skip"`` or ``"add"`` (a shortcut for ``unknown_item``);
* ``dedupe``: drop exact duplicate interaction rows (a shortcut for ``duplicate_row``);
* ``rating_scale``: ``(low, high[, step])`` declared by the user;
* ``collect_errors``: record every error in the report instead of raising at the first
  (what ``llmrec data check`` does).
"""

from __future__ import annotations

import contextlib
import errno
import gc
import gzip
import math
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.errors import DataFormatError
from llmrec.data.records import InteractionDataset, Item, User
from llmrec.data.validation import (
    ERROR,
    FIX,
    SKIP,
    LoadReport,
    RatingScale,
    ValidationPolicy,
    check_domains,
)

UNKNOWN_ITEM_POLICIES = ("raise", "skip", "add")
INTERACTION_FIELDS = ("user_id", "item_id", "timestamp", "rating", "review")
GZIP_MAGIC = b"\x1f\x8b"
BOM = "\ufeff"
# Ids written as floats are exact only up to 2**53; beyond it two ids can share one float.
EXACT_FLOAT_ID = 2.0**53


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


def file_state(path: Path) -> str:
    """``"file"``, ``"dir"``, ``"missing"``, ``"loop"`` (a symlink cycle) or ``"dangling"``."""
    try:
        if path.is_file():
            return "file"
        if path.is_dir():
            return "dir"
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "loop"
        raise
    if path.is_symlink():
        try:
            path.resolve(strict=True)
        except RuntimeError:
            return "loop"
        except OSError as err:
            return "loop" if err.errno == errno.ELOOP else "dangling"
        return "dangling"
    return "missing"


def present(path: Path) -> bool:
    """Whether something is at ``path`` (a file, or a directory or link that must be reported)."""
    return file_state(path) != "missing"


def require_file(path: Path, role: str = "data") -> Path:
    """``path`` if it is a readable file; else a :class:`DataFormatError` saying what it is."""
    state = file_state(path)
    if state == "file":
        return path
    what = {
        "dir": "is a directory",
        "loop": "is a symlink loop (following it never reaches a file)",
        "dangling": "is a symlink to nothing",
        "missing": "does not exist",
    }[state]
    raise DataFormatError(path, None, None, f"{what}; expected the {role} file")


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == GZIP_MAGIC


def open_binary(path: Path, report: LoadReport | None = None):
    """Open a file for reading bytes, un-gzipping ``*.gz`` and gzip content under other names.

    Gzip content under a plain name is an ``encoding`` finding: read (``fix-and-report``) or
    refused with a message that says gzip.
    """
    require_file(path)
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if is_gzip(path):
        if report is not None:
            report.finding(
                "encoding",
                DataFormatError(
                    path, None, None, "is gzip-compressed but not named .gz; read as gzip"
                ),
            )
        return gzip.open(path, "rb")
    return open(path, "rb")


def _raw_lines(path: Path, report: LoadReport | None) -> Iterator[bytes]:
    """Lines of bytes; a truncated or corrupt gzip stream becomes a DataFormatError."""
    line_no, raw = 0, b"\n"
    try:
        with open_binary(path, report) as handle:
            for line_no, raw in enumerate(handle, start=1):  # noqa: B007
                yield raw
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        raise DataFormatError(
            path, line_no + 1, None, f"the gzip stream is truncated or corrupt ({err})"
        ) from err
    if report is not None and line_no > 1 and not raw.endswith(b"\n") and raw.strip():
        report.note(f"{path}: the last line ({line_no}) has no line end; was the file cut short?")


def text_lines(
    path: Path,
    encoding: str = "utf-8",
    fallback: str | None = None,
    report: LoadReport | None = None,
) -> Iterator[str]:
    """Yield decoded lines (with their newline) of ``path``; line ``k`` is the ``k``-th yielded.

    A UTF-8 byte-order mark before the first line is removed (an ``encoding`` finding).

    Args:
        path: A text file, optionally gzipped (by name or by content).
        encoding: The expected encoding.
        fallback: Encoding to use for a line that ``encoding`` cannot decode (``"latin-1"`` for
            MovieLens, an ``encoding`` finding); without it such a line raises
            :class:`DataFormatError`.
        report: Where findings go; ``None`` reads quietly (format detection).
    """
    for line_no, raw in enumerate(_raw_lines(path, report), start=1):
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError as err:
            if fallback is None:
                bad = raw[err.start : err.start + 1].hex()
                raise DataFormatError(
                    path,
                    line_no,
                    None,
                    f"is not {encoding} text (byte 0x{bad} at column {err.start + 1}); "
                    "pass encoding='latin-1' (or the file's encoding) if that is intended",
                    finding="schema",
                ) from err
            text = raw.decode(fallback)
            if report is not None:
                report.finding(
                    "encoding",
                    DataFormatError(path, line_no, None, f"is not {encoding}; read as {fallback}"),
                )
        if line_no == 1 and text.startswith(BOM):
            text = text[1:]
            if report is not None:
                report.finding(
                    "encoding", DataFormatError(path, 1, None, "starts with a UTF-8 BOM; removed")
                )
        yield text


def make_report(
    policy: ValidationPolicy | Mapping[str, str] | None = None,
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
) -> LoadReport:
    """The load report of one load, with its policy built from the loader's keywords."""
    resolved = ValidationPolicy.from_options(
        policy,
        on_error=on_error,
        unknown_items=unknown_items,
        dedupe=dedupe,
        rating_scale=rating_scale,
    )
    return LoadReport(resolved, collect=collect_errors)


def field_count_error(
    path: Path, line: int, got: int, names: Sequence[str], sep: str | None = None, note: str = ""
) -> DataFormatError:
    """ "has 3 fields, expected 4: missing 'timestamp'" (the field named where columns are known)."""
    kind = f"{sep!r}-separated fields" if sep else "fields"
    expected = len(names)
    if got < expected:
        missing = list(names[got:])
        detail = f"missing {', '.join(repr(m) for m in missing)}"
        field_name = missing[0]
    else:
        detail = f"{got - expected} more than the columns {list(names)}"
        field_name = None
    message = f"has {got} {kind}, expected {expected}: {detail}" + (f"; {note}" if note else "")
    return DataFormatError(path, line, field_name, message, "schema")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and value.strip() == ""


def parse_id(value: Any, path: Path, line: int | None, field: str) -> str:
    """An id as a string; numbers keep every digit (a float beyond 2**53 is a finding)."""
    if _blank(value):
        raise DataFormatError(path, line, field, "expected a non-empty id, got nothing", "schema")
    if isinstance(value, bool):
        raise DataFormatError(path, line, field, f"expected an id, got {value!r}", "schema")
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not math.isfinite(value):
            raise DataFormatError(path, line, field, f"expected an id, got {value!r}", "schema")
        if abs(value) >= EXACT_FLOAT_ID:
            raise DataFormatError(
                path,
                line,
                field,
                f"id {value!r} is a floating-point number beyond 2**53, so its digits may be "
                "lost (two ids can become one); write ids as strings or integers",
                "lossy_id",
            )
        if value.is_integer():
            value = int(value)
    if isinstance(value, (list, dict, tuple)):
        raise DataFormatError(
            path, line, field, f"expected an id, got a {type(value).__name__}", "schema"
        )
    return str(value).strip()


def parse_number(value: Any, path: Path, line: int | None, field: str) -> float | None:
    """A float, or ``None`` for a blank cell."""
    if _blank(value):
        return None
    if isinstance(value, bool):
        raise DataFormatError(path, line, field, f"expected a number, got {value!r}", "schema")
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise DataFormatError(
            path, line, field, f"expected a number, got {value!r}", "schema"
        ) from None
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
    if isinstance(value, bool):
        raise DataFormatError(path, line, field, f"expected a time, got {value!r}", "schema")
    if isinstance(value, (int, float, np.integer, np.floating)):
        try:
            return float(value) / (1000.0 if unit == "ms" else 1.0)
        except OverflowError:
            raise DataFormatError(
                path, line, field, f"expected a time, got {value!r}", "schema"
            ) from None
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
            path,
            line,
            field,
            f"expected seconds since the epoch or an ISO date, got {value!r}",
            "schema",
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
    """Ids as stripped strings, and the rows the exact parser must see (blank or unusual).

    Integers become their digits without a fixed-width round trip (JSON numbers beyond 64 bits
    keep every digit); floats only when integral and below 2**53, the rest go to the exact
    parser, which names the problem.
    """
    if s.dtype.kind in "iu":  # typed integer ids: no float round trip, no precision loss
        return s.astype(str).astype(object), np.zeros(len(s), bool)
    out = pd.Series([None] * len(s), dtype=object)
    if s.dtype.kind == "f":
        values = s.to_numpy(dtype=float)
        fine = np.isfinite(values) & (np.abs(values) < EXACT_FLOAT_ID)
        integral = fine & (values == np.floor(values))
        text = np.array([None] * len(s), dtype=object)
        text[integral] = values[integral].astype(np.int64).astype(str)
        out[:] = text
        return out, ~integral
    is_str, _, _ = _kinds(s)
    if is_str.any():
        out[is_str] = s[is_str].astype(str).str.strip().to_numpy()
    is_int = np.zeros(len(s), bool)
    if s.dtype == object and len(s):
        is_int = s.map(type).isin([int, np.int64, np.int32]).to_numpy()
    if is_int.any():
        out[is_int] = s[is_int].map(str).to_numpy()
    slow = ~(is_str | is_int) | out.isna().to_numpy() | (out == "").to_numpy()
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
    bad: LoadReport,
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
        bad: The load report (its policy decides each bad row).
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
            bad.handle(err)
            keep[k] = False
    return frame[keep].reset_index(drop=True), lines[keep]


def _bare_items(ids: Sequence[str]) -> dict[str, Item]:
    return {iid: Item(iid, iid) for iid in pd.unique(pd.Series(ids, dtype=object))}


def assemble(
    path: Path,
    rows: list[tuple[str, str, float | None, float | None, str | None]] | pd.DataFrame,
    lines: Sequence[int] | np.ndarray,
    items: dict[str, Item] | None,
    users: dict[str, User] | None,
    report: LoadReport,
    *,
    name: str = "dataset",
    items_path: Path | None = None,
    users_path: Path | None = None,
    expected_items: Path | None = None,
    fields: Mapping[str, str] | None = None,
    rating_scale: RatingScale | tuple[float, ...] | None = None,
    required: tuple[str, ...] = (),
    timestamp_unit: str = "s",
) -> InteractionDataset:
    """Send parsed rows through the validation layer and build the dataset.

    The checks, in order: domains (required values, timestamp unit and range, rating scale),
    the catalogue (a missing or empty item file, unknown items), users (unknown users when a
    user file was read), duplicate rows, and nothing left. Each finding goes to ``report``.

    Args:
        path: The interactions file (for messages).
        rows: Parsed ``(user, item, timestamp, rating, review)`` tuples in file order.
        lines: The source line of each row.
        items: The item file's rows, or ``None`` without an item file (items are made from
            the ids, and reported).
        users: The user file's rows, or ``None`` without a user file.
        report: The load report; attached as ``dataset.load_report``.
        name: Dataset name.
        items_path: The item file, for messages.
        users_path: The user file, for messages.
        expected_items: Where this format keeps its item file, when ``items`` is ``None``
            because it is absent (a ``missing_item_file`` finding).
        fields: Canonical name -> the file's column name, for messages.
        rating_scale: The format's rating scale (the policy's, if declared, wins).
        required: Fields the format requires (``("rating", "timestamp")``).
        timestamp_unit: The unit numeric timestamps were read in.

    Raises:
        DataFormatError: for an ``error`` finding, and always when no interaction is left.
    """
    if isinstance(rows, pd.DataFrame):
        frame = rows.reset_index(drop=True)
    else:
        frame = pd.DataFrame(rows, columns=list(INTERACTION_FIELDS))
    line_arr = np.asarray(lines, dtype=np.int64)
    fields = dict(fields or {})
    if not len(frame) and not report.dropped(path):
        _nothing(path, report, "holds no interactions (an empty file, or a header only)")
    frame, line_arr = check_domains(
        report,
        frame,
        line_arr,
        path,
        fields=fields,
        rating_scale=rating_scale,
        required=required,
        timestamp_unit=timestamp_unit,
    )
    item_field = fields.get("item_id", "item_id")
    if items is None and expected_items is not None:
        err = DataFormatError(
            expected_items,
            None,
            None,
            "is missing, and this format keeps its item titles there (policy "
            "missing_item_file=fix loads bare items named by their ids)",
        )
        if report.finding("missing_item_file", err) != FIX:
            frame, line_arr = frame.iloc[:0], line_arr[:0]
    if items is not None and not items and len(frame):
        where = items_path or "the item file"
        err = DataFormatError(
            where,
            None,
            None,
            f"has no item rows, but {len(frame)} interactions in {Path(path).name} reference "
            "items (policy missing_item_file=fix loads bare items)",
        )
        if report.finding("missing_item_file", err) == FIX:
            items = None
        else:
            frame, line_arr = frame.iloc[:0], line_arr[:0]
    if items is None:
        items = _bare_items(frame["item_id"])
        report.note(f"{len(items)} items made from the interaction ids (no item file)")
    else:
        items = dict(items)
        unknown = ~frame["item_id"].isin(items.keys()).to_numpy()
        where = Path(items_path).name if items_path else "the catalogue"
        ids = frame["item_id"].to_numpy()
        action = report.rows(
            "unknown_item",
            unknown,
            line_arr,
            path,
            item_field,
            lambda k: f"item {ids[k]!r} is not in {where}",
        )
        if action == FIX:
            items.update(_bare_items(ids[unknown]))
        elif action in (ERROR, SKIP):
            frame, line_arr = frame[~unknown], line_arr[~unknown]
    if users is not None:
        unknown = ~frame["user_id"].isin(users.keys()).to_numpy()
        where = Path(users_path).name if users_path else "the user file"
        ids = frame["user_id"].to_numpy()
        action = report.rows(
            "unknown_user",
            unknown,
            line_arr,
            path,
            fields.get("user_id", "user_id"),
            lambda k: f"user {ids[k]!r} is not in {where}",
        )
        if action in (ERROR, SKIP):
            frame, line_arr = frame[~unknown], line_arr[~unknown]
    frame = frame.reset_index(drop=True)
    duplicated = frame.duplicated(keep="first").to_numpy()
    if duplicated.any():
        hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        first_line = {}
        for h, line in zip(hashes[~duplicated], line_arr[~duplicated]):
            first_line.setdefault(h, int(line))
        action = report.rows(
            "duplicate_row",
            duplicated,
            line_arr,
            path,
            None,
            lambda k: f"repeats line {first_line.get(hashes[k], '?')} exactly",
        )
        if action in (ERROR, SKIP):
            frame, line_arr = frame[~duplicated], line_arr[~duplicated]
    if not len(frame):
        _nothing(path, report, "has no interactions left after validation")
    report.set_kept(path, len(frame))
    report.log()
    dataset = InteractionDataset(items.values(), frame, (users or {}).values(), name=name)
    dataset.load_report = report
    return dataset


def _nothing(path: Path, report: LoadReport, what: str) -> None:
    """Zero interactions is an error, never a result; the message says what was dropped."""
    dropped = f"; findings: {report.summary()}" if report.counts else ""
    err = DataFormatError(path, None, None, f"{what}; a dataset needs interactions{dropped}")
    err.finding = "empty"
    err.report = report
    raise err
