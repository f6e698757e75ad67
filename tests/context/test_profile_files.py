"""One reader for every profile file: each shape, failed rows counted, bad rows named."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from llmrec.context import UserContext, read_profile_file, read_profile_texts
from llmrec.profiles.schema import ProfileRecord
from llmrec.profiles.store import write_records


def _jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _record(user: str, status: str = "ok", text: str = "likes drama") -> ProfileRecord:
    return ProfileRecord(
        user_id=user,
        status=status,
        text=text if status == "ok" else "",
        raw=text,
        structured=None,
        error=None if status == "ok" else "empty reply",
        attempts=1,
        format="free",
        strategy="whole(token_budget=768)",
        prompt="profile/free_text@v1",
        model="m",
        n_interactions=3,
    )


def test_profile_records_as_written_by_llmrec_profile(tmp_path):
    path = tmp_path / "p.jsonl"
    write_records(path, [_record("1"), _record("2", "failed"), _record("3", text="hates horror")])
    read = read_profile_file(path)
    assert read.texts == {"1": "likes drama", "3": "hates horror"}
    assert read.failed == ("2",) and read.field == "text"
    assert UserContext.from_profile_file(path).profiles == read.texts


def test_user_profile_rows_plain_and_structured(tmp_path):
    structured = {"liked_genres": ["Drama"], "disliked_genres": []}
    path = _jsonl(
        tmp_path / "p.jsonl",
        [{"user_id": 7, "profile": "plain text"}, {"user_id": "8", "profile": structured}],
    )
    texts = read_profile_texts(path)
    assert texts == {"7": "plain text", "8": json.dumps(structured, ensure_ascii=False)}


def test_text_rows_parquet_and_a_named_field(tmp_path):
    assert read_profile_texts(_jsonl(tmp_path / "t.jsonl", [{"user_id": "a", "text": "x"}])) == {
        "a": "x"
    }
    frame = pd.DataFrame({"user_id": ["a", "b"], "status": ["ok", "failed"], "text": ["x", ""]})
    frame.to_parquet(tmp_path / "p.parquet")
    read = read_profile_file(tmp_path / "p.parquet")
    assert read.texts == {"a": "x"} and read.failed == ("b",)
    rows = [{"user_id": "a", "before_profile": "old", "after_profile": "new", "after_auc": 0.5}]
    path = _jsonl(tmp_path / "eval_profiles.jsonl", rows)
    assert read_profile_texts(path, field="after_profile") == {"a": "new"}


def test_empty_text_counts_as_failed(tmp_path):
    path = _jsonl(
        tmp_path / "p.jsonl", [{"user_id": "a", "profile": "  "}, {"user_id": "b", "profile": "y"}]
    )
    read = read_profile_file(path)
    assert read.texts == {"b": "y"} and read.failed == ("a",)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            [{"user_id": "a", "text": "x"}, {"user_id": "a", "text": "y"}],
            r"p.jsonl:2: user 'a' appears again \(first at line 1\)",
        ),
        ([{"user_id": "a", "text": "x"}, {"text": "y"}], r"p.jsonl:2: field 'user_id' is missing"),
        ([{"user_id": "a", "text": "x"}, {"user_id": "b"}], r"p.jsonl:2: field 'text' is missing"),
        (
            [{"user_id": "a", "bio": "x"}],
            r"p.jsonl:1: no profile text column; expected one of \['text', 'profile'\]",
        ),
        ([{"user_id": "a", "text": "x", "status": "done"}], r"p.jsonl:1: field 'status' is 'done'"),
        ([["a", "x"]], r"p.jsonl:1: expected a JSON object, got list"),
    ],
)
def test_bad_rows_name_file_line_and_field(tmp_path, rows, message):
    with pytest.raises(ValueError, match=message):
        read_profile_file(_jsonl(tmp_path / "p.jsonl", rows))


def test_bad_json_and_missing_file_are_named(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"user_id": "a", "text": "x"}\n{"user_id": \n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"p.jsonl:2: not valid JSON"):
        read_profile_file(path)
    with pytest.raises(FileNotFoundError, match="nope.jsonl does not exist"):
        read_profile_file(tmp_path / "nope.jsonl")
