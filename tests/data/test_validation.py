"""The validation layer, class by class of finding, on every format it applies to."""

from __future__ import annotations

import gzip
import json
import os
import shutil

import pandas as pd
import pytest

from llmrec.cli.main import main
from llmrec.data import load_dataset
from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.table import load_table
from llmrec.data.validation import FINDINGS, LoadReport, RatingScale, ValidationPolicy

TEXT = ("ml-100k", "ml-1m", "ml-csv", "recbole", "amazon", "csv", "tsv", "jsonl")


def _edit_line(path, k, old, new):
    """Replace ``old`` by ``new`` in line ``k`` (1-based) of a text file."""
    lines = path.read_text(encoding="utf-8").split("\n")
    assert old in lines[k - 1], (lines[k - 1], old)
    lines[k - 1] = lines[k - 1].replace(old, new, 1)
    path.write_text("\n".join(lines), encoding="utf-8")


def _first_data_line(case) -> int:
    return 2 if case.header.get("interactions") else 1


# -- the policy object -------------------------------------------------------------------------
def test_policy_defaults_aliases_and_bad_names():
    policy = ValidationPolicy()
    assert {name: policy.action(name) for name in FINDINGS} == {
        name: finding.default for name, finding in FINDINGS.items()
    }
    assert policy.action("timestamp_unit") == "fix-and-report"
    assert policy.action("duplicate_row") == "keep-and-report"
    assert ValidationPolicy({"duplicate_item": "fix"}).action("duplicate_item") == "fix-and-report"
    with pytest.raises(ValueError, match="unknown finding class 'ratings'; classes: "):
        ValidationPolicy({"ratings": "skip"})
    with pytest.raises(ValueError, match="duplicate_item allows the actions"):
        ValidationPolicy({"duplicate_item": "skip"})
    shortcut = ValidationPolicy.from_options(
        {"rating_range": "error"}, on_error="skip", unknown_items="add", dedupe=True
    )
    assert shortcut.action("schema") == "skip-and-report"
    assert shortcut.action("rating_range") == "error"  # the explicit entry wins
    assert shortcut.action("unknown_item") == "fix-and-report"
    assert shortcut.action("duplicate_row") == "skip-and-report"


def test_rating_scale_is_closed_and_stepped():
    import numpy as np

    scale = RatingScale(0.5, 5, 0.5)
    got = scale.outside(np.array([0.5, 5.0, 2.5, 0.0, 5.5, 2.7, np.nan, np.inf]))
    assert got.tolist() == [False, False, False, True, True, True, False, True]
    assert str(scale) == "0.5..5 in steps of 0.5"


# -- domains -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "old", "new", "field"),
    [
        ("ml-100k", "\t4\t", "\t7\t", "rating"),
        ("ml-1m", "::4::", "::0::", "Rating"),
        ("ml-csv", ",4.0,", ",4.2,", "rating"),
        ("amazon", '"rating": 4.0', '"rating": 6.0', "rating"),
    ],
)
def test_ratings_off_the_formats_scale(formats, tmp_path, fmt, old, new, field):
    case = formats.write(fmt, tmp_path / fmt)
    _edit_line(case.inter, _first_data_line(case), old, new)
    with pytest.raises(DataFormatError) as info:
        case.load()
    err = info.value
    assert (err.path, err.line, err.field, err.finding) == (
        str(case.inter),
        _first_data_line(case),
        field,
        "rating_range",
    )
    assert "is outside the rating scale" in str(err)
    skipped = case.load(on_error="skip")
    assert len(skipped) == 11
    assert skipped.load_report.by_class() == {"rating_range": {"skip-and-report": 1}}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "recbole", "hf"])
