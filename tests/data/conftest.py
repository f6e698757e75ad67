"""A small valid dataset written in every supported format, for the validation tests.

``write_format(fmt, folder)`` writes the same 4 users, 5 items and 12 ratings (2020, whole
stars) as ``fmt`` and returns a :class:`Case`: how to load it, which file holds the
interactions, and how many data records each file has. The property tests break these files.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from llmrec.data.errors import DataFormatError
from llmrec.data.validation import ROW_CLASSES

FORMATS = (
    "ml-100k",
    "ml-1m",
    "ml-csv",
    "recbole",
    "amazon",
    "csv",
    "tsv",
    "jsonl",
    "parquet",
    "hf",
)
USERS = {"1": (24, "M"), "2": (53, "F"), "3": (23, "M"), "4": (33, "F")}
ITEMS = {
    "10": ("Toy Story", 1995, "Animation"),
    "11": ("Heat", 1995, "Crime"),
    "12": ("Alien", 1979, "Horror"),
    "13": ("Amélie", 2001, "Comedy"),
    "14": ("Seven Samurai", 1954, "Drama"),
}
T0 = 1_580_000_000  # 2020-01-26
ROWS = [
    (u, i, r, T0 + 3600 * k)
    for k, (u, i, r) in enumerate(
        [
            ("1", "10", 4),
            ("1", "11", 5),
            ("1", "12", 3),
            ("2", "10", 2),
            ("2", "13", 5),
            ("2", "14", 4),
            ("3", "11", 1),
            ("3", "12", 3),
            ("3", "14", 5),
            ("4", "10", 4),
            ("4", "13", 3),
            ("4", "12", 2),
        ]
    )
]
ML100K_GENRES = 19


@dataclass
class Case:
    """One format written to disk: ``load(**options)`` loads it; files are ``{role: path}``."""

    fmt: str
    folder: Path
    files: dict[str, Path]
    load: Callable[..., object]
    header: dict[str, bool] = field(default_factory=dict)
    sep: dict[str, str] = field(default_factory=dict)

    @property
    def inter(self) -> Path:
        return self.files["interactions"]


def _lines(path: Path, rows: list[str]) -> None:
    path.write_bytes("".join(line + "\n" for line in rows).encode("utf-8"))


def write_format(fmt: str, folder: Path) -> Case:
    """Write the dataset as ``fmt`` under ``folder`` (created)."""
    import json

    from llmrec.data import load_dataset

    folder.mkdir(parents=True, exist_ok=True)
    if fmt == "ml-100k":
        _lines(folder / "u.data", [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in ROWS])
        flags = lambda g: "|".join("1" if k == 5 else "0" for k in range(ML100K_GENRES))  # noqa: E731
        _lines(
            folder / "u.item",
            [
                f"{i}|{title} ({year})|01-Jan-{year}||http://imdb/{i}|{flags(g)}"
                for i, (title, year, g) in ITEMS.items()
            ],
        )
        _lines(folder / "u.user", [f"{u}|{a}|{g}|other|0000{u}" for u, (a, g) in USERS.items()])
        files = {"interactions": folder / "u.data", "items": folder / "u.item"}
        files["users"] = folder / "u.user"
        return Case(
            fmt, folder, files, lambda **o: load_dataset(folder, **o), sep=_seps(files, "\t|")
        )
    if fmt == "ml-1m":
        _lines(folder / "ratings.dat", [f"{u}::{i}::{r}::{t}" for u, i, r, t in ROWS])
        _lines(
            folder / "movies.dat",
            [f"{i}::{title} ({year})::{g}" for i, (title, year, g) in ITEMS.items()],
        )
        _lines(folder / "users.dat", [f"{u}::{g}::25::1::0000{u}" for u, (_, g) in USERS.items()])
        files = {
            "interactions": folder / "ratings.dat",
            "items": folder / "movies.dat",
            "users": folder / "users.dat",
        }
        return Case(
            fmt, folder, files, lambda **o: load_dataset(folder, **o), sep=_seps(files, "::")
        )
    if fmt == "ml-csv":
        _lines(
            folder / "ratings.csv",
            ["userId,movieId,rating,timestamp"] + [f"{u},{i},{r}.0,{t}" for u, i, r, t in ROWS],
        )
        _lines(
            folder / "movies.csv",
            ["movieId,title,genres"] + [f"{i},{t} ({y}),{g}" for i, (t, y, g) in ITEMS.items()],
        )
        files = {"interactions": folder / "ratings.csv", "items": folder / "movies.csv"}
        header = {role: True for role in files}
        return Case(
            fmt, folder, files, lambda **o: load_dataset(folder, **o), header, _seps(files, ",")
        )
    if fmt == "recbole":
        name = folder.name
        _lines(
            folder / f"{name}.inter",
            ["user_id:token\titem_id:token\trating:float\ttimestamp:float"]
            + [f"{u}\t{i}\t{r}\t{t}" for u, i, r, t in ROWS],
        )
        _lines(
            folder / f"{name}.item",
            ["item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq"]
            + [f"{i}\t{t}\t{y}\t{g}" for i, (t, y, g) in ITEMS.items()],
        )
        _lines(
            folder / f"{name}.user",
            ["user_id:token\tage:token\tgender:token"]
            + [f"{u}\t{a}\t{g}" for u, (a, g) in USERS.items()],
        )
        files = {
            "interactions": folder / f"{name}.inter",
            "items": folder / f"{name}.item",
            "users": folder / f"{name}.user",
        }
        header = {role: True for role in files}
        return Case(
            fmt, folder, files, lambda **o: load_dataset(folder, **o), header, _seps(files, "\t")
        )
    if fmt == "amazon":
        reviews = folder / "Toys.jsonl"
        _lines(
            reviews,
            [
                json.dumps(
                    {
                        "rating": float(r),
                        "title": "ok",
                        "text": f"review {k}",
                        "parent_asin": f"B{i}",
                        "user_id": f"A{u}",
                        "timestamp": t * 1000,
                        "helpful_vote": 0,
                    }
                )
                for k, (u, i, r, t) in enumerate(ROWS)
            ],
        )
        _lines(
            folder / "meta_Toys.jsonl",
            [
                json.dumps({"parent_asin": f"B{i}", "title": t, "categories": [g], "price": 9.5})
                for i, (t, _, g) in ITEMS.items()
            ],
        )
        files = {"interactions": reviews, "items": folder / "meta_Toys.jsonl"}
        return Case(fmt, folder, files, lambda **o: load_dataset(reviews, **o))
    if fmt in ("csv", "tsv", "jsonl", "parquet"):
        return _table(fmt, folder)
    if fmt == "hf":
        return _hf(folder)
    raise ValueError(fmt)


def _seps(files: dict[str, Path], sep: str) -> dict[str, str]:
    if len(sep) == 2 and sep != "::":  # ml-100k: tab for u.data, pipe for the others
        return {role: (sep[0] if role == "interactions" else sep[1]) for role in files}
    return {role: sep for role in files}


def _table(fmt: str, folder: Path) -> Case:
    import pandas as pd

    from llmrec.data.loaders.table import load_table

    inter = pd.DataFrame(ROWS, columns=["user_id", "item_id", "rating", "timestamp"])
    items = pd.DataFrame(
        [(i, t, y, g) for i, (t, y, g) in ITEMS.items()],
        columns=["item_id", "title", "year", "genres"],
    )
    users = pd.DataFrame(
        [(u, a, g) for u, (a, g) in USERS.items()], columns=["user_id", "age", "gender"]
    )
    suffix = {"csv": ".csv", "tsv": ".tsv", "jsonl": ".jsonl", "parquet": ".parquet"}[fmt]
    files = {role: folder / f"{role}{suffix}" for role in ("interactions", "items", "users")}
    for role, frame in zip(files, (inter, items, users)):
        path = files[role]
        if fmt == "csv":
            frame.to_csv(path, index=False)
        elif fmt == "tsv":
            frame.to_csv(path, index=False, sep="\t")
        elif fmt == "jsonl":
            frame.to_json(path, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(path, index=False)
    header = {role: fmt in ("csv", "tsv") for role in files}
    sep = {role: {"csv": ",", "tsv": "\t"}.get(fmt, "") for role in files}

    def load(**options):
        return load_table(
            files["interactions"], items=files["items"], users=files["users"], **options
        )

    return Case(fmt, folder, files, load, header, sep)


def _hf(folder: Path) -> Case:
    import pandas as pd

    frames = {
        "interactions": pd.DataFrame(
            [(u, i, float(r), float(t)) for u, i, r, t in ROWS],
            columns=["user_id", "item_id", "rating", "timestamp"],
        ),
        "items": pd.DataFrame(
            [(i, t, y, [g]) for i, (t, y, g) in ITEMS.items()],
            columns=["item_id", "title", "year", "genres"],
        ),
        "users": pd.DataFrame([(u,) for u in USERS], columns=["user_id"]),
    }
    files = {role: Path(f"<datasets:hf/{role}>") for role in frames}
    files["interactions"] = Path("<datasets:hf>")
    case = Case("hf", folder, files, lambda **o: load_hf_frames(case.frames, **o))
    case.frames = frames
    return case


def load_hf_frames(frames, **options):
    import datasets

    from llmrec.data.loaders.hf import from_hf

    tables = {k: datasets.Dataset.from_pandas(v, preserve_index=False) for k, v in frames.items()}
    return from_hf(tables["interactions"], tables["items"], tables["users"], **options)


def data_records(case: Case, role: str = "interactions") -> int:
    """Data records of a (possibly broken) file, counted without the loaders' code."""
    path = case.files[role]
    if case.fmt == "hf":
        return len(case.frames[role])
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if case.fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.read_metadata(path).num_rows
    count = 0
    for line in raw.split(b"\n"):
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            text = line.decode("latin-1")
        if text.strip().lstrip("\ufeff").strip():
            count += 1
    return count - (1 if case.header.get(role) else 0)


VALUE_CLASSES = (
    "rating_range",
    "timestamp_range",
    "missing_value",
    "unknown_item",
    "unknown_user",
    "lossy_id",
    "duplicate_item",
    "duplicate_user",
)


def assert_precise(err: DataFormatError, case: Case) -> None:
    """A DataFormatError names one of the case's files first; row findings a line and field."""
    names = {str(p) for p in case.files.values()} | {str(case.folder)}
    assert err.path in names or err.path.startswith(str(case.folder)), err
    assert str(err).startswith(err.path + ":"), err
    if err.finding in ROW_CLASSES or err.finding in VALUE_CLASSES:
        assert err.line is not None and err.line >= 1, err
    if err.finding in VALUE_CLASSES:
        assert err.field, err


@pytest.fixture(scope="session")
def formats():
    """The helpers above, for tests (``--import-mode=importlib`` cannot import this module)."""
    import types

    return types.SimpleNamespace(
        FORMATS=FORMATS,
        ROWS=ROWS,
        ITEMS=ITEMS,
        USERS=USERS,
        write=write_format,
        records=data_records,
        assert_precise=assert_precise,
        load_hf_frames=load_hf_frames,
    )
