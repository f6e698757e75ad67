"""Every loader on its fixture files, format detection, and the Hugging Face round trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from llmrec.data import load_dataset
from llmrec.data.loaders import detect_format
from llmrec.data.loaders.amazon import load_amazon
from llmrec.data.loaders.hf import from_hf, to_hf, to_hf_dict
from llmrec.data.loaders.movielens import load_movielens, split_title
from llmrec.data.loaders.table import load_table

FIXTURES = Path(__file__).parent / "fixtures"


def test_ml100k_raw_files():
    ds = load_movielens(FIXTURES / "ml-100k")
    stats = ds.stats()
    assert (stats.users, stats.items, stats.interactions) == (3, 5, 9)
    assert "4" in ds.users and ds.history("4") == []  # listed user without ratings is kept
    les = ds.items["3"]
    assert les.title == "Misérables, Les" and les.year == 1995  # latin-1 byte decoded
    assert les.genres == ("Drama", "War")
    assert ds.items["5"].title == "unknown" and ds.items["5"].year is None
    assert ds.items["1"].attributes["release_date"] == "01-Jan-1995"
    assert dict(ds.users["2"].attributes) == {
        "age": 53,
        "gender": "F",
        "occupation": "other",
        "zip_code": "94043",
    }
    # Time order within a user, ratings as floats.
    assert [r.item_id for r in ds.history("1")] == ["4", "1", "2", "3"]
    assert ds.history("1")[0].rating == 4.0 and ds.history("1")[0].timestamp == 874965000.0


def test_ml1m_raw_files():
    ds = load_movielens(FIXTURES / "ml-1m")
    assert (len(ds.users), len(ds.items), len(ds)) == (3, 3, 6)
    city = ds.items["3"]
    assert city.title == "Cité des enfants perdus, La (City of Lost Children, The)"
    assert city.year == 1995 and city.genres == ("Adventure", "Sci-Fi")
    assert ds.users["1"].attributes["age_group"] == "Under 18"
    assert ds.users["1"].attributes["occupation"] == "K-12 student"
    assert ds.users["2"].attributes["occupation"] == "self-employed"
    assert [r.item_id for r in ds.history("2")] == ["2", "1"]


def test_movielens_csv_releases():
    ds = load_dataset(FIXTURES / "ml-latest-small")
    assert (len(ds.users), len(ds.items), len(ds)) == (2, 5, 5)
    city = ds.items["7"]
    assert city.title == "City of Lost Children, The (Cité des enfants perdus, La)"
    assert city.year == 1995 and city.genres[:2] == ("Adventure", "Drama")
    assert ds.items["9"].genres == ()  # "(no genres listed)"
    assert [(r.item_id, r.rating) for r in ds.history("2")] == [("1", 3.5), ("6", 2.5)]
    assert detect_format(FIXTURES / "ml-latest-small") == "movielens"


def test_split_title():
    assert split_title("Shawshank Redemption, The (1994)") == ("Shawshank Redemption, The", 1994)
    assert split_title("unknown") == ("unknown", None)


def test_amazon_reviews_and_metadata():
    ds = load_amazon(FIXTURES / "amazon" / "All_Beauty.jsonl")  # finds meta_All_Beauty.jsonl
    assert ds.name == "All_Beauty" and (len(ds.users), len(ds.items), len(ds)) == (2, 3, 4)
    leather = ds.items["B00YQ6X8EO"]
    assert leather.title.startswith("Howard LC0008")
    assert leather.genres == ("All Beauty",)  # empty categories fall back to main_category
    assert leather.description == "Conditions leather.\nMade in USA."
    assert leather.year == 2015 and leather.attributes["store"] == "Howard Products"
    cleanser = ds.items["B081TJ8YS3"]
    assert cleanser.genres == ("Beauty & Personal Care", "Skin Care", "Face")
    assert cleanser.attributes["price"] == 12.99
    assert ds.items["B097R46CSY"].attributes["price"] == "from $3"  # kept as given, and noted
    assert "meta_All_Beauty.jsonl: 1 prices are not numbers" in ds.load_report.notes[0]
    hist = ds.history("AGKHLEW2SOWHNMFQIJGBECAF7INQ")
    assert [r.item_id for r in hist] == ["B081TJ8YS3", "B00YQ6X8EO"]  # milliseconds -> order
    assert hist[0].timestamp == pytest.approx(1588615855.070)
    assert hist[0].review == "Works great: Smells good, feels great!"
    other = ds.history("AE74DYR3QUGVPZJ3P7RFWBGIX7XQ")
    assert other[0].review == "Smells awful" and "café" in other[1].review


def test_table_csv_with_column_mapping():
    ds = load_table(
        FIXTURES / "table" / "ratings.csv",
        columns={
            "user_id": "uid",
            "item_id": "movie",
            "rating": "stars",
            "timestamp": "when",
            "review": "comment",
        },
        items=FIXTURES / "table" / "movies.csv",
        item_columns={"item_id": "movie", "title": "name", "genres": "tags", "year": "released"},
        users=FIXTURES / "table" / "users.csv",
    )
    assert (len(ds.items), len(ds)) == (4, 4)
    assert ds.users["carol"].attributes["country"] == "IT" and ds.history("carol") == []
    arrival = ds.items["m1"]
    assert (arrival.title, arrival.genres, arrival.year) == ("Arrival", ("Sci-Fi", "Drama"), 2016)
    assert arrival.attributes["director"] == "Denis Villeneuve"
    alice = ds.history("alice")
    assert alice[0].timestamp == pd.Timestamp("2024-01-02T10:00:00Z").timestamp()
    assert alice[1].timestamp == pd.Timestamp("2024-01-05T12:30:00Z").timestamp()  # naive = UTC
    assert alice[0].review == "Loved it, truly" and alice[1].review is None
    assert ds.interactions["review"].isna().sum() == 2  # empty cells are no review
    unmapped = load_table(
        FIXTURES / "table" / "ratings.csv", {"user_id": "uid", "item_id": "movie"}
    )
    assert unmapped.interactions["review"].isna().all() and not unmapped.stats().rated


def test_table_jsonl_and_parquet_agree(tmp_path):
    from_jsonl = load_table(FIXTURES / "table" / "ratings.jsonl")
    assert from_jsonl.history("bob")[0].timestamp is None  # missing timestamp allowed, first
    assert from_jsonl.history("bob")[1].review == "Too long"
    pd.DataFrame(
        {
            "user_id": ["alice", "bob", "bob"],
            "item_id": ["m1", "m3", "m1"],
            "rating": [5.0, 2.0, 4.0],
            "timestamp": [1704189600.0, 1704300000.0, None],
            "review": [None, "Too long", None],
        }
    ).to_parquet(tmp_path / "ratings.parquet")
    from_parquet = load_table(tmp_path / "ratings.parquet")
    assert from_parquet.interactions.equals(from_jsonl.interactions)


def test_detect_format_and_load_dataset_by_path(tmp_path):
    assert detect_format(FIXTURES / "ml-100k") == "movielens"
    assert detect_format(FIXTURES / "ml-100k" / "u.data") == "movielens"
    assert detect_format(FIXTURES / "amazon" / "All_Beauty.jsonl") == "amazon"
    assert detect_format(FIXTURES / "table" / "ratings.csv") == "table"
    assert len(load_dataset(FIXTURES / "ml-1m" / "ratings.dat")) == 6
    ds = load_dataset(
        str(FIXTURES / "table" / "ratings.csv"), columns={"user_id": "uid", "item_id": "movie"}
    )
    assert len(ds) == 4
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ValueError, match="no loader recognises this file"):
        load_dataset(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_dataset(tmp_path / "missing.csv")


def test_hf_round_trip(tmp_path):
    ds = load_movielens(FIXTURES / "ml-100k")
    inter = to_hf(ds)
    assert inter.column_names == ["user_id", "item_id", "timestamp", "rating", "review"]
    assert inter.num_rows == 9
    bundle = to_hf_dict(ds)
    bundle.save_to_disk(str(tmp_path / "hf"))
    back = load_dataset(tmp_path / "hf")
    assert back.interactions.equals(ds.interactions)
    assert back.items == ds.items and back.users == ds.users
    renamed = inter.rename_column("user_id", "uid")
    again = from_hf(renamed, columns={"user_id": "uid"})
    assert again.interactions.equals(ds.interactions)


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_written_tables_load_back(synthetic_world, tmp_path, fmt):
    from llmrec.data.export import write_tables

    ds = synthetic_world.dataset
    write_tables(ds, tmp_path / fmt, fmt=fmt)
    back = load_dataset(tmp_path / fmt)
    assert back.interactions.equals(ds.interactions)
    first = ds.item_ids[7]
    assert back.items[first].genres == ds.items[first].genres
    assert back.items[first].year == ds.items[first].year
    assert back.items[first].attributes["director"] == ds.items[first].attributes["director"]
    if fmt != "csv":  # CSV keeps every attribute as text
        assert back.items == ds.items and back.users == ds.users


def test_fast_and_exact_csv_readers_agree(synthetic_world, tmp_path, monkeypatch):
    """A clean file takes the pyarrow path; one blank line sends it row by row: same result."""
    from llmrec.data.loaders import table

    used = []
    real = table._arrow_csv
    monkeypatch.setattr(
        table, "_arrow_csv", lambda *a: used.append(real(*a) is not None) or real(*a)
    )
    frame = synthetic_world.dataset.interactions.head(400).copy()
    frame["when"] = pd.to_datetime(frame.timestamp, unit="s", utc=True).dt.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    frame.loc[frame.index[::7], "rating"] = None  # blank cells
    frame.loc[frame.index[::5], "review"] = 'said "wow", then left'
    clean = tmp_path / "clean.csv"
    frame.drop(columns="timestamp").to_csv(clean, index=False)
    irregular = tmp_path / "irregular.csv"
    irregular.write_text(clean.read_text() + "\n")
    fast = load_table(clean, {"timestamp": "when"})
    exact = load_table(irregular, {"timestamp": "when"})
    assert used == [True, False]
    assert fast.interactions.equals(exact.interactions)
    assert sorted(fast.interactions.timestamp) == sorted(frame.timestamp)
    assert fast.interactions.rating.isna().sum() == len(frame.index[::7])
    assert (fast.interactions.review == 'said "wow", then left').sum() == len(frame.index[::5])


def test_gzipped_amazon_files(tmp_path):
    import gzip

    for name in ("All_Beauty.jsonl", "meta_All_Beauty.jsonl"):
        data = (FIXTURES / "amazon" / name).read_bytes()
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress(data))
    ds = load_dataset(tmp_path / "All_Beauty.jsonl.gz")
    plain = load_amazon(FIXTURES / "amazon" / "All_Beauty.jsonl")
    assert ds.name == "All_Beauty" and ds.interactions.equals(plain.interactions)
    assert ds.items == plain.items
