"""Reading JSON Lines with exact line numbers (optionally gzipped), shared by the loaders.

Example:
    >>> for line_no, record in read_jsonl(path, BadRows()):  # doctest: +SKIP
    ...     print(line_no, record["user_id"])
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmrec.data.errors import BadRows, DataFormatError
from llmrec.data.loaders.common import text_lines


def read_jsonl(
    path: Path, bad: BadRows, encoding: str = "utf-8"
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_no, object)`` for each non-blank line; bad JSON goes through ``bad``."""
    for line_no, line in enumerate(text_lines(path, encoding), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            bad.handle(
                DataFormatError(path, line_no, None, f"is not valid JSON ({err.msg})"),
                "invalid JSON",
            )
            continue
        if not isinstance(record, dict):
            bad.handle(
                DataFormatError(
                    path, line_no, None, f"expected a JSON object, got {type(record).__name__}"
                ),
                "not an object",
            )
            continue
        yield line_no, record


def peek_jsonl(path: Path) -> dict[str, Any] | None:
    """The first object of a JSON Lines file, or ``None`` when it does not start like one."""
    try:
        for line in text_lines(path):
            if line.strip():
                record = json.loads(line)
                return record if isinstance(record, dict) else None
    except (ValueError, DataFormatError):
        return None
    return None
