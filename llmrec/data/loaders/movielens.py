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

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import (
    BOM,
    assemble,
    field_count_error,
    is_gzip,
    make_report,
    no_gc,
    open_binary,
    parse_columns,
    present,
    require_file,
    text_lines,
)
from llmrec.data.records import InteractionDataset, Item, User
from llmrec.data.validation import Catalogue, LoadReport, RatingScale, ValidationPolicy

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
# Column names of each raw file, as the GroupLens READMEs give them (for messages).
ML100K_DATA = ("user id", "item id", "rating", "timestamp")
ML100K_ITEM = ("movie id", "movie title", "release date", "video release date", "IMDb URL")
ML100K_USER = ("user id", "age", "gender", "occupation", "zip code")
ML1M_RATINGS = ("UserID", "MovieID", "Rating", "Timestamp")
ML1M_MOVIES = ("MovieID", "Title", "Genres")
ML1M_USERS = ("UserID", "Gender", "Age", "Occupation", "Zip-code")
# ml-100k and ml-1m ratings are whole stars 1-5; the CSV releases use half stars 0.5-5.
WHOLE_STARS = RatingScale(1, 5, 1)
HALF_STARS = RatingScale(0.5, 5, 0.5)


def is_movielens(folder: Path) -> bool:
    if present(folder / "u.data") or present(folder / "ratings.dat"):
        return True
    ratings = folder / "ratings.csv"
    if not present(ratings):
        return False
    if present(folder / "movies.csv"):
        return True
    try:  # without movies.csv, the header says it (and the loader reports the missing file)
        with open_binary(ratings) as handle:
            return handle.readline().lstrip(BOM.encode()).startswith(b"userId,movieId")
    except (OSError, DataFormatError):
        return False


def split_title(title: str) -> tuple[str, int | None]:
    """``"Toy Story (1995)"`` -> ``("Toy Story", 1995)``."""
    match = _YEAR.match(title)
    if not match:
        return title.strip(), None
    return match.group(1), int(match.group(2))


def _rows(path: Path, sep: str, names: tuple[str, ...] | None, bad: LoadReport):
    """Yield ``(line_no, fields)``; wrong field counts go through the policy (``schema``)."""
    for line_no, line in enumerate(text_lines(path, fallback="latin-1", report=bad), start=1):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        parts = line.split(sep)
        if names is not None and len(parts) != len(names):
            bad.handle(field_count_error(path, line_no, len(parts), names, sep))
            continue
        yield line_no, parts


