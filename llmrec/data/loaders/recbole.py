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
from pathlib import Path

from llmrec.data.errors import BadRows, DataFormatError
from llmrec.data.loaders.common import assemble, check_policies, text_lines
from llmrec.data.records import InteractionDataset, Item, User

TITLE_FIELDS = ("movie_title", "title", "item_name", "name")
GENRE_FIELDS = ("class", "genre", "genres", "categories")
YEAR_FIELDS = ("release_year", "year")
DESCRIPTION_FIELDS = ("description", "overview", "plot")
VALID_TYPES = ("token", "token_seq", "float", "float_seq")


def _read_atomic(path: Path, bad: BadRows):
    """Yield ``(line_no, {field: value})`` with typed values; the header is validated first."""
    lines = text_lines(path)
    header_line = next(lines, "")
    header = header_line.rstrip("\r\n").split("\t")
    fields = []
    for spec in header:
        name, _, kind = spec.partition(":")
        if kind not in VALID_TYPES:
            raise DataFormatError(
                path, 1, spec, f"header entries must be name:type with type in {VALID_TYPES}"
            )
        fields.append((name, kind))
    reader = csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE)
    for line_no, row in enumerate(reader, start=2):
        if not row or row == [""]:
            continue
        if len(row) != len(fields):
            bad.handle(
                DataFormatError(
                    path, line_no, None, f"has {len(row)} columns, expected {len(fields)}"
                ),
                "wrong column count",
            )
            continue
        record = {}
        try:
            for (name, kind), raw in zip(fields, row):
                record[name] = _convert(raw, kind, path, line_no, name)
        except DataFormatError as err:
            bad.handle(err, "bad value")
            continue
        yield line_no, record


def _convert(raw: str, kind: str, path: Path, line: int, name: str):
    if kind == "token":
        return raw
    if kind == "token_seq":
        return tuple(raw.split())
    try:
        if kind == "float":
            return float(raw) if raw != "" else None
        return tuple(float(x) for x in raw.split())
    except ValueError as err:
        raise DataFormatError(path, line, name, f"expected a number, got {raw!r}") from err


def _first(record: dict, names: tuple[str, ...]):
    for name in names:
        if name in record:
            return name
    return None


def load_recbole(
    folder: str | Path,
    name: str | None = None,
    on_error: str = "raise",
    unknown_items: str = "raise",
    dedupe: bool = False,
) -> InteractionDataset:
    """Load a RecBole atomic dataset from ``folder`` (files ``NAME.inter``/``.item``/``.user``).

    Args:
        folder: The dataset folder.
        name: The file stem; default the folder name.
        on_error: ``"raise"`` on the first malformed row, or ``"skip"`` and report the count.
        unknown_items: What to do with interactions whose item is not in ``.item``: ``"raise"``,
            ``"skip"`` (counted and reported) or ``"add"`` (a bare item titled by its id).
        dedupe: Drop exact duplicate interaction rows (counted) instead of keeping them.
    """
    folder = Path(folder).expanduser()
    name = name or folder.name
    inter_path = folder / f"{name}.inter"
    if not inter_path.is_file():
        raise FileNotFoundError(f"{inter_path} not found (a RecBole dataset needs NAME.inter)")
    bad = check_policies(on_error, unknown_items)

    items: dict[str, Item] = {}
    item_path = folder / f"{name}.item"
    if item_path.is_file():
        for _, rec in _read_atomic(item_path, bad):
            iid = rec.get("item_id")
            if iid is None:
                raise DataFormatError(item_path, 1, "item_id", "the .item file needs item_id")
            title_f, genre_f = _first(rec, TITLE_FIELDS), _first(rec, GENRE_FIELDS)
            year_f, desc_f = _first(rec, YEAR_FIELDS), _first(rec, DESCRIPTION_FIELDS)
            title = rec[title_f] if title_f else iid
            if isinstance(title, tuple):
                title = " ".join(title)
            genres = rec[genre_f] if genre_f else ()
            if isinstance(genres, str):
                genres = tuple(genres.split())
            year = None
            if year_f and rec[year_f] not in (None, ""):
                try:
                    year = int(float(rec[year_f]))
                except ValueError:
                    year = None
            used = {"item_id", title_f, genre_f, year_f, desc_f}
            attrs = {k: v for k, v in rec.items() if k not in used}
            desc = rec[desc_f] if desc_f else None
            if isinstance(desc, tuple):
                desc = " ".join(desc)
            items[iid] = Item(iid, title, tuple(genres), year, desc, attrs)

    users: dict[str, User] = {}
    user_path = folder / f"{name}.user"
    if user_path.is_file():
        for _, rec in _read_atomic(user_path, bad):
            uid = rec.pop("user_id", None)
            if uid is None:
                raise DataFormatError(user_path, 1, "user_id", "the .user file needs user_id")
            if "age" in rec:
                with contextlib.suppress(TypeError, ValueError):
                    rec["age"] = int(float(rec["age"]))
            users[uid] = User(uid, rec)

    rows, lines = [], []
    for line_no, rec in _read_atomic(inter_path, bad):
        for required in ("user_id", "item_id"):
            if required not in rec:
                raise DataFormatError(inter_path, 1, required, "the .inter file needs this field")
        review = rec.get("review")
        if isinstance(review, tuple):
            review = " ".join(review)
        rows.append(
            (rec["user_id"], rec["item_id"], rec.get("timestamp"), rec.get("rating"), review)
        )
        lines.append(line_no)
    return assemble(
        inter_path,
        rows,
        lines,
        items,
        users,
        bad,
        unknown_items=unknown_items,
        dedupe=dedupe,
        name=name,
        items_path=item_path,
    )
