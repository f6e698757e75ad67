"""Bad input has one defined behaviour each: a precise error, or a counted and reported skip."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data import load_dataset
from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.amazon import load_amazon
from llmrec.data.loaders.movielens import load_movielens
from llmrec.data.loaders.recbole import load_recbole
from llmrec.data.loaders.table import load_table
from llmrec.data.splits import leave_one_out, temporal_split

FIXTURES = Path(__file__).parent / "fixtures"
HEADER = "user_id,item_id,rating,timestamp\n"


def _csv(tmp_path: Path, body: str, name: str = "r.csv") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + body, encoding="utf-8")
    return path


def test_malformed_value_names_file_line_field_and_expectation(tmp_path):
    path = _csv(tmp_path, "u1,i1,5,100\nu1,i2,five,200\n")
    with pytest.raises(DataFormatError) as info:
        load_table(path)
    err = info.value
    assert (err.path, err.line, err.field) == (str(path), 3, "rating")
    assert str(err) == f"{path}:3: field 'rating' expected a number, got 'five'"


def test_skip_reports_how_many_and_why(tmp_path, caplog):
    body = "u1,i1,5,100\nu1,i2,five,200\nu2,i1,4\nu2,,3,300\nu2,i3,2,yesterday\nu3,i1,1,400\n"
    path = _csv(tmp_path, body)
    with caplog.at_level(logging.WARNING, logger="llmrec.data.validation"):
        ds = load_table(path, on_error="skip")
    assert len(ds) == 2 and sorted(ds.interactions.user_id) == ["u1", "u3"]
    report = ds.load_report
    assert report.skipped == 4 and report.by_class() == {"schema": {"skip-and-report": 4}}
    examples = report.examples["schema"]
    assert any(
        ":4: field 'timestamp' has 3 fields, expected 4: missing 'timestamp'" in e for e in examples
    )
    assert any("field 'item_id' expected a non-empty id" in e for e in examples)
    assert any(
        "expected seconds since the epoch or an ISO date, got 'yesterday'" in e for e in examples
    )
    assert "schema: 4 skip-and-report" in caplog.text


def test_missing_column_in_header(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("user,item\nu1,i1\n")
    with pytest.raises(DataFormatError, match=r"r.csv:1: field 'user_id' no column for 'user_id'"):
        load_table(path)
    with pytest.raises(DataFormatError, match="column for 'item_id' is not in the header"):
        load_table(path, columns={"user_id": "user", "item_id": "movie"})
    with pytest.raises(ValueError, match="are not llmrec fields"):
        load_table(path, columns={"user": "user"})


def test_movielens_wrong_field_count_and_skip(tmp_path):
    folder = tmp_path / "ml"
    shutil.copytree(FIXTURES / "ml-100k", folder)
    with open(folder / "u.data", "a") as handle:
        handle.write("9\t1\t5\n")  # line 10: a field short
    with pytest.raises(
        DataFormatError,
        match=r"u.data:10: field 'timestamp' has 3 '\\t'-separated fields, expected 4: "
        "missing 'timestamp'",
    ):
        load_movielens(folder)
    ds = load_movielens(folder, on_error="skip")
    assert len(ds) == 9 and ds.load_report.by_class()["schema"] == {"skip-and-report": 1}


def test_invalid_json_line(tmp_path):
    path = tmp_path / "All_Beauty.jsonl"
    lines = (FIXTURES / "amazon" / "All_Beauty.jsonl").read_text().splitlines()
    lines.insert(1, '{"user_id": "x", "parent_asin": ')
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataFormatError, match=r"All_Beauty.jsonl:2: is not valid JSON"):
        load_amazon(path)
    with pytest.raises(DataFormatError, match=r"meta_All_Beauty.jsonl: is missing"):
        load_amazon(path, on_error="skip")
    ds = load_amazon(path, on_error="skip", policy={"missing_item_file": "fix"})  # bare items
    assert len(ds) == 4
    assert ds.load_report.by_class() == {
        "schema": {"skip-and-report": 1},
        "missing_item_file": {"fix-and-report": 1},
    }


def test_unknown_items_raise_skip_or_add(tmp_path):
    folder = tmp_path / "ml"
    shutil.copytree(FIXTURES / "ml-100k", folder)
    with open(folder / "u.data", "a") as handle:
        handle.write("2\t77\t3\t888552000\n2\t78\t3\t888552001\n")
    with pytest.raises(DataFormatError) as info:
        load_movielens(folder)
    assert info.value.line == 10 and info.value.field == "item id"  # u.data README name
    assert "item '77' is not in u.item (2 such rows)" in str(info.value)
    assert info.value.finding == "unknown_item"
    skipped = load_movielens(folder, unknown_items="skip")
    assert len(skipped) == 9
    assert skipped.load_report.by_class() == {
        "encoding": {"fix-and-report": 1},  # the latin-1 title
        "unknown_item": {"skip-and-report": 2},
    }
    added = load_movielens(folder, unknown_items="add")
    assert len(added) == 11 and added.items["77"].title == "77"
    assert added.load_report.by_class()["unknown_item"] == {"fix-and-report": 2}
    with pytest.raises(ValueError, match="unknown_items must be one of"):
        load_movielens(folder, unknown_items="ignore")


def test_duplicate_rows_kept_or_deduped(tmp_path):
    path = _csv(tmp_path, "u1,i1,5,100\nu1,i1,5,100\nu1,i1,4,100\nu1,i2,3,200\n")
    kept = load_table(path)
    assert len(kept) == 4
    assert kept.load_report.by_class() == {"duplicate_row": {"keep-and-report": 1}}
    deduped = load_table(path, dedupe=True)
    assert len(deduped) == 3  # the 4-star row differs, so it stays
    assert deduped.load_report.by_class() == {"duplicate_row": {"skip-and-report": 1}}
    assert deduped.load_report.examples["duplicate_row"] == [f"{path}:3: repeats line 2 exactly"]
    with pytest.raises(DataFormatError, match=r"r.csv:3: repeats line 2 exactly"):
        load_table(path, policy={"duplicate_row": "error"})


def test_users_without_history_are_kept_and_splits_skip_them():
    ds = load_movielens(FIXTURES / "ml-100k")
    assert "4" in ds.users and ds.history("4") == [] and ds.stats().users == 3
    split = leave_one_out(ds)
    assert "4" in split.train.users and "4" not in set(split.test.interactions.user_id)


def test_non_utf8_text(tmp_path):
    path = tmp_path / "r.csv"
    path.write_bytes((HEADER + "u1,i1,5,100\nRen\xe9e,i2,4,200\n").encode("latin-1"))
    with pytest.raises(DataFormatError) as info:
        load_table(path)
    assert info.value.line == 3
    assert "is not utf-8 text (byte 0xe9 at column 4)" in str(info.value)
    assert "encoding='latin-1'" in str(info.value)
    ds = load_table(path, encoding="latin-1")
    assert "Renée" in ds.users
    # MovieLens raw files are latin-1: they load without being told.
    assert load_movielens(FIXTURES / "ml-100k").items["3"].title == "Misérables, Les"


def test_missing_timestamps_keep_file_order_and_refuse_temporal_splits(tmp_path):
    path = tmp_path / "r.jsonl"
    rows = [{"user_id": "u", "item_id": i, "rating": 3} for i in ("c", "a", "b")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_table(path)
    assert [r.item_id for r in ds.history("u")] == ["c", "a", "b"]
    assert not ds.stats().timestamped
    assert [r.item_id for r in leave_one_out(ds, validation=False).test.history("u")] == ["b"]
    with pytest.raises(ValueError, match="temporal_split needs timestamps, but 3 of 3"):
        temporal_split(ds)


def test_recbole_bad_header_and_value(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "toy.inter").write_text("user_id:token\titem_id\n1\t2\n")
    with pytest.raises(DataFormatError, match=r"toy.inter:1: field 'item_id' header entries"):
        load_recbole(folder)
    (folder / "toy.inter").write_text(
        "user_id:token\titem_id:token\trating:float\n1\t2\t4\n1\t3\tlots\n"
    )
    with pytest.raises(DataFormatError, match=r"toy.inter:3: field 'rating' expected a number"):
        load_dataset(folder)
    ds = load_dataset(folder, on_error="skip")
    assert len(ds) == 1 and ds.load_report.skipped == 1


def test_hf_rows_are_checked_like_files():
    import datasets

    from llmrec.data.loaders.hf import from_hf

    table = datasets.Dataset.from_dict({"user_id": ["a", " ", "b"], "item_id": ["x", "y", "z"]})
    with pytest.raises(
        DataFormatError, match=r"<datasets:hf>:2: field 'user_id' expected a non-empty id"
    ):
        from_hf(table)
    ds = from_hf(table, on_error="skip")
    assert sorted(ds.interactions.user_id) == ["a", "b"] and ds.load_report.skipped == 1


_values = st.one_of(
    st.sampled_from(["", " ", "  7 ", "abc", "4.5", "nan", "1e3", "2024-01-02T10:00:00Z"]),
    st.sampled_from(["2024-01-02 10:00", "1_000", "-3", "True"]),
    st.integers(-5, 10**6),
    st.sampled_from([2.0, 2.5, float("nan"), None, True]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_values, _values, _values, _values, _values), max_size=12))
def test_column_parser_matches_the_row_parser(rows):
    from llmrec.data.loaders.common import parse_columns, parse_interaction
    from llmrec.data.validation import LoadReport, ValidationPolicy

    skip = ValidationPolicy.from_options(on_error="skip")

    names = ["u", "i", "t", "r", "v"]
    columns = dict(zip(["user_id", "item_id", "timestamp", "rating", "review"], names))
    path = Path("x.jsonl")
    slow_bad, expected, kept_lines = LoadReport(skip), [], []
    for line, row in enumerate(rows, start=1):
        try:
            expected.append(parse_interaction(dict(zip(names, row)), path, line, columns))
            kept_lines.append(line)
        except DataFormatError as err:
            slow_bad.handle(err)
    raw = {n: [row[k] for row in rows] for k, n in enumerate(names)}
    fast_bad = LoadReport(skip)
    frame, lines = parse_columns(raw, range(1, len(rows) + 1), path, columns, fast_bad)
    assert list(lines) == kept_lines
    assert fast_bad.examples == slow_bad.examples
    got = list(frame.itertuples(index=False, name=None))
    for mine, theirs in zip(got, expected, strict=True):
        assert mine[:2] == theirs[:2] and mine[4] == theirs[4]
        for a, b in zip(mine[2:4], theirs[2:4]):
            assert (b is None and a != a) or a == pytest.approx(b)  # NaN means missing
