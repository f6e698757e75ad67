"""Property tests: valid files of every format, broken at random, never load silently wrong.

Each example writes a valid dataset in one format, breaks one of its files (drop, duplicate or
garble a field; duplicate a row or a blank line; change the encoding; truncate; compress; empty
it) and loads it under one policy. The outcome must be one of:

* a :class:`DataFormatError` that names the file first and, for a row finding, the line (and
  the field for a value finding);
* a load whose report accounts for every record of the interactions file
  (kept + dropped == records in the broken file), with ``dataset.load_report.kept`` equal to
  the dataset's length.

Any other exception fails the test. The default suite runs a few examples per format; the
``slow`` variant runs many more.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmrec.data.errors import DataFormatError

TEXT_FORMATS = ("ml-100k", "ml-1m", "ml-csv", "recbole", "amazon", "csv", "tsv", "jsonl")
MUTATIONS = (
    "drop_field",
    "duplicate_field",
    "garble_field",
    "duplicate_row",
    "blank_line",
    "latin1",
    "bom",
    "utf16",
    "truncate",
    "compress",
    "header_only",
)
# No quote characters: a stray quote legitimately joins CSV lines (tested on its own).
GARBAGE = st.one_of(
    st.sampled_from(
        ["", " ", "abc", "-1", "0", "6", "3.5", "1e400", "nan", "inf", "null", "99999999999999"]
    ),
    st.sampled_from(["2020-01-01", "3000-01-01", "-86400", "1.2e30", "١٢", "Ünïcödé", "x" * 3000]),
    st.text(
        # No lone surrogates: a file cannot hold them (they are not encodable).
        alphabet=st.characters(
            blacklist_categories=("Cs",), blacklist_characters='"\n\r\x85\u2028\u2029'
        ),
        max_size=8,
    ),
)
JSON_GARBAGE = st.one_of(
    st.sampled_from(
        [None, "", "abc", -1, 0, 6, 3.5, 1e300, True, [], {}, [1, 2], 10**30, -(10**25)]
    ),
    st.sampled_from(["2020-01-01", "3000-01-01T00:00:00", 32503680000000, 1e17, "１"]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
POLICIES = st.sampled_from(
    [
        {},
        {"on_error": "skip"},
        {"collect_errors": True},
        {"on_error": "skip", "unknown_items": "add"},
    ]
)


def _split(line: str, case, role: str) -> tuple[list[str], str] | None:
    sep = case.sep.get(role, "")
    if not sep:
        return None
    return line.split(sep), sep


def _mutate_line(line: str, case, role: str, kind: str, data) -> str:
    parts = _split(line, case, role)
    if parts is None:  # JSON Lines: operate on the object
        try:
            record = json.loads(line)
        except ValueError:
            return line
        keys = list(record)
        if not keys:
            return line
        key = data.draw(st.sampled_from(keys), label="key")
        if kind == "drop_field":
            record.pop(key)
            return json.dumps(record, ensure_ascii=False)
        if kind == "duplicate_field":
            value = json.dumps(data.draw(JSON_GARBAGE, label="dup value"))
            return "{" + f'"{key}": {value}, ' + line.strip()[1:]
        record[key] = data.draw(JSON_GARBAGE, label="value")
        return json.dumps(record, ensure_ascii=False)
    fields, sep = parts
    k = data.draw(st.integers(0, len(fields) - 1), label="field")
    if kind == "drop_field":
        del fields[k]
    elif kind == "duplicate_field":
        fields.insert(k, fields[k])
    else:
        fields[k] = data.draw(GARBAGE, label="value")
    return sep.join(fields)


def _break_text(case, role: str, kind: str, data) -> None:
    path = case.files[role]
    raw = path.read_bytes()
    lines = raw.decode("utf-8").split("\n")[:-1]
    first = 1 if case.header.get(role) else 0
    pick = lambda: data.draw(st.integers(first, max(first, len(lines) - 1)), label="line")  # noqa: E731
    if kind in ("drop_field", "duplicate_field", "garble_field") and len(lines) > first:
        k = pick()
        lines[k] = _mutate_line(lines[k], case, role, kind, data)
    elif kind == "duplicate_row" and len(lines) > first:
        k = pick()
        lines.insert(k, lines[k])
    elif kind == "blank_line":
        lines.insert(data.draw(st.integers(0, len(lines)), label="at"), " ")
    elif kind == "header_only":
        lines = lines[:first]
    text = "".join(line + "\n" for line in lines)
    if kind == "latin1":
        body = text.replace("é", "\xe9").encode("latin-1", errors="replace") + "é\n".encode(
            "latin-1"
        )
    elif kind == "bom":
        body = b"\xef\xbb\xbf" + text.encode("utf-8")
    elif kind == "utf16":
        body = text.encode("utf-16")
    else:
        body = text.encode("utf-8")
    if kind == "truncate":
        body = body[: data.draw(st.integers(0, max(0, len(body) - 1)), label="cut")]
    if kind == "compress":
        body = gzip.compress(body)
    path.write_bytes(body)


def _break_parquet(case, role: str, kind: str, data) -> None:
    import pandas as pd

    path = case.files[role]
    frame = pd.read_parquet(path)
    if kind in ("truncate", "compress", "utf16", "latin1", "bom"):
        raw = path.read_bytes()
        if kind == "truncate":
            raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")]
        elif kind == "compress":
            raw = gzip.compress(raw)
        else:
            k = data.draw(st.integers(0, len(raw) - 1), label="byte")
            raw = raw[:k] + bytes([raw[k] ^ 0xFF]) + raw[k + 1 :]
        path.write_bytes(raw)
        return
    _break_frame(frame, kind, data).to_parquet(path, index=False)


def _break_frame(frame, kind: str, data):
    import pandas as pd

    frame = frame.copy()
    column = data.draw(st.sampled_from(list(frame.columns)), label="column")
    if kind == "drop_field":
        return frame.drop(columns=column)
    if kind == "duplicate_row" and len(frame):
        k = data.draw(st.integers(0, len(frame) - 1), label="row")
        return pd.concat([frame, frame.iloc[[k]]], ignore_index=True)
    if kind == "header_only":
        return frame.iloc[:0]
    if kind in ("garble_field", "duplicate_field") and len(frame):
        k = data.draw(st.integers(0, len(frame) - 1), label="row")
        value = data.draw(GARBAGE, label="value")
        frame[column] = frame[column].astype(str)
        frame.loc[k, column] = value
    return frame


def check_outcome(case, formats, options, kind: str = "") -> None:
    """The property: a precise error, or a report that accounts for every record."""
    try:
        dataset = case.load(**options)
    except DataFormatError as err:
        formats.assert_precise(err, case)
        return
    report = dataset.load_report
    records = formats.records(case)
    kept = report.kept[str(case.inter)]
    assert kept == len(dataset)
    assert kept + report.dropped(case.inter) == records, report.format()
    if not report.counts and kind != "truncate":  # nothing found: nothing may have changed
        assert len(dataset) == len(formats.ROWS) == records


def _run(formats, fmt: str, data) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"broken-{fmt}-"))
    try:
        case = formats.write(fmt, folder / "ds")
        role = data.draw(st.sampled_from(sorted(case.files)), label="file")
        kind = data.draw(st.sampled_from(MUTATIONS), label="mutation")
        if fmt == "hf":
            case.frames[role] = _break_frame(case.frames[role], kind, data)
        elif fmt == "parquet":
            _break_parquet(case, role, kind, data)
        else:
            _break_text(case, role, kind, data)
        check_outcome(case, formats, data.draw(POLICIES, label="policy"), kind)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


FORMAT_NAMES = (
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


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_broken_files_fail_precisely_or_are_accounted_for(formats, fmt, data):
    _run(formats, fmt, data)


@pytest.mark.slow
@pytest.mark.parametrize("fmt", FORMAT_NAMES)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_broken_files_many_examples(formats, fmt, data):
    _run(formats, fmt, data)