def _int_field(value: str, path: Path, line: int, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise DataFormatError(
            path, line, field, f"expected an integer, got {value!r}", "schema"
        ) from None


def _load_ml100k_items(folder: Path, bad: LoadReport) -> dict[str, Item]:
    genre_path = folder / "u.genre"
    genres = list(ML100K_GENRES)
    if present(genre_path):
        named = {}
        for line_no, parts in _rows(require_file(genre_path, "genre"), "|", ("name", "index"), bad):
            try:
                named[_int_field(parts[1], genre_path, line_no, "index")] = parts[0]
            except DataFormatError as err:
                bad.handle(err)
        genres = [named[k] for k in sorted(named)]
    path = require_file(folder / "u.item", "item")
    names = ML100K_ITEM + tuple(genres)
    items = Catalogue("item", path, bad)
    for line_no, parts in _rows(path, "|", names, bad):
        try:
            flags = [_int_field(f, path, line_no, g) for f, g in zip(parts[5:], genres)]
            if any(f not in (0, 1) for f in flags):
                raise DataFormatError(path, line_no, "genre flags", "expected 0 or 1 flags")
            iid = parts[0].strip()
            if not iid:
                raise DataFormatError(path, line_no, "movie id", "expected a non-empty id")
        except DataFormatError as err:
            bad.handle(err, "schema")
            continue
        title, year = split_title(parts[1])
        if year is None and parts[2][-4:].isdigit():
            year = int(parts[2][-4:])
        attrs = {"release_date": parts[2], "imdb_url": parts[4]}
        if parts[3]:  # always empty in the release; kept when a copy fills it
            attrs["video_release_date"] = parts[3]
        chosen = tuple(g for g, f in zip(genres, flags) if f)
        items.add(iid, Item(iid, title, chosen, year, None, attrs), line_no, "movie id")
    return items.rows


def _load_ml100k_users(folder: Path, bad: LoadReport) -> dict[str, User] | None:
    path = folder / "u.user"
    if not present(path):
        return None
    users = Catalogue("user", require_file(path, "user"), bad)
    for line_no, parts in _rows(path, "|", ML100K_USER, bad):
        try:
            age = _int_field(parts[1], path, line_no, "age")
        except DataFormatError as err:
            bad.handle(err, "schema")
            continue
        attrs = {"age": age, "gender": parts[2], "occupation": parts[3], "zip_code": parts[4]}
        users.add(parts[0], User(parts[0], attrs), line_no, "user id")
    return users.rows


def _load_ml1m_items(folder: Path, bad: LoadReport) -> dict[str, Item]:
    path = require_file(folder / "movies.dat", "item")
    items = Catalogue("item", path, bad)
    for line_no, parts in _rows(path, "::", ML1M_MOVIES, bad):
        if not parts[0].strip():
            bad.handle(DataFormatError(path, line_no, "MovieID", "expected a non-empty id"))
            continue
        title, year = split_title(parts[1])
        genres = tuple(g for g in parts[2].split("|") if g and g != "(no genres listed)")
        items.add(parts[0], Item(parts[0], title, genres, year), line_no, "MovieID")
    return items.rows


def _load_ml1m_users(folder: Path, bad: LoadReport) -> dict[str, User] | None:
    path = folder / "users.dat"
    if not present(path):
        return None
    users = Catalogue("user", require_file(path, "user"), bad)
    for line_no, parts in _rows(path, "::", ML1M_USERS, bad):
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
            bad.handle(err, "schema")
            continue
        attrs = {
            "gender": parts[1],
            "age": age,
            "age_group": ML1M_AGES[age],
            "occupation": ML1M_OCCUPATIONS[occupation],
            "zip_code": parts[4],
        }
        users.add(parts[0], User(parts[0], attrs), line_no, "UserID")
    return users.rows


def _fast_ratings(path: Path, sep: str) -> dict | None:
    """The four rating columns via pyarrow, or ``None`` when the file is not perfectly regular.

    ``u.data`` and ``ratings.dat`` are plain numbers; any irregularity (a wrong field count,
    a blank line) makes the exact reader produce the precise error or skip instead.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if is_gzip(path):
        return None  # the exact reader reads (and reports) gzip under a plain name
    with open_binary(path) as handle:
        data = handle.read()
    if data.startswith(BOM.encode()) or b"\r" in data:
        return None  # the exact reader handles (and reports) these
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


def _exact_ratings(path: Path, sep: str, names: tuple[str, ...], bad: LoadReport):
    lines, cols = [], ([], [], [], [])
    with no_gc():
        for line_no, parts in _rows(path, sep, names, bad):
            lines.append(line_no)
            for column, value in zip(cols, parts):
                column.append(value)
    fields = dict(zip(FIELDS, names))
    return parse_columns(dict(zip(names, cols)), lines, path, fields, bad)


def _load_csv_movielens(folder: Path, name: str | None, **options) -> InteractionDataset:
    """ml-latest / ml-20m / ml-25m / ml-32m: ``ratings.csv`` and ``movies.csv`` (UTF-8)."""
    from llmrec.data.loaders.table import load_table

    raw = load_table(
        folder / "ratings.csv",
        columns={"user_id": "userId", "item_id": "movieId", "rating": "rating"},
        items=folder / "movies.csv" if present(folder / "movies.csv") else None,
        item_columns={"item_id": "movieId", "title": "title", "genres": "genres"},
        genre_sep="|",
        name=name or folder.name,
        expected_items=folder / "movies.csv",
        format_scale=HALF_STARS,
        required=("rating", "timestamp"),
        **options,
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
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    *,
    policy: ValidationPolicy | dict | None = None,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
) -> InteractionDataset:
    """Load MovieLens raw files from ``folder``: ml-100k, ml-1m or the CSV releases.

    Ratings must be whole stars 1-5 (ml-100k, ml-1m) or half stars 0.5-5 (CSV releases), and
    every rating needs a timestamp; the item file (``u.item``, ``movies.dat``, ``movies.csv``)
    is required unless the policy says ``missing_item_file=fix``.

    Args:
        folder: The unzipped GroupLens folder.
        name: Dataset name; default the folder name.
        on_error: ``"raise"`` or ``"skip"`` for malformed rows (see :mod:`.common`).
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"`` for ratings of unlisted movies.
        dedupe: Drop exact duplicate rating rows.
        policy: Finding class -> action (:class:`~llmrec.data.validation.ValidationPolicy`).
        rating_scale: Replace the release's scale, ``(low, high[, step])``.
        collect_errors: Record every error in the report instead of raising at the first.

    Raises:
        DataFormatError: naming file, line and field of the first malformed row.
    """
    folder = Path(folder).expanduser()
    options = {
        "on_error": on_error,
        "unknown_items": unknown_items,
        "dedupe": dedupe,
        "policy": policy,
        "rating_scale": rating_scale,
        "collect_errors": collect_errors,
    }
    raw_files = present(folder / "u.data") or present(folder / "ratings.dat")
    if not raw_files and present(folder / "ratings.csv"):
        return _load_csv_movielens(folder, name, **options)
    bad = make_report(**options)
    if present(folder / "u.data"):
        inter_path, sep, names = folder / "u.data", "\t", ML100K_DATA
        items_path = folder / "u.item"
        items = _load_ml100k_items(folder, bad) if present(items_path) else None
        users, users_path = _load_ml100k_users(folder, bad), folder / "u.user"
    elif present(folder / "ratings.dat"):
        inter_path, sep, names = folder / "ratings.dat", "::", ML1M_RATINGS
        items_path = folder / "movies.dat"
        items = _load_ml1m_items(folder, bad) if present(items_path) else None
        users, users_path = _load_ml1m_users(folder, bad), folder / "users.dat"
    else:
        raise FileNotFoundError(
            f"{folder} has neither u.data (ml-100k), ratings.dat (ml-1m) nor ratings.csv "
            "(ml-latest, ml-20m, ml-25m, ml-32m)"
        )
    require_file(inter_path, "ratings")
    fields = dict(zip(FIELDS, names))
    fast = _fast_ratings(inter_path, sep)
    if fast is not None:
        raw = {fields[f]: column for f, column in fast.items()}
        lines = np.arange(1, len(fast["user_id"]) + 1)
        frame, line_arr = parse_columns(raw, lines, inter_path, fields, bad)
    else:
        frame, line_arr = _exact_ratings(inter_path, sep, names, bad)
    return assemble(
        inter_path,
        frame,
        line_arr,
        items,
        users,
        bad,
        name=name or folder.name,
        items_path=items_path,
        users_path=users_path,
        expected_items=items_path,
        fields=fields,
        rating_scale=WHOLE_STARS,
        required=("rating", "timestamp"),
    )
