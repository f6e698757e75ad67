"""Profile records in JSON Lines: append with flush per batch, read back safely after a kill.

Example:
    >>> from llmrec.profiles.store import read_profiles
    >>> profiles = read_profiles("profiles.jsonl")  # user id -> ProfileRecord
    >>> profiles["1"].text
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from llmrec.profiles.schema import ProfileRecord

logger = logging.getLogger(__name__)


def repair_tail(path: str | os.PathLike) -> int:
    """Cut a last line that a killed writer left without its newline; returns bytes removed.

    Lines are written whole and flushed, so only the line in flight at a kill can be partial;
    that user is simply profiled again.
    """
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "rb") as handle:  # read-only first: a whole file needs no write access
        handle.seek(-1, os.SEEK_END)
        if handle.read(1) == b"\n":
            return 0
    with open(path, "rb+") as handle:
        size = handle.seek(0, os.SEEK_END)
        # Walk back to the last newline in blocks.
        pos, block = size, 1 << 16
        cut = 0
        while pos > 0:
            start = max(0, pos - block)
            handle.seek(start)
            chunk = handle.read(pos - start)
            found = chunk.rfind(b"\n")
            if found != -1:
                cut = start + found + 1
                break
            pos = start
        handle.truncate(cut)
    logger.warning(
        "%s: dropped a partial last line (%d bytes) left by a killed run", path, size - cut
    )
    return size - cut


def iter_records(
    path: str | os.PathLike, skip_partial_tail: bool = False
) -> Iterable[ProfileRecord]:
    """Records of a JSONL file in order; a bad line raises ``ValueError`` naming file and line.

    Args:
        path: The file.
        skip_partial_tail: Ignore a last line without its newline (a file another process is
            writing) instead of reading it.
    """
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            if skip_partial_tail and not line.endswith("\n"):
                break
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                data = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(
                    f"{where}: not valid JSON ({err.msg}, column {err.colno})"
                ) from err
            if not isinstance(data, dict):
                raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
            yield ProfileRecord.from_dict(data, where)


def read_profiles(path: str | os.PathLike, only_ok: bool = False) -> dict[str, ProfileRecord]:
    """User id -> record (the first record of a user wins); ``only_ok`` skips failed ones."""
    out: dict[str, ProfileRecord] = {}
    for record in iter_records(path):
        if only_ok and not record.ok:
            continue
        out.setdefault(record.user_id, record)
    return out


def append_records(path: str | os.PathLike, records: Iterable[ProfileRecord]) -> int:
    """Append records as JSON lines, then flush and fsync: a kill loses at most the next batch."""
    lines = [json.dumps(r.to_dict(), ensure_ascii=False) + "\n" for r in records]
    if not lines:
        return 0
    try:
        # One write of whole lines: a kill or a full disk can tear only the last line, which
        # repair_tail cuts on resume.
        with open(path, "ab") as handle:
            handle.write("".join(lines).encode("utf-8"))
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as err:
        raise _write_error(err, path, "appending to") from err
    return len(lines)


def _write_error(err: OSError, path: str | os.PathLike, action: str) -> OSError:
    """The same error kind, its message naming the file and saying that a re-run resumes."""
    return type(err)(
        err.errno,
        f"{err.strerror} while {action} {path}; the records written before are kept, "
        "fix the cause (space, permissions) and re-run to resume",
    )


def write_records(path: str | os.PathLike, records: Iterable[ProfileRecord]) -> int:
    """Write a whole file atomically (temporary file, fsync, rename)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    count = 0
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            for record in records:
                handle.write(json.dumps(record.to_dict(), ensure_ascii=False) + "\n")
                count += 1
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise _write_error(err, path, "writing") from err
    return count
