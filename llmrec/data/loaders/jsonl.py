"""Reading JSON Lines with exact line numbers (optionally gzipped), shared by the loaders.

Numbers keep their exact value (Python integers have no width, so an id beyond 64 bits keeps
every digit); an object that names one key twice is a ``schema`` finding, since which value was
meant is unknown.

Example:
    >>> for line_no, record in read_jsonl(path, LoadReport()):  # doctest: +SKIP
    ...     print(line_no, record["user_id"])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import text_lines
from llmrec.data.validation import LoadReport


class _RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKey(key)
            seen.add(key)
    return record


def parse_line(line: str, path: Path, line_no: int) -> dict[str, Any]:
    """One JSON object, or a :class:`DataFormatError` saying what is wrong with the line."""
    try:
        record = json.loads(line, object_pairs_hook=_object)
    except _RepeatedKey as err:
        raise DataFormatError(
            path, line_no, err.key, "appears twice in one object; expected each key once", "schema"
        ) from None
    except json.JSONDecodeError as err:
        raise DataFormatError(
            path, line_no, None, f"is not valid JSON ({err.msg} at column {err.colno})", "schema"
        ) from None
    except RecursionError:
        raise DataFormatError(path, line_no, None, "is JSON nested too deeply", "schema") from None
    if not isinstance(record, dict):
        raise DataFormatError(
            path, line_no, None, f"expected a JSON object, got {type(record).__name__}", "schema"
        )
    return record


def read_jsonl(
    path: Path, bad: LoadReport, encoding: str = "utf-8"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, object)`` for each non-blank line; bad lines go through ``bad``."""
    for line_no, line in enumerate(text_lines(path, encoding, report=bad), start=1):
        if not line.strip():
            continue
        try:
            record = parse_line(line, path, line_no)
        except DataFormatError as err:
            bad.handle(err)
            continue
        yield line_no, record


def peek_jsonl(path: Path) -> dict[str, Any] | None:
    """The first object of a JSON Lines file, or ``None`` when it does not start like one."""
    try:
        for line in text_lines(path):
            if line.strip():
                record = json.loads(line)
                return record if isinstance(record, dict) else None
    except (ValueError, RecursionError, OSError, DataFormatError):
        return None
    return None
