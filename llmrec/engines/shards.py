"""A job cut into fixed shards of keys, each shard's rows one Parquet file, written once.

The plan is deterministic: shard ``i`` holds ``keys[i * size : (i + 1) * size]``. A shard's file
appears atomically (temporary file, then rename) only when the whole shard is done, so a worker
killed mid-shard leaves nothing behind and the shard simply runs again. ``plan.json`` records
the keys' digest, the shard size and the job's settings; a re-run with another plan refuses to
mix results.

Example:
    >>> plan = ShardPlan.create("out.shards", ["u1", "u2", "u3"], size=2, settings={"m": "x"})
    >>> plan.todo()
    [0, 1]
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

KEY = "key"


def _digest(keys: Sequence[str]) -> str:
    h = hashlib.sha256()
    for key in keys:
        h.update(key.encode("utf-8") + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class ShardPlan:
    """Keys in output order, cut into shards of ``size``, stored under ``folder``.

    Args:
        folder: Where ``plan.json`` and ``shard-00000.parquet``, ... live.
        keys: Unique keys (user ids, pair ids) in output order.
        size: Keys per shard.
    """

    folder: Path
    keys: tuple[str, ...]
    size: int

    @classmethod
    def create(
        cls,
        folder: str | os.PathLike,
        keys: Sequence[str],
        size: int,
        settings: dict[str, Any] | None = None,
    ) -> ShardPlan:
        """Open (or start) the plan in ``folder``; ``ValueError`` if it holds another plan."""
        if size < 1:
            raise ValueError(f"shard size must be >= 1, got {size}")
        keys = tuple(str(k) for k in keys)
        if len(set(keys)) != len(keys):
            raise ValueError("shard keys must be unique; got duplicates")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        manifest = {
            "keys": len(keys),
            "digest": _digest(keys),
            "shard_size": size,
            "settings": settings or {},
        }
        path = folder / "plan.json"
        if path.exists():
            old = json.loads(path.read_text(encoding="utf-8"))
            if old != json.loads(json.dumps(manifest)):
                changed = sorted(k for k in manifest if old.get(k) != manifest[k])
                raise ValueError(
                    f"{path}: this folder holds shards of another job (differs in {changed}); "
                    "re-run with the same users and settings, or write to another output"
                )
        else:
            tmp = path.with_name(f".plan.json.tmp-{os.getpid()}")
            tmp.write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
            os.replace(tmp, path)
        return cls(folder, keys, size)

    @property
    def n_shards(self) -> int:
        return -(-len(self.keys) // self.size)

    def shard_keys(self, index: int) -> list[str]:
        return list(self.keys[index * self.size : (index + 1) * self.size])

    def path(self, index: int) -> Path:
        return self.folder / f"shard-{index:05d}.parquet"

    def todo(self) -> list[int]:
        """Shards without a finished file."""
        return [i for i in range(self.n_shards) if not self.path(i).exists()]

    def write(self, index: int, rows: list[dict[str, Any]]) -> Path:
        """Write shard ``index`` atomically; its rows must carry exactly its keys, in order."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        expected = self.shard_keys(index)
        got = [str(r.get(KEY)) for r in rows]
        if got != expected:
            raise ValueError(
                f"shard {index}: a worker returned keys {got[:3]}... ({len(got)}), expected "
                f"{expected[:3]}... ({len(expected)}) in order"
            )
        path = self.path(index)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        pq.write_table(pa.Table.from_pylist(rows), tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        return path

    def read(self) -> list[dict[str, Any]]:
        """Every row of every shard in key order; ``RuntimeError`` if a shard is missing."""
        import pyarrow.parquet as pq

        missing = self.todo()
        if missing:
            raise RuntimeError(
                f"{self.folder}: shards {missing[:5]} (of {len(missing)}) are not finished"
            )
        rows: list[dict[str, Any]] = []
        for index in range(self.n_shards):
            rows.extend(pq.read_table(self.path(index)).to_pylist())
        if [r[KEY] for r in rows] != list(self.keys):
            raise RuntimeError(f"{self.folder}: shard rows do not cover the plan's keys once each")
        return rows
