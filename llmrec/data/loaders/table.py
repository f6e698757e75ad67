"""Generic tables: CSV / TSV / JSON Lines / Parquet with a column mapping.

The mapping goes from llmrec's names to yours: ``columns={"user_id": "uid", "item_id": "movie",
"timestamp": "ts", "rating": "stars", "review": "text"}``. Unmapped optional fields are taken
from same-named columns when present, else left empty. Item and user tables work the same way
(``item_columns`` for ``item_id``/``title``/``genres``/``year``/``description``; every other
column becomes an attribute).

Timestamps may be numbers (seconds, or milliseconds with ``timestamp_unit="ms"``) or ISO dates
(naive ones read as UTC). Error messages name the file, the line (for Parquet: the 1-based row)
and the column.

Example:
    >>> from llmrec.data.loaders.table import load_table
    >>> ds = load_table(
    ...     "ratings.csv",
    ...     columns={"user_id": "userId", "item_id": "movieId"},
    ...     items="movies.csv",
    ...     item_columns={"item_id": "movieId"},
    ... )  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import (
    INTERACTION_FIELDS,
    assemble,
    field_count_error,
    is_gzip,
    make_report,
    no_gc,
    open_binary,
    parse_columns,
    parse_id,
    parse_number,
    require_file,
    text_lines,
)
from llmrec.data.loaders.jsonl import read_jsonl
from llmrec.data.records import InteractionDataset, Item, User
from llmrec.data.validation import Catalogue, LoadReport, RatingScale, ValidationPolicy

ITEM_FIELDS = ("item_id", "title", "genres", "year", "description")
USER_FIELDS = ("user_id",)
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".pq")
# Text is data (a 100 KB title loads whole); the csv module's default cell limit is 128 KiB.
CSV_FIELD_LIMIT = 2**31 - 1


def table_kind(path: Path) -> str | None:
    """``"csv"``, ``"tsv"``, ``"jsonl"`` or ``"parquet"`` from the name (``.gz`` allowed)."""
    name = path.name.lower().removesuffix(".gz")
    for suffix, kind in (
        (".csv", "csv"),
        (".tsv", "tsv"),
        (".jsonl", "jsonl"),
        (".ndjson", "jsonl"),
        (".parquet", "parquet"),
        (".pq", "parquet"),
    ):
        if name.endswith(suffix):
            return kind
    return None


def _parquet(path: Path, columns: list[str] | None = None, as_rows: bool = False):
    """A Parquet file as a frame (or a list of row dicts), or a DataFormatError saying why not.

    A damaged file can fail while reading or while converting (its pandas metadata), so both
    happen here.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    require_file(path, "Parquet")
    try:
        table = pq.read_table(path, columns=columns)
        table.validate(full=True)  # a damaged page can hold invalid UTF-8 that reads fine
        return table.to_pylist() if as_rows else table.to_pandas()
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError, TypeError) as err:
        hint = " (the file is gzip-compressed; Parquet compresses inside, so gunzip it)"
        raise DataFormatError(
            path,
            None,
            None,
            f"is not a readable Parquet file ({err}){hint if is_gzip(path) else ''}",
        ) from err