def test_declared_scale_for_formats_that_have_none(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    assert len(case.load(rating_scale=(1, 5))) == 12
    with pytest.raises(DataFormatError, match="outside the rating scale 2..5") as info:
        case.load(rating_scale=(2, 5))
    assert info.value.line == _first_data_line(case) + 6 and info.value.field == "rating"
    assert "no scale declared" in case.load().load_report.notes[0]


@pytest.mark.parametrize("fmt", TEXT)
@pytest.mark.parametrize(("seconds", "what"), [(-86400, "1969-12-31"), (32503680000, "3000-01-01")])
def test_timestamps_out_of_range(formats, tmp_path, fmt, seconds, what):
    case = formats.write(fmt, tmp_path / fmt)
    t = formats.ROWS[0][3]
    scale = 1000 if fmt == "amazon" else 1
    _edit_line(case.inter, _first_data_line(case), str(t * scale), str(seconds * scale))
    with pytest.raises(DataFormatError, match=f"\\({what}\\) is outside the plausible") as info:
        case.load()
    assert info.value.line == _first_data_line(case) and info.value.finding == "timestamp_range"
    assert info.value.field.lower() == "timestamp"


@pytest.mark.parametrize("fmt", ["ml-100k", "csv", "jsonl", "recbole", "amazon"])
def test_timestamp_unit_detected_and_fixed(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    clean = case.load()
    text = case.inter.read_text()
    for *_, t in formats.ROWS:  # every timestamp in the other unit
        text = (
            text.replace(str(t * 1000), str(t))
            if fmt == "amazon"
            else text.replace(str(t), str(t * 1000))
        )
    case.inter.write_text(text)
    fixed = case.load()
    assert fixed.interactions.equals(clean.interactions)
    assert fixed.load_report.by_class() == {"timestamp_unit": {"fix-and-report": 12}}
    said = "milliseconds" if fmt == "amazon" else "seconds"
    assert f"implausible as {said}" in fixed.load_report.examples["timestamp_unit"][0]
    with pytest.raises(DataFormatError, match="plausible as"):
        case.load(policy={"timestamp_unit": "error"})


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "ml-csv", "amazon"])
def test_required_timestamp_missing(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    t = str(formats.ROWS[2][3] * (1000 if fmt == "amazon" else 1))
    _edit_line(case.inter, _first_data_line(case) + 2, t, "null" if fmt == "amazon" else "")
    with pytest.raises(DataFormatError, match="is required by this format") as info:
        case.load()
    assert info.value.finding == "missing_value" and info.value.line == _first_data_line(case) + 2


# -- nothing to load ---------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", TEXT)
def test_zero_interactions_is_an_error(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    lines = case.inter.read_text().split("\n")
    case.inter.write_text(lines[0] + "\n" if case.header.get("interactions") else "")
    with pytest.raises(DataFormatError, match="a dataset needs interactions") as info:
        case.load()
    assert info.value.path == str(case.inter)


def test_skipping_everything_refuses_and_says_why(formats, tmp_path):
    case = formats.write("csv", tmp_path / "csv")
    frame = pd.read_csv(case.inter)
    frame["rating"] = "lots"
    frame.to_csv(case.inter, index=False)
    with pytest.raises(DataFormatError) as info:
        case.load(on_error="skip")
    assert "has no interactions left after validation" in str(info.value)
    assert "findings: schema: 12 skip-and-report" in str(info.value)
    assert info.value.report.examples["schema"][0].endswith("expected a number, got 'lots'")


# -- references --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "ml-csv", "amazon", "recbole"])
def test_missing_item_file(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    case.files["items"].unlink()
    if fmt == "recbole":  # optional in RecBole's format: bare items, noted
        ds = case.load()
        assert ds.items["10"].title == "10" and "no item file" in ds.load_report.notes[-1]
        return
    with pytest.raises(DataFormatError, match="is missing, and this format keeps") as info:
        case.load()
    assert info.value.finding == "missing_item_file"
    ds = case.load(policy={"missing_item_file": "fix"})
    assert len(ds) == 12 and len(ds.items) == 5
    assert ds.load_report.by_class()["missing_item_file"] == {"fix-and-report": 1}


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "ml-csv", "amazon", "recbole", "csv", "jsonl"])
def test_item_file_with_no_rows(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    path = case.files["items"]
    path.write_text(path.read_text().split("\n")[0] + "\n" if case.header.get("items") else "")
    with pytest.raises(DataFormatError, match="has no item rows, but 12 interactions") as info:
        case.load()
    assert info.value.path == str(path) and info.value.finding == "missing_item_file"


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "recbole", "csv", "jsonl", "parquet", "hf"])
def test_interactions_of_unknown_users(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    if fmt == "hf":
        case.frames["users"] = case.frames["users"].iloc[1:]
    elif fmt == "parquet":
        pd.read_parquet(case.files["users"]).iloc[1:].to_parquet(case.files["users"])
    else:
        lines = case.files["users"].read_text().split("\n")
        del lines[1 if case.header.get("users") else 0]
        case.files["users"].write_text("\n".join(lines))
    with pytest.raises(DataFormatError, match="user '1' is not in .*\\(3 such rows\\)") as info:
        case.load()
    assert info.value.finding == "unknown_user" and info.value.line == _first_data_line(case)
    skipped = case.load(policy={"unknown_user": "skip"})
    assert len(skipped) == 9 and "1" not in skipped.users
    added = case.load(policy={"unknown_user": "fix"})
    assert len(added) == 12 and added.users["1"].attributes == {}
    assert added.load_report.by_class() == {"unknown_user": {"fix-and-report": 3}}


@pytest.mark.parametrize("fmt", ["ml-100k", "ml-1m", "ml-csv", "amazon", "recbole", "csv", "jsonl"])
def test_duplicate_item_ids(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    path = case.files["items"]
    lines = path.read_text().split("\n")[:-1]
    first = 2 if case.header.get("items") else 1
    repeat = lines[first - 1]
    path.write_text("\n".join([*lines, repeat]) + "\n")  # identical: merged, counted
    merged = case.load()
    assert merged.load_report.by_class() == {"duplicate_item": {"fix-and-report": 1}}
    other = repeat.replace("Toy Story", "Toy Story 2")
    path.write_text("\n".join([*lines, other]) + "\n")
    with pytest.raises(DataFormatError, match=f"is also on line {first} with different") as info:
        case.load()
    assert info.value.line == len(lines) + 1 and info.value.finding == "duplicate_item"
    kept = case.load(policy={"duplicate_item": "fix"})
    title = next(it.title for it in kept.items.values() if it.title.startswith("Toy"))
    assert (
        title == "Toy Story"
        and f"keeps line {first}" in kept.load_report.examples["duplicate_item"][0]
    )


def test_duplicate_user_ids(formats, tmp_path):
    case = formats.write("ml-100k", tmp_path / "ml")
    with open(case.files["users"], "a") as handle:
        handle.write("1|99|F|other|00001\n")
    with pytest.raises(DataFormatError, match=r"u.user:5: field 'user id' user '1' is also on"):
        case.load()
    assert case.load(policy={"duplicate_user": "fix"}).users["1"].attributes["age"] == 24


# -- identity of ids ---------------------------------------------------------------------------
def test_json_ids_beyond_64_bits_stay_distinct(tmp_path):
    path = tmp_path / "r.jsonl"
    big = 2**70
    rows = [{"user_id": big + k, "item_id": big, "rating": 3} for k in range(3)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ds = load_table(path)
    assert sorted(ds.users) == [str(big + k) for k in range(3)]
    assert list(ds.items) == [str(big)]


def test_amazon_ids_beyond_64_bits_stay_distinct(formats, tmp_path):
    case = formats.write("amazon", tmp_path / "amazon")
    text = case.inter.read_text().replace('"user_id": "A1"', f'"user_id": {2**64 + 1}')
    case.inter.write_text(text.replace('"user_id": "A2"', f'"user_id": {2**64 + 2}'))
    ds = case.load()
    assert {str(2**64 + 1), str(2**64 + 2)} <= set(ds.users)


def test_float_ids_beyond_2_53_are_refused(tmp_path):
    path = tmp_path / "r.parquet"
    pd.DataFrame({"user_id": [2.0**60, 2.0**60 + 256], "item_id": ["a", "b"]}).to_parquet(path)
    with pytest.raises(DataFormatError, match="beyond 2\\*\\*53") as info:
        load_table(path)
    assert (info.value.line, info.value.field, info.value.finding) == (1, "user_id", "lossy_id")


# -- encoding and framing ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt", TEXT)
def test_bom_before_the_first_line_loads(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    clean = case.load()
    for path in case.files.values():
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    ds = case.load()
    assert ds.interactions.equals(clean.interactions) and ds.items == clean.items
    assert ds.load_report.by_class()["encoding"] == {"fix-and-report": len(case.files)}


@pytest.mark.parametrize("fmt", [*TEXT, "parquet"])
def test_gzip_content_under_a_plain_name(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    clean = None if fmt == "parquet" else case.load()
    case.inter.write_bytes(gzip.compress(case.inter.read_bytes()))
    if fmt == "parquet":
        with pytest.raises(DataFormatError, match="gzip-compressed; Parquet compresses inside"):
            case.load()
        return
    ds = case.load()
    assert ds.interactions.equals(clean.interactions)
    assert "is gzip-compressed but not named .gz" in ds.load_report.examples["encoding"][0]
    with pytest.raises(DataFormatError, match="gzip"):
        case.load(policy={"encoding": "error"})


def test_truncated_gzip_names_the_file(tmp_path):
    path = tmp_path / "r.csv.gz"
    path.write_bytes(gzip.compress(b"user_id,item_id\n" + b"u,i\n" * 500)[:-30])
    with pytest.raises(DataFormatError, match="r.csv.gz:[0-9]+: the gzip stream is truncated"):
        load_table(path)


@pytest.mark.parametrize("fmt", ["ml-100k", "csv", "amazon", "recbole"])
def test_directory_or_symlink_loop_where_a_file_is_expected(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    items = case.files["items"]
    items.unlink()
    items.mkdir()
    with pytest.raises(DataFormatError, match="is a directory; expected the"):
        case.load()
    items.rmdir()
    os.symlink(items.name, items)  # points at itself
    with pytest.raises(DataFormatError, match="is a symlink loop"):
        case.load()


def test_directory_or_loop_given_as_the_dataset(tmp_path):
    (tmp_path / "ratings.csv").mkdir()
    with pytest.raises(DataFormatError, match="ratings.csv: is a directory"):
        load_dataset(tmp_path / "ratings.csv")
    os.symlink("loop.csv", tmp_path / "loop.csv")
    with pytest.raises(DataFormatError, match="loop.csv: is a symlink loop"):
        load_dataset(tmp_path / "loop.csv")


# -- errors name the field -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("fmt", "cut", "message"),
    [
        (
            "ml-100k",
            "\t1580000000",
            "has 3 '\\t'-separated fields, expected 4: missing 'timestamp'",
        ),
        ("ml-1m", "::1580000000", "has 3 '::'-separated fields, expected 4: missing 'Timestamp'"),
        ("ml-csv", ",1580000000", "has 3 fields, expected 4: missing 'timestamp'"),
        ("recbole", "\t1580000000", "has 3 fields, expected 4: missing 'timestamp'"),
        ("csv", ",1580000000", "has 3 fields, expected 4: missing 'timestamp'"),
    ],
)
def test_field_count_errors_name_the_missing_field(formats, tmp_path, fmt, cut, message):
    case = formats.write(fmt, tmp_path / fmt)
    _edit_line(case.inter, _first_data_line(case), cut, "")
    with pytest.raises(DataFormatError) as info:
        case.load()
    assert message in str(info.value) and info.value.line == _first_data_line(case)
    assert info.value.field.lower() == "timestamp"


def test_a_json_key_twice_is_a_schema_error(formats, tmp_path):
    case = formats.write("jsonl", tmp_path / "jsonl")
    _edit_line(case.inter, 3, '{"user_id":"1"', '{"user_id":"1","user_id":"9"')
    with pytest.raises(DataFormatError, match="jsonl:3: field 'user_id' appears twice"):
        case.load()


def test_a_stray_quote_is_not_silent(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text('user_id,item_id,rating\nu1,"i1,5\nu2,i2,4\nu3,i3,3\n')
    with pytest.raises(DataFormatError, match="r.csv:2: .*runs from line 2 to line 4"):
        load_table(path)


# -- text is data ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "fmt", ["ml-100k", "ml-csv", "recbole", "amazon", "csv", "jsonl", "parquet"]
)
def test_long_text_is_kept_whole(formats, tmp_path, fmt):
    case = formats.write(fmt, tmp_path / fmt)
    title = "Ж" + "long title " * 20000 + "end"  # about 220 KB
    if fmt == "parquet":
        frame = pd.read_parquet(case.files["items"])
        frame.loc[0, "title"] = title
        frame.to_parquet(case.files["items"])
    elif fmt in ("amazon", "jsonl"):
        key = "title"
        lines = case.files["items"].read_text().split("\n")
        record = json.loads(lines[0])
        record[key] = title
        lines[0] = json.dumps(record, ensure_ascii=False)
        case.files["items"].write_text("\n".join(lines))
    else:
        _edit_line(case.files["items"], 1 + bool(case.header.get("items")), "Toy Story", title)
    ds = case.load()
    assert max(len(it.title) for it in ds.items.values()) == len(title)


# -- the report and `llmrec data check` ----------------------------------------------------------
def test_collect_lists_every_error_and_check_exits_1(formats, tmp_path, capsys):
    case = formats.write("ml-100k", tmp_path / "ml")
    _edit_line(case.inter, 2, "\t5\t", "\t9\t")
    _edit_line(case.inter, 5, "\t1580014400", "\t-3")
    with open(case.inter, "a") as handle:
        handle.write("1\t99\t3\t1580050000\n")
    ds = case.load(collect_errors=True)
    report = ds.load_report
    assert isinstance(report, LoadReport) and report.errors == 3 and len(ds) == 10
    assert report.by_class() == {
        "rating_range": {"error": 1},
        "timestamp_range": {"error": 1},
        "unknown_item": {"error": 1},
    }
    assert main(["data", "check", str(case.folder)]) == 1
    out = capsys.readouterr().out
    assert f"{case.inter}: 13 rows read, 10 kept, 3 dropped" in out
    assert f"{case.inter}:2: field 'rating' 9 is outside the rating scale 1..5" in out
    assert f"{case.inter}:13: field 'item id' item '99' is not in u.item" in out
    assert (
        main(["data", "check", str(case.folder), "--on-error", "skip", "--unknown-items", "skip"])
        == 0
    )
    capsys.readouterr()
    assert main(["data", "check", str(case.folder), "--json"]) == 1
    report_json = json.loads(capsys.readouterr().out)
    assert report_json["ok"] is False and report_json["load_report"]["errors"] == 3


def test_check_on_clean_data_and_on_a_file_that_cannot_load(formats, tmp_path, capsys):
    case = formats.write("csv", tmp_path / "csv")
    args = ["data", "check", str(case.inter), "--rating-scale", "1,5"]
    assert main(args) == 0
    assert "ok: 4 users, 5 items, 12 interactions loaded; 0 errors" in capsys.readouterr().out
    case.inter.write_text("user_id,item_id\n")
    assert main(["data", "check", str(case.inter)]) == 1
    assert "error (empty):" in capsys.readouterr().out
    assert main(["data", "check", str(case.inter), "--policy", "nonsense=skip"]) == 2
    assert "unknown finding class 'nonsense'" in capsys.readouterr().err


def test_recbole_year_that_is_not_a_year_is_kept_and_noted(formats, tmp_path):
    case = formats.write("recbole", tmp_path / "rb")
    _edit_line(case.files["items"], 2, "\t1995\t", "\tcirca 1995\t")
    ds = case.load()
    assert ds.items["10"].year is None and ds.items["10"].attributes["release_year"] == "circa 1995"
    assert ds.items["11"].year == 1995 and "release_year" not in ds.items["11"].attributes
    assert "1 items have a release_year that is not a whole year" in ds.load_report.notes[0]


def test_real_ml100k_is_clean_on_its_scale(ml100k):
    report = ml100k.load_report
    assert report.errors == 0 and report.skipped == 0
    assert report.policy.rating_scale == RatingScale(1, 5, 1)
    if "u.data" not in next(iter(report.kept)):  # the RecBole copy: item 267's year "unkonwn"
        assert report.notes == [
            "ml-100k.item: 2 items have a release_year that is not a whole year; kept as given "
            "in attributes['release_year']"
        ]
        assert ml100k.items["267"].attributes["release_year"] == "unkonwn"
    kept = report.kept[next(iter(report.kept))]
    assert kept == 100000


def test_moved_fixture_files_keep_their_loaders(tmp_path):
    from pathlib import Path

    fixtures = Path(__file__).parent / "fixtures"
    shutil.copytree(fixtures / "ml-1m", tmp_path / "ml-1m")
    ds = load_dataset(tmp_path / "ml-1m")
    assert len(ds) == 6 and ds.load_report.errors == 0
