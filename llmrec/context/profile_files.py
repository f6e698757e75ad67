"""One reader for every profile file the toolkit writes or takes.

Shapes read (one row per user, JSON Lines or Parquet):

- profile records of ``llmrec profile`` / :func:`llmrec.profiles.run_profile_job`:
  ``{"user_id", "status": "ok"|"failed", "text", "raw", "structured", ...}``; failed rows are
  skipped and counted;
- ``{"user_id", "profile"}``, the profile a string or a structured mapping (written as compact
  JSON), as hand-made files and the embedding recipe's configs use;
- ``{"user_id", "text"}`` without a status;
- any other column holding the text, named with ``field`` (``"after_profile"`` of the DPO
  recipe's ``eval_profiles.jsonl``, say).

A user appearing twice is an error naming both lines; a row without a user id or without the
text column is an error naming the file, the line and the field.

Example:
    >>> profiles = read_profile_file("runs/profiles.jsonl")  # doctest: +SKIP
    >>> profiles.texts["1"][:30], profiles.failed  # doctest: +SKIP
    ('The user enjoys dramas and ...', 2)
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

STATUSES = ("ok", "failed")
TEXT_FIELDS = ("text", "profile")  # looked for in this order when ``field`` is not given


@dataclass(frozen=True)
class ProfileFile:
    """The profiles of one file.

    Attributes:
        path: The file read.
        texts: ``user_id -> profile text`` of the usable rows, in file order.
        failed: User ids whose row was a failed profile (status ``failed`` or empty text).
        field: The column the text came from.
    """

    path: Path
    texts: dict[str, str]
    failed: tuple[str, ...] = ()
    field: str = "text"


def _rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line or row number, record)`` of a JSONL or Parquet file (1-based numbers)."""
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        for n, record in enumerate(frame.to_dict(orient="records"), start=1):
            yield n, record
        return
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{path}:{n}: not valid JSON ({err.msg}, column {err.colno})"
                ) from err
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{n}: expected a JSON object, got {type(record).__name__}")
            yield n, record


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):
        return json.dumps(dict(value), ensure_ascii=False)
    return str(value)


def read_profile_file(path: str | os.PathLike, field: str | None = None) -> ProfileFile:
    """Read a profile file of any shape above.

    Args:
        path: A ``.jsonl`` (or ``.json`` lines) or ``.parquet`` file.
        field: Column holding the profile text; default ``text`` when the rows have it, else
            ``profile``.

    Returns:
        A :class:`ProfileFile`; failed rows are counted in ``failed``, not in ``texts``.

    Raises:
        ValueError: Naming file, line and field: bad JSON, a row without ``user_id`` or the text
            column, an unknown ``status``, or a user appearing twice.
        FileNotFoundError: When ``path`` does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"profile file {path} does not exist")
    texts: dict[str, str] = {}
    failed: list[str] = []
    first_line: dict[str, int] = {}
    chosen = field
    for n, record in _rows(path):
        where = f"{path}:{n}"
        if chosen is None:
            chosen = next((f for f in TEXT_FIELDS if f in record), None)
            if chosen is None:
                raise ValueError(
                    f"{where}: no profile text column; expected one of {list(TEXT_FIELDS)} "
                    f"(or pass field=...), got keys {sorted(record)}"
                )
        if record.get("user_id") in (None, ""):
            raise ValueError(f"{where}: field 'user_id' is missing or empty")
        if chosen not in record:
            raise ValueError(f"{where}: field {chosen!r} is missing; got keys {sorted(record)}")
        user = str(record["user_id"])
        if user in first_line:
            raise ValueError(
                f"{where}: user {user!r} appears again (first at line {first_line[user]}); "
                "a profile file holds one row per user"
            )
        first_line[user] = n
        status = record.get("status", "ok")
        if status not in STATUSES:
            raise ValueError(f"{where}: field 'status' is {status!r}; expected one of {STATUSES}")
        text = _text(record[chosen]).strip()
        if status == "failed" or not text:
            failed.append(user)
            continue
        texts[user] = text
    if failed:
        logger.warning(
            "%s: %d of %d profiles failed and are left out", path, len(failed), len(first_line)
        )
    return ProfileFile(path, texts, tuple(failed), chosen or "text")


def read_profile_texts(path: str | os.PathLike, field: str | None = None) -> dict[str, str]:
    """``user_id -> profile text`` of a profile file (see :func:`read_profile_file`)."""
    return read_profile_file(path, field).texts