def _parquet_names(path: Path) -> list[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    require_file(path, "Parquet")
    try:
        return pq.read_schema(path).names
    except (pa.ArrowException, OSError, ValueError, KeyError, IndexError, TypeError):
        return list(_parquet(path).columns)  # raises with the reason


def read_records(
    path: Path, bad: LoadReport, sep: str | None = None, encoding: str = "utf-8"
) -> tuple[list[str] | None, Iterator[tuple[int, dict[str, Any]]]]:
    """``(header or None, iterator of (line_no, record))`` for any supported table file."""
    kind = table_kind(path)
    if kind in ("csv", "tsv"):
        header, rows = _read_delimited(path, bad, sep or ("\t" if kind == "tsv" else ","), encoding)
        return header, ((line, dict(zip(header, row))) for line, row in rows)
    if kind == "jsonl":
        return None, read_jsonl(path, bad, encoding)
    if kind == "parquet":
        names = _parquet_names(path)
        rows = _parquet(path, as_rows=True)
        return names, ((k + 1, rec) for k, rec in enumerate(rows))
    raise ValueError(f"{path}: unknown table format; expected one of {TABLE_SUFFIXES} (or .gz)")


def read_columns(
    path: Path, bad: LoadReport, sep: str | None, encoding: str
) -> tuple[list[str] | None, Callable[[list[str]], tuple[np.ndarray, dict[str, Any]]]]:
    """``(header or None, collect)``: ``collect(names)`` reads the file into ``(lines, columns)``.

    Columnar reading for the interactions table, which can be large: Parquet columns are
    taken as typed arrays, CSV rows as lists; a JSON Lines record lacking a name gives ``None``.
    """
    kind = table_kind(path)
    if kind in ("csv", "tsv"):
        header, rows = _read_delimited(path, bad, sep or ("\t" if kind == "tsv" else ","), encoding)

        def collect_csv(names: list[str]):
            if encoding.lower().replace("-", "").replace("_", "") == "utf8":
                fast = _arrow_csv(path, header, names, sep or ("\t" if kind == "tsv" else ","))
                if fast is not None:
                    return fast
            index = [header.index(n) for n in names]
            lines, values = [], []
            with no_gc():  # millions of small lists otherwise trigger repeated full collections
                for line, row in rows:
                    lines.append(line)
                    values.append([row[i] for i in index])
                cols = list(zip(*values)) if values else [()] * len(names)
            return np.asarray(lines, dtype=np.int64), dict(zip(names, cols))

        return header, collect_csv
    if kind == "parquet":
        names_in_file = _parquet_names(path)

        def collect_parquet(names: list[str]):
            frame = _parquet(path, names)
            lines = np.arange(1, len(frame) + 1, dtype=np.int64)
            return lines, {n: frame[n] for n in names}

        return names_in_file, collect_parquet
    if kind == "jsonl":

        def collect_jsonl(names: list[str]):
            lines, cols = [], {n: [] for n in names}
            with no_gc():
                for line, rec in read_jsonl(path, bad, encoding):
                    lines.append(line)
                    for n in names:
                        cols[n].append(rec.get(n))
            return np.asarray(lines, dtype=np.int64), cols

        return None, collect_jsonl
    raise ValueError(f"{path}: unknown table format; expected one of {TABLE_SUFFIXES} (or .gz)")


def _arrow_csv(
    path: Path, header: list[str], names: list[str], sep: str
) -> tuple[np.ndarray, dict[str, Any]] | None:
    """Read a clean delimited file with pyarrow (multi-threaded), or ``None`` to use the exact path.

    Any irregularity (a short or long row, a blank line, a quoted newline, invalid UTF-8,
    duplicate header names) returns ``None``, and the row-by-row reader produces the precise
    error or skip. Line ``k + 2`` holds row ``k`` only when there is no such irregularity,
    which is checked by counting lines.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if len(set(header)) != len(header) or (path.suffix != ".gz" and is_gzip(path)):
        return None
    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={h: pa.string() for h in header},
                include_columns=names,
                strings_can_be_null=False,
            ),
            read_options=pacsv.ReadOptions(skip_rows=0),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError, OSError):
        return None
    with open_binary(path) as handle:
        n_lines, last = 0, b"\n"
        while block := handle.read(1 << 24):
            n_lines += block.count(b"\n")
            last = block[-1:]
    n_lines += last != b"\n"
    if n_lines != table.num_rows + 1:
        return None
    frame = table.to_pandas()
    lines = np.arange(2, table.num_rows + 2, dtype=np.int64)
    return lines, {n: frame[n] for n in names}


def _read_delimited(path: Path, bad: LoadReport, sep: str, encoding: str):
    """``(header, iterator of (line_no, fields))``; malformed rows go through ``bad``."""
    lines = text_lines(path, encoding, report=bad)
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        # The limit is process-wide in the csv module; raising it only lets larger cells load.
        csv.field_size_limit(min(CSV_FIELD_LIMIT, sys.maxsize))
    reader = csv.reader(lines, delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise DataFormatError(path, 1, None, "is empty; expected a header line") from None
    except csv.Error as err:
        raise DataFormatError(path, 1, None, f"has no readable header ({err})") from None
    header = [h.strip() for h in header]
    if not any(header):
        raise DataFormatError(path, 1, None, "has a blank first line; expected a header line")

    def rows() -> Iterator[tuple[int, list[str]]]:
        while True:
            start = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                bad.handle(DataFormatError(path, start, None, f"is not valid CSV ({err})"))
                continue
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(header):
                spans = reader.line_num > start  # a quote left open swallows the lines after it
                note = (
                    f"the record runs from line {start} to line {reader.line_num} (a stray quote?)"
                )
                err = field_count_error(path, start, len(row), header, note=note if spans else "")
                bad.handle(err)
                continue
            yield start, row

    return header, rows()


def resolve_columns(
    mapping: Mapping[str, str] | None,
    allowed: tuple[str, ...],
    required: tuple[str, ...],
    header: list[str] | None,
    path: Path,
) -> dict[str, str]:
    """Complete a canonical -> source column mapping and check it against the header."""
    mapping = dict(mapping or {})
    unknown = set(mapping) - set(allowed)
    if unknown:
        raise ValueError(
            f"column mapping keys {sorted(unknown)} are not llmrec fields; allowed: {allowed}"
        )
    for name in allowed:
        present = name in header if header is not None else name in required
        if name not in mapping and present:
            mapping[name] = name
    if header is not None:
        for name in required:
            if name not in mapping:
                raise DataFormatError(
                    path,
                    1,
                    name,
                    f"no column for {name!r} in the header {header}; map one with "
                    f"columns={{{name!r}: 'your_column'}} (CLI: --column {name}=your_column)",
                )
        for name, source in mapping.items():
            if source not in header:
                raise DataFormatError(
                    path, 1, source, f"column for {name!r} is not in the header {header}"
                )
    return mapping


def _with_id(
    columns: Mapping[str, str] | None, name: str, id_column: str | None, header: list[str] | None
) -> dict[str, str]:
    """Default an item/user table's id column to the interactions' one when that is there."""
    out = dict(columns or {})
    if name not in out and header is not None and name not in header and id_column in header:
        out[name] = id_column
    return out


def _load_items(
    path: Path,
    columns: Mapping[str, str] | None,
    bad: LoadReport,
    sep: str | None,
    genre_sep: str,
    encoding: str,
    id_column: str | None,
) -> dict[str, Item]:
    header, records = read_records(path, bad, sep, encoding)
    cols = resolve_columns(
        _with_id(columns, "item_id", id_column, header), ITEM_FIELDS, ("item_id",), header, path
    )
    if header is None:  # JSON Lines: optional fields by their own names unless mapped
        for name in ITEM_FIELDS:
            cols.setdefault(name, name)
    used = set(cols.values())
    items = Catalogue("item", path, bad)
    for line_no, rec in records:
        try:
            iid = parse_id(rec.get(cols["item_id"]), path, line_no, cols["item_id"])
            genres = rec.get(cols["genres"]) if "genres" in cols else None
            if isinstance(genres, str):
                genres = [g.strip() for g in genres.split(genre_sep) if g.strip()]
            elif genres is not None and not isinstance(genres, (list, tuple)):
                raise DataFormatError(path, line_no, cols["genres"], "expected a list or string")
            year = None
            if "year" in cols:
                number = parse_number(rec.get(cols["year"]), path, line_no, cols["year"])
                if number is not None and not (number.is_integer() and 0 < number < 10000):
                    raise DataFormatError(
                        path, line_no, cols["year"], f"expected a year, got {number:g}"
                    )
                year = None if number is None else int(number)
        except DataFormatError as err:
            bad.handle(err)
            continue
        title = rec.get(cols.get("title", ""))
        desc = rec.get(cols.get("description", ""))
        attrs = {k: v for k, v in rec.items() if k not in used}
        item = Item(
            iid,
            str(title) if title not in (None, "") else iid,
            tuple(str(g) for g in genres or ()),
            year,
            None if desc in (None, "") else str(desc),
            attrs,
        )
        items.add(iid, item, line_no, cols["item_id"])
    return items.rows


def _load_users(
    path: Path,
    columns: Mapping[str, str] | None,
    bad: LoadReport,
    sep: str | None,
    encoding: str,
    id_column: str | None,
) -> dict[str, User]:
    header, records = read_records(path, bad, sep, encoding)
    cols = resolve_columns(
        _with_id(columns, "user_id", id_column, header), USER_FIELDS, ("user_id",), header, path
    )
    users = Catalogue("user", path, bad)
    for line_no, rec in records:
        try:
            uid = parse_id(rec.get(cols["user_id"]), path, line_no, cols["user_id"])
        except DataFormatError as err:
            bad.handle(err)
            continue
        user = User(uid, {k: v for k, v in rec.items() if k != cols["user_id"]})
        users.add(uid, user, line_no, cols["user_id"])
    return users.rows


def load_table(
    path: str | Path,
    columns: Mapping[str, str] | None = None,
    items: str | Path | None = None,
    item_columns: Mapping[str, str] | None = None,
    users: str | Path | None = None,
    user_columns: Mapping[str, str] | None = None,
    *,
    sep: str | None = None,
    genre_sep: str = "|",
    timestamp_unit: str = "s",
    encoding: str = "utf-8",
    name: str | None = None,
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    policy: ValidationPolicy | Mapping[str, str] | None = None,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
    **format_checks: Any,
) -> InteractionDataset:
    """Load interactions (and optionally items and users) from CSV, TSV, JSON Lines or Parquet.

    Args:
        path: The interactions table.
        columns: llmrec name -> your column for ``user_id``, ``item_id``, ``timestamp``,
            ``rating``, ``review``; unmapped ones default to same-named columns when present.
        items: An item table; without one, the catalogue is the interacted item ids.
        item_columns: Mapping for ``item_id``, ``title``, ``genres``, ``year``, ``description``;
            ``item_id`` defaults to the interactions' item column when the table has it.
        users: A user table; its users without interactions are kept (empty histories).
        user_columns: Mapping for ``user_id`` (default as for ``item_columns``).
        sep: Field separator for delimited files (default ``,`` for .csv, tab for .tsv).
        genre_sep: Separator inside a string genres cell.
        timestamp_unit: ``"s"`` or ``"ms"`` for numeric timestamps (a column that is plainly
            in the other unit is a ``timestamp_unit`` finding).
        encoding: Text encoding; a line that does not decode raises naming file and line.
        name: Dataset name; default the file stem.
        on_error: ``"raise"`` or ``"skip"`` (counted, see ``dataset.load_report``).
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"``.
        dedupe: Drop exact duplicate interaction rows.
        policy: Finding class -> action (:class:`~llmrec.data.validation.ValidationPolicy`).
        rating_scale: ``(low, high[, step])``; without it ratings only need to be finite.
        collect_errors: Record every error in the report instead of raising at the first.
        **format_checks: For loaders built on this one (MovieLens CSV releases):
            ``expected_items``, ``format_scale``, ``required``.

    Raises:
        DataFormatError: a malformed row (file, line, field, what was expected).
    """
    if timestamp_unit not in ("s", "ms"):
        raise ValueError(f"timestamp_unit must be 's' or 'ms', got {timestamp_unit!r}")
    unknown = set(format_checks) - {"expected_items", "format_scale", "required"}
    if unknown:
        raise TypeError(f"load_table() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    path = Path(path).expanduser()
    bad = make_report(policy, on_error, unknown_items, dedupe, rating_scale, collect_errors)
    require_file(path, "interactions")
    catalogue: dict[str, Item] | None = None
    items_path = users_path = None
    if items is not None:
        items_path = Path(items).expanduser()
        catalogue = _load_items(
            items_path, item_columns, bad, sep, genre_sep, encoding, (columns or {}).get("item_id")
        )
    people: dict[str, User] | None = None
    if users is not None:
        users_path = Path(users).expanduser()
        user_id_column = (columns or {}).get("user_id")
        people = _load_users(users_path, user_columns, bad, sep, encoding, user_id_column)
    header, collect = read_columns(path, bad, sep, encoding)
    cols = resolve_columns(columns, INTERACTION_FIELDS, ("user_id", "item_id"), header, path)
    if header is None:
        for optional in ("timestamp", "rating", "review"):
            cols.setdefault(optional, optional)
    lines, raw = collect(sorted(set(cols.values())))
    frame, lines = parse_columns(raw, lines, path, cols, bad, timestamp_unit)
    stem = path.name.removesuffix(".gz")
    stem = stem[: stem.rfind(".")] if "." in stem else stem
    scale: RatingScale | None = format_checks.get("format_scale")
    return assemble(
        path,
        frame,
        lines,
        catalogue,
        people,
        bad,
        name=name or stem,
        items_path=items_path,
        users_path=users_path,
        expected_items=format_checks.get("expected_items"),
        fields=cols,
        rating_scale=scale,
        required=format_checks.get("required", ()),
        timestamp_unit=timestamp_unit,
    )
