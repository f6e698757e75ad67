"""MovieLens raw files, as GroupLens distributes them.

* ml-100k: ``u.data`` (tab-separated ``user item rating timestamp``), ``u.item``
  (pipe-separated ``id|title|release date|video release date|IMDb URL|19 genre flags``),
  ``u.user`` (``id|age|gender|occupation|zip``), ``u.genre`` (``name|index``, optional).
* ml-latest, ml-20m, ml-25m, ml-32m: ``ratings.csv`` (``userId,movieId,rating,timestamp``)
  and ``movies.csv`` (``movieId,title,genres`` with ``|``-separated genres), UTF-8.
* ml-1m (and ml-10m's layout): ``ratings.dat`` (``UserID::MovieID::Rating::Timestamp``),
  ``movies.dat`` (``MovieID::Title::Genre|Genre``), ``users.dat``
  (``UserID::Gender::Age::Occupation::Zip-code``; age and occupation are codes, decoded here).

The files are latin-1 in reality (titles such as "Misérables"); each line is read as UTF-8 and
falls back to latin-1, so both the originals and re-encoded copies load. Titles lose their
trailing ``" (1995)"``, which becomes ``year``.

Example:
    >>> from llmrec.data.loaders.movielens import load_movielens
    >>> ds = load_movielens("ml-100k")  # doctest: +SKIP
    >>> ds.stats().interactions  # doctest: +SKIP
    100000
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np

from llmrec.data.errors import BadRows, DataFormatError
from llmrec.data.loaders.common import assemble, check_policies, no_gc, parse_columns, text_lines
from llmrec.data.records import InteractionDataset, Item, User

ML100K_GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
ML1M_AGES = {
    1: "Under 18",
    18: "18-24",
    25: "25-34",
    35: "35-44",
    45: "45-49",
    50: "50-55",
    56: "56+",
}
ML1M_OCCUPATIONS = (
    "other",
    "academic/educator",
    "artist",
    "clerical/admin",
    "college/grad student",
    "customer service",
    "doctor/health care",
    "executive/managerial",
    "farmer",
    "homemaker",
    "K-12 student",
    "lawyer",
    "programmer",
    "retired",
    "sales/marketing",
    "scientist",
    "self-employed",
    "technician/engineer",
    "tradesman/craftsman",
    "unemployed",
    "writer",
)
_YEAR = re.compile(r"^(.*?)\s*\((\d{4})\)\s*$")
FIELDS = ("user_id", "item_id", "rating", "timestamp")
COLUMNS = {name: name for name in FIELDS}


def is_movielens(folder: Path) -> bool:
    if (folder / "u.data").is_file() or (folder / "ratings.dat").is_file():
        return True
    return (folder / "ratings.csv").is_file() and (folder / "movies.csv").is_file()


def split_title(title: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``."""
    match = _YEAR.match(title)
    if not match:
        return title.strip(), None
    return match.group(1), int(match.group(2))


