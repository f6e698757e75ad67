"""The profile batch job: resumable, append-per-batch, sharded across processes.

``run_profile_job`` profiles the users not yet in the output file, a batch at a time; each batch
is appended and flushed, so a killed job loses at most the batch in flight, and a re-run skips
every user already written (a partial last line left by ``kill -9`` is cut first).

Under ``torchrun`` or ``accelerate launch`` (``RANK``/``WORLD_SIZE`` in the environment), or with
``shard=(i, n)``, process ``i`` takes users ``i, i+n, i+2n, ...`` and writes
``<out>.parts/shard-i-of-n.jsonl``. Each shard marks itself done; the last one to finish merges
the parts with any earlier output into ``<out>`` (atomically, in the requested user order, one
record per user) and removes the parts. No process waits for another, and no distributed
runtime is needed.

Example:
    >>> from llmrec.profiles.job import run_profile_job
    >>> result = run_profile_job(builder, split.train, user_ids, "profiles.jsonl")
    >>> result.written, result.skipped
    (64, 0)
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from llmrec.data.records import InteractionDataset
from llmrec.profiles.builder import ProfileBuilder
from llmrec.profiles.schema import ProfileRecord
from llmrec.profiles.store import append_records, iter_records, repair_tail, write_records

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    """What one process of a job did.

    Args:
        path: The final output file (``merged`` tells whether it is complete yet).
        written: Records this process wrote now.
        skipped: Users of this shard found done already.
        failed: Failed records among those written.
        shard: ``(index, count)`` of this process.
        merged: Whether the output file now holds every shard's users.
    """

    path: Path
    written: int
    skipped: int
    failed: int
    shard: tuple[int, int]
    merged: bool


def shard_from_env() -> tuple[int, int]:
    """``(rank, world_size)`` from ``RANK``/``WORLD_SIZE`` (torchrun, accelerate), else ``(0, 1)``."""
    try:
        rank = int(os.environ.get("RANK", "0"))
        world = int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError as err:
        raise ValueError(f"RANK/WORLD_SIZE must be integers: {err}") from err
    return check_shard((rank, world))


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` -> ``(i, n)`` with ``0 <= i < n``."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match:
        raise ValueError(f"shard must look like i/n (e.g. 0/2), got {text!r}")
    return check_shard((int(match.group(1)), int(match.group(2))))


def check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    index, count = shard
    if count < 1 or not 0 <= index < count:
        raise ValueError(f"shard {index}/{count}: need 0 <= index < count")
    return index, count


def parts_dir(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".parts")


def _check_settings(record: ProfileRecord, settings: dict[str, str], where: Path) -> None:
    for key, value in settings.items():
        if getattr(record, key) != value:
            raise ValueError(
                f"{where}: user {record.user_id} was profiled with {key}={getattr(record, key)!r}, "
                f"this run uses {key}={value!r}; resume with the same settings or write to "
                "another --out"
            )


def _done_users(out: Path, own: Path, settings: dict[str, str]) -> set[str]:
    """Users already written to ``out`` or any shard part, settings checked on the way.

    Only files this process may write are repaired (``out``, its own part); the parts of other
    shards, possibly being written now, are read up to their last complete line.
    """
    files = [out] if out.exists() else []
    if parts_dir(out).is_dir():
        files += sorted(parts_dir(out).glob("shard-*.jsonl"))
    done: set[str] = set()
    for path in files:
        mine = path in (out, own)
        if mine:
            repair_tail(path)
        for record in iter_records(path, skip_partial_tail=not mine):
            _check_settings(record, settings, path)
            done.add(record.user_id)
    return done


def run_profile_job(
    builder: ProfileBuilder,
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    out: str | os.PathLike,
    batch_size: int = 32,
    shard: tuple[int, int] | None = None,
    progress: bool = False,
) -> JobResult:
    """Profile ``user_ids`` into the JSONL file ``out``, resuming and sharding as described above.

    Args:
        builder: The :class:`ProfileBuilder` (backend, strategy, format, prompt).
        dataset: Training interactions only (``split.train``).
        user_ids: Users to profile, in output order; duplicates are ignored.
        out: The JSONL output file.
        batch_size: Users per backend call and per flushed write.
        shard: ``(index, count)``; default from ``RANK``/``WORLD_SIZE``, else ``(0, 1)``.
        progress: Show a tqdm bar.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    from tqdm.auto import tqdm

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    index, count = check_shard(shard) if shard is not None else shard_from_env()
    users = list(dict.fromkeys(str(u) for u in user_ids))
    mine = users[index::count]
    if count == 1:
        target = out
    else:
        parts_dir(out).mkdir(exist_ok=True)
        target = parts_dir(out) / f"shard-{index}-of-{count}.jsonl"
        _done_marker(out, index, count).unlink(missing_ok=True)
    done = _done_users(out, target, builder.settings())
    todo = [u for u in mine if u not in done]
    written = failed = 0
    bar = tqdm(
        total=len(mine),
        initial=len(mine) - len(todo),
        desc=f"profiles {index + 1}/{count}" if count > 1 else "profiles",
        unit="user",
        disable=not progress,
    )
    for start in range(0, len(todo), batch_size):
        records = builder.build(dataset, todo[start : start + batch_size])
        append_records(target, records)
        written += len(records)
        failed += sum(not r.ok for r in records)
        bar.update(len(records))
    bar.close()
    merged = count == 1
    if count > 1:
        _done_marker(out, index, count).write_text(f"{len(mine)}\n")
        merged = try_merge(out, users, count)
    return JobResult(out, written, len(mine) - len(todo), failed, (index, count), merged)


def _done_marker(out: Path, index: int, count: int) -> Path:
    return parts_dir(out) / f"shard-{index}-of-{count}.done"


def try_merge(out: str | os.PathLike, user_ids: Sequence[str], count: int) -> bool:
    """Merge shard parts into ``out`` once all ``count`` shards are done; True when merged.

    One process merges (an exclusive lock file); a lock left by a dead process is taken over.
    """
    out = Path(out)
    folder = parts_dir(out)
    if not all(_done_marker(out, i, count).exists() for i in range(count)):
        return False
    lock = folder / "merge.lock"
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        if _lock_alive(lock):
            return False
        lock.unlink(missing_ok=True)
        return try_merge(out, user_ids, count)
    with os.fdopen(fd, "w") as handle:
        handle.write(str(os.getpid()))
    merge_parts(out, user_ids)
    return True


def _lock_alive(lock: Path) -> bool:
    try:
        pid = int(lock.read_text().strip() or "0")
    except (OSError, ValueError):
        return False
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def merge_parts(out: str | os.PathLike, user_ids: Sequence[str] = ()) -> int:
    """Fold ``<out>.parts/*.jsonl`` and ``out`` into ``out``: one record per user, ordered.

    Users in ``user_ids`` come first in that order, any others after in file order. Returns the
    number of records written. Safe to call by hand after a crash (``llmrec profile --merge``).
    """
    out = Path(out)
    folder = parts_dir(out)
    files = ([out] if out.exists() else []) + sorted(folder.glob("shard-*.jsonl"))
    records: dict[str, ProfileRecord] = {}
    for path in files:
        repair_tail(path)
        for record in iter_records(path):
            records.setdefault(record.user_id, record)
    order = {u: k for k, u in enumerate(dict.fromkeys(str(u) for u in user_ids))}
    ranked = sorted(records.values(), key=lambda r: order.get(r.user_id, len(order)))
    written = write_records(out, ranked)
    for path in folder.glob("*"):
        path.unlink()
    folder.rmdir()
    logger.info("merged %d profiles into %s", written, out)
    return written
