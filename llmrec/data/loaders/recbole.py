"""RecBole atomic files: ``NAME.inter``, ``NAME.item``, ``NAME.user``.

Headers are ``name:type`` (``token``, ``token_seq``, ``float``, ``float_seq``), tab-separated.
Common field names are mapped onto llmrec's records (``movie_title`` -> title, ``class`` ->
genres, ``release_year`` -> year); every other column is kept in ``attributes``.

Example:
    >>> from llmrec.data.loaders.recbole import load_recbole
    >>> ds = load_recbole("~/.cache/llmrec/data/ml-100k")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import (
    assemble,
    field_count_error,
    make_report,
    parse_columns,
    present,
    require_file,
    text_lines,
)
from llmrec.data.records import InteractionDataset, Item, User
from llmrec.data.validation import Catalogue, LoadReport, ValidationPolicy

TITLE_FIELDS = ("movie_title", "title", "item_name", "name")
GENRE_FIELDS = ("class", "genre", "genres", "categories")
YEAR_FIELDS = ("release_year", "year")
DESCRIPTION_FIELDS = ("description", "overview", "plot")
VALID_TYPES = ("token", "token_seq", "float", "float_seq")
CSV_FIELD_LIMIT = 2**31 - 1


def _read_atomic(
    path: Path, bad: LoadReport, required: tuple[str, ...] = ()
) -> tuple[list[str], Iterator[tuple[int, dict[str, Any]]]]:
    """``(field names, iterator of (line_no, {field: value}))``; the header is checked first."""
    lines = text_lines(require_file(path, "RecBole"), report=bad)
    header_line = next(lines, "")
    if not header_line.strip():
        raise DataFormatError(path, 1, None, "has no header; expected name:type entries")
    header = header_line.rstrip("\r\n").split("\t")
    fields = []
    for spec in header:
        name, _, kind = spec.partition(":")
        if kind not in VALID_TYPES:
            raise DataFormatError(
                path, 1, spec, f"header entries must be name:type with type in {VALID_TYPES}"
            )
        fields.append((name, kind))
    names = [name for name, _ in fields]
    for name in required:
        if name not in names:
            raise DataFormatError(path, 1, name, f"is required in the header, got {header}")
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        # The limit is process-wide in the csv module; raising it only lets larger cells load.
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)

    def rows() -> Iterator[tuple[int, dict[str, Any]]]:
        for line_no, row in enumerate(reader, start=2):
            if not row or (len(row) == 1 and not row[0].strip()):
                continue
            if len(row) != len(fields):
                bad.handle(field_count_error(path, line_no, len(row), names))
                continue
            record = {}
            try:
                for (name, kind), raw in zip(fields, row):
                    record[name] = _convert(raw, kind, path, line_no, name)
            except DataFormatError as err:
                bad.handle(err)
                continue
            yield line_no, record

    return names, rows()


def _convert(raw: str, kind: str, path: Path, line: int, name: str):
    if kind == "token":
        return raw
    if kind == "token_seq":
        return tuple(raw.split())
    try:
        if kind == "float":
            return float(raw) if raw.strip() != "" else None
        return tuple(float(x) for x in raw.split())
    except ValueError as err:
        raise DataFormatError(
            path, line, name, f"expected a number, got {raw!r}", "schema"
        ) from err


def _first(record: dict, names: tuple[str, ...]):
    for name in names:
        if name in record:
            return name
    return None


def _year(value: Any) -> int | None:
    """A whole year from a ``float`` or ``token`` cell, else ``None`` (kept as given)."""
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() and 0 < number < 10000 else None


def _load_items(item_path: Path, bad: LoadReport) -> dict[str, Item]:
    items = Catalogue("item", item_path, bad)
    _, records = _read_atomic(item_path, bad, required=("item_id",))
    odd_years: dict[str, int] = {}
    for line_no, rec in records:
        iid = rec["item_id"]
        if not iid.strip():
            bad.handle(DataFormatError(item_path, line_no, "item_id", "expected a non-empty id"))
            continue
        title_f, genre_f = _first(rec, TITLE_FIELDS), _first(rec, GENRE_FIELDS)
        year_f, desc_f = _first(rec, YEAR_FIELDS), _first(rec, DESCRIPTION_FIELDS)
        title = rec[title_f] if title_f else iid
        if isinstance(title, tuple):
            title = " ".join(title)
        genres = rec[genre_f] if genre_f else ()
        if isinstance(genres, str):
            genres = tuple(genres.split())
        year = _year(rec[year_f]) if year_f else None
        used = {"item_id", title_f, genre_f, desc_f}
        if year is not None or not year_f or rec[year_f] in (None, ""):
            used.add(year_f)
        else:  # not a year: kept as given in attributes, and counted below
            odd_years[year_f] = odd_years.get(year_f, 0) + 1
        attrs = {k: v for k, v in rec.items() if k not in used}
        desc = rec[desc_f] if desc_f else None
        if isinstance(desc, tuple):
            desc = " ".join(desc)
        items.add(iid, Item(iid, title, tuple(genres), year, desc, attrs), line_no, "item_id")
    for name, n in odd_years.items():
        bad.note(
            f"{item_path.name}: {n} items have a {name} that is not a whole year; kept as given in attributes[{name!r}]"
        )
    return items.rows


def _load_users(user_path: Path, bad: LoadReport) -> dict[str, User]:
    users = Catalogue("user", user_path, bad)
    _, records = _read_atomic(user_path, bad, required=("user_id",))
    for line_no, rec in records:
        uid = rec.pop("user_id")
        if not uid.strip():
            bad.handle(DataFormatError(user_path, line_no, "user_id", "expected a non-empty id"))
            continue
        if "age" in rec:
            with contextlib.suppress(TypeError, ValueError, OverflowError):  # age stays as given
                rec["age"] = int(float(rec["age"]))
        users.add(uid, User(uid, rec), line_no, "user_id")
    return users.rows


def load_recbole(
    folder: str | Path,
    name: str | None = None,
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    *,
    policy: ValidationPolicy | Mapping[str, str] | None = None,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
) -> InteractionDataset:
    """Load a RecBole atomic dataset from ``folder`` (files ``NAME.inter``/``.item``/``.user``).

    ``.item`` and ``.user`` are optional in RecBole's format: without ``.item`` the items are
    bare ids (noted in the report). A year column that does not hold a whole year is kept as
    given in the item's attributes (and noted), never dropped.

    Args:
        folder: The dataset folder.
        name: The file stem; default the folder name.
        on_error: ``"raise"`` on the first malformed row, or ``"skip"`` and report the count.
        unknown_items: What to do with interactions whose item is not in ``.item``: ``"raise"``,
            ``"skip"`` (counted and reported) or ``"add"`` (a bare item titled by its id).
        dedupe: Drop exact duplicate interaction rows (counted) instead of keeping them.
        policy: Finding class -> action (:class:`~llmrec.data.validation.ValidationPolicy`).
        rating_scale: ``(low, high[, step])``; RecBole files do not say their scale.
        collect_errors: Record every error in the report instead of raising at the first.
    """
    folder = Path(folder).expanduser()
    name = name or folder.name
    inter_path = folder / f"{name}.inter"
    if not present(inter_path):
        raise FileNotFoundError(f"{inter_path} not found (a RecBole dataset needs NAME.inter)")
    bad = make_report(policy, on_error, unknown_items, dedupe, rating_scale, collect_errors)
    item_path = folder / f"{name}.item"
    items = _load_items(item_path, bad) if present(item_path) else None
    user_path = folder / f"{name}.user"
    users = _load_users(user_path, bad) if present(user_path) else None

    names, records = _read_atomic(inter_path, bad, required=("user_id", "item_id"))
    columns = {f: f for f in ("user_id", "item_id", "timestamp", "rating", "review") if f in names}
    lines, raw = [], {f: [] for f in columns}
    for line_no, rec in records:
        lines.append(line_no)
        for f in columns:
            value = rec[f]
            raw[f].append(" ".join(value) if f == "review" and isinstance(value, tuple) else value)
    frame, line_arr = parse_columns(raw, lines, inter_path, columns, bad)
    return assemble(
        inter_path,
        frame,
        line_arr,
        items,
        users,
        bad,
        name=name,
        items_path=item_path,
        users_path=user_path,
    )