def _rows(path: Path, sep: str, n_fields: int | None, bad: BadRows):
    """Yield ``(line_no, fields)``; wrong field counts go through the bad-row policy."""
    for line_no, line in enumerate(text_lines(path, fallback="latin-1"), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split(sep)
        if n_fields is not None and len(parts) != n_fields:
            bad.handle(
                DataFormatError(
                    path,
                    line_no,
                    None,
                    f"has {len(parts)} {sep!r}-separated fields, expected {n_fields}",
                ),
                "wrong field count",
            )
            continue
        yield line_no, parts


def _int_field(value: str, path: Path, line: int, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataFormatError(path, line, field, f"expected an integer, got {value!r}") from None


def _load_ml100k_items(folder: Path, bad: BadRows) -> dict[str, Item]:
    genre_path = folder / "u.genre"
    genres = list(ML100K_GENRES)
    if genre_path.is_file():
        named = {}
        for line_no, parts in _rows(genre_path, "|", 2, bad):
            named[_int_field(parts[1], genre_path, line_no, "index")] = parts[0]
        genres = [named[k] for k in sorted(named)]
    path = folder / "u.item"
    items: dict[str, Item] = {}
    for line_no, parts in _rows(path, "|", 5 + len(genres), bad):
        try:
            flags = [_int_field(f, path, line_no, f"genre {g}") for f, g in zip(parts[5:], genres)]
            if any(f not in (0, 1) for f in flags):
                raise DataFormatError(path, line_no, "genre flags", "expected 0 or 1 flags")
            iid = parts[0].strip()
            if not iid:
                raise DataFormatError(path, line_no, "movie id", "expected a non-empty id")
        except DataFormatError as err:
            bad.handle(err, "bad value")
            continue
        title, year = split_title(parts[1])
        if year is None and parts[2][-4:].isdigit():
            year = int(parts[2][-4:])
        attrs = {"release_date": parts[2], "imdb_url": parts[4]}
        chosen = tuple(g for g, f in zip(genres, flags) if f)
        items[iid] = Item(iid, title, chosen, year, None, attrs)
    return items


def _load_ml100k_users(folder: Path, bad: BadRows) -> dict[str, User]:
    path = folder / "u.user"
    users: dict[str, User] = {}
    if not path.is_file():
        return users
    for line_no, parts in _rows(path, "|", 5, bad):
        try:
            age = _int_field(parts[1], path, line_no, "age")
        except DataFormatError as err:
            bad.handle(err, "bad value")
            continue
        attrs = {"age": age, "gender": parts[2], "occupation": parts[3], "zip_code": parts[4]}
        users[parts[0]] = User(parts[0], attrs)
    return users


def _load_ml1m_items(folder: Path, bad: BadRows) -> dict[str, Item]:
    path = folder / "movies.dat"
    items: dict[str, Item] = {}
    for _, parts in _rows(path, "::", 3, bad):
        title, year = split_title(parts[1])
        genres = tuple(g for g in parts[2].split("|") if g and g != "(no genres listed)")
        items[parts[0]] = Item(parts[0], title, genres, year)
    return items


def _load_ml1m_users(folder: Path, bad: BadRows) -> dict[str, User]:
    path = folder / "users.dat"
    users: dict[str, User] = {}
    if not path.is_file():
        return users
    for line_no, parts in _rows(path, "::", 5, bad):
        try:
            age = _int_field(parts[2], path, line_no, "Age")
            occupation = _int_field(parts[3], path, line_no, "Occupation")
            if age not in ML1M_AGES:
                raise DataFormatError(
                    path, line_no, "Age", f"expected one of the codes {sorted(ML1M_AGES)}"
                )
            if not 0 <= occupation < len(ML1M_OCCUPATIONS):
                raise DataFormatError(path, line_no, "Occupation", "expected a code in 0..20")
        except DataFormatError as err:
            bad.handle(err, "bad value")
            continue
        attrs = {
            "gender": parts[1],
            "age": age,
            "age_group": ML1M_AGES[age],
            "occupation": ML1M_OCCUPATIONS[occupation],
            "zip_code": parts[4],
        }
        users[parts[0]] = User(parts[0], attrs)
    return users


def _fast_ratings(path: Path, sep: str) -> dict | None:
    """The four rating columns via pyarrow, or ``None`` when the file is not perfectly regular.

    ``u.data`` and ``ratings.dat`` are plain numbers; any irregularity (a wrong field count,
    a blank line) makes the exact reader produce the precise error or skip instead.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    data = path.read_bytes()
    if sep != "\t":
        data = data.replace(sep.encode(), b"\t")
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=list(FIELDS)),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={f: pa.string() for f in FIELDS}, strings_can_be_null=False
            ),
        )
    except (pa.ArrowInvalid, UnicodeDecodeError):
        return None
    n_lines = data.count(b"\n") + (not data.endswith(b"\n") and len(data) > 0)
    if n_lines != table.num_rows:
        return None
    frame = table.to_pandas()
    return {f: frame[f] for f in FIELDS}


def _exact_ratings(path: Path, sep: str, bad: BadRows):
    lines, cols = [], ([], [], [], [])
    with no_gc():
        for line_no, parts in _rows(path, sep, 4, bad):
            lines.append(line_no)
            for column, value in zip(cols, parts):
                column.append(value)
    return parse_columns(dict(zip(FIELDS, cols)), lines, path, COLUMNS, bad)


def _load_csv_movielens(
    folder: Path, name: str | None, on_error: str, unknown_items: str, dedupe: bool
) -> InteractionDataset:
    """ml-latest / ml-20m / ml-25m / ml-32m: ``ratings.csv`` and ``movies.csv`` (UTF-8)."""
    from llmrec.data.loaders.table import load_table

    raw = load_table(
        folder / "ratings.csv",
        columns={"user_id": "userId", "item_id": "movieId", "rating": "rating"},
        items=folder / "movies.csv" if (folder / "movies.csv").is_file() else None,
        item_columns={"item_id": "movieId", "title": "title", "genres": "genres"},
        genre_sep="|",
        name=name or folder.name,
        on_error=on_error,
        unknown_items=unknown_items,
        dedupe=dedupe,
    )
    items = []
    for item in raw.items.values():
        title, year = split_title(item.title)
        genres = tuple(g for g in item.genres if g != "(no genres listed)")
        items.append(Item(item.item_id, title, genres, year, None, item.attributes))
    dataset = InteractionDataset(items, raw.interactions, raw.users, name=raw.name)
    dataset.load_report = raw.load_report
    return dataset


def load_movielens(
    folder: str | Path,
    name: str | None = None,
    on_error: str = "raise",
    unknown_items: str = "raise",
    dedupe: bool = False,
) -> InteractionDataset:
    """Load MovieLens raw files from ``folder``: ml-100k, ml-1m or the CSV releases.

    Args:
        folder: The unzipped GroupLens folder.
        name: Dataset name; default the folder name.
        on_error: ``"raise"`` or ``"skip"`` for malformed rows (see :mod:`.common`).
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"`` for ratings of unlisted movies.
        dedupe: Drop exact duplicate rating rows.

    Raises:
        DataFormatError: naming file, line and field of the first malformed row.
    """
    folder = Path(folder).expanduser()
    raw_files = (folder / "u.data").is_file() or (folder / "ratings.dat").is_file()
    if not raw_files and (folder / "ratings.csv").is_file():
        return _load_csv_movielens(folder, name, on_error, unknown_items, dedupe)
    bad = check_policies(on_error, unknown_items)
    if (folder / "u.data").is_file():
        inter_path, sep = folder / "u.data", "\t"
        items = _load_ml100k_items(folder, bad) if (folder / "u.item").is_file() else {}
        users = _load_ml100k_users(folder, bad)
        items_path = folder / "u.item"
    elif (folder / "ratings.dat").is_file():
        inter_path, sep = folder / "ratings.dat", "::"
        items = _load_ml1m_items(folder, bad) if (folder / "movies.dat").is_file() else {}
        users = _load_ml1m_users(folder, bad)
        items_path = folder / "movies.dat"
    else:
        raise FileNotFoundError(
            f"{folder} has neither u.data (ml-100k), ratings.dat (ml-1m) nor ratings.csv "
            "(ml-latest, ml-20m, ml-25m, ml-32m)"
        )
    fast = _fast_ratings(inter_path, sep)
    if fast is not None:
        frame, line_arr = parse_columns(
            fast, np.arange(1, len(fast["user_id"]) + 1), inter_path, COLUMNS, bad
        )
    else:
        frame, line_arr = _exact_ratings(inter_path, sep, bad)
    unrated = frame["rating"].isna().to_numpy()
    for k in np.flatnonzero(unrated):  # MovieLens rows are ratings: one is required
        bad.handle(
            DataFormatError(inter_path, int(line_arr[k]), "rating", "expected a number, got ''"),
            "bad value",
        )
    frame, line_arr = frame[~unrated], line_arr[~unrated]
    return assemble(
        inter_path,
        frame,
        line_arr,
        items,
        users,
        bad,
        unknown_items=unknown_items,
        dedupe=dedupe,
        name=name or folder.name,
        items_path=items_path,
    )
