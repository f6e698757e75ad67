"""Embedding tables: ids plus a float matrix, saved as safetensors or Parquet.

``.safetensors`` keeps the matrix as one tensor and the ids and metadata as JSON in the header
(loads memory-mapped, fast for big tables); ``.parquet`` gives one row per id with an ``id``
column and an ``embedding`` list column, readable from pandas, polars, Spark or DuckDB.

Example:
    >>> import numpy as np
    >>> from llmrec.embeddings.store import EmbeddingTable
    >>> table = EmbeddingTable(["u1", "u2"], np.eye(2, dtype=np.float32), {"model": "minilm"})
    >>> table.save("/tmp/users.safetensors")  # doctest: +SKIP
    >>> EmbeddingTable.load("/tmp/users.safetensors").vector("u2")  # doctest: +SKIP
    array([0., 1.], dtype=float32)
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

FORMATS = (".safetensors", ".parquet")


@dataclass(frozen=True)
class EmbeddingTable:
    """Row ``i`` of ``vectors`` is the embedding of ``ids[i]``.

    Args:
        ids: Unique string ids.
        vectors: ``(n, dim)`` float array.
        metadata: JSON-serialisable provenance (model, instruction, sources, ...).
    """

    ids: Sequence[str]
    vectors: np.ndarray
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ids = [str(i) for i in self.ids]
        vectors = np.asarray(self.vectors)
        if vectors.ndim != 2 or vectors.shape[0] != len(ids):
            raise ValueError(
                f"vectors must have shape (len(ids)={len(ids)}, dim), got {vectors.shape}"
            )
        if len(set(ids)) != len(ids):
            raise ValueError("ids must be unique")
        object.__setattr__(self, "ids", ids)
        object.__setattr__(self, "vectors", vectors)
        object.__setattr__(self, "metadata", dict(self.metadata))

    @cached_property
    def index(self) -> dict[str, int]:
        return {i: n for n, i in enumerate(self.ids)}

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    def vector(self, id_: str) -> np.ndarray:
        if str(id_) not in self.index:
            raise KeyError(f"id {id_!r} not in the table ({len(self)} ids)")
        return self.vectors[self.index[str(id_)]]

    def take(self, ids: Sequence[str]) -> np.ndarray:
        """``(len(ids), dim)`` rows for ``ids``; raises ``KeyError`` naming a missing id."""
        missing = [i for i in ids if str(i) not in self.index]
        if missing:
            raise KeyError(f"{len(missing)} ids not in the table, e.g. {missing[:3]}")
        return self.vectors[[self.index[str(i)] for i in ids]]

    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (``.safetensors`` or ``.parquet``, chosen by the suffix).

        The file appears whole or not at all: it is written beside ``path`` under a temporary
        name, synced, then renamed over it, so a killed job never leaves a torn table.
        """
        path = Path(path)
        if path.suffix not in FORMATS:
            raise ValueError(f"unknown table format {path.suffix!r} for {path}; allowed: {FORMATS}")
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            if path.suffix == ".safetensors":
                header = {"ids": json.dumps(self.ids), "metadata": json.dumps(self.metadata)}
                tmp.write_bytes(_safetensors_bytes(self.vectors, header))
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                flat = pa.array(np.ascontiguousarray(self.vectors).reshape(-1))
                column = pa.FixedSizeListArray.from_arrays(flat, self.dim)
                table = pa.table({"id": pa.array(self.ids, pa.string()), "embedding": column})
                table = table.replace_schema_metadata({"llmrec": json.dumps(self.metadata)})
                pq.write_table(table, str(tmp))
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except OSError as err:
            raise OSError(err.errno, f"could not write the table {path}: {err.strerror}") from err
        except Exception as err:
            # safetensors reports I/O failures (a full disk) as its own error type
            if "I/O error" not in str(err):
                raise
            raise OSError(f"could not write the table {path}: {err}") from err
        finally:
            tmp.unlink(missing_ok=True)
        return path

    @classmethod
    def load(cls, path: str | Path) -> EmbeddingTable:
        """Read a table written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist")
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="numpy") as handle:
                header = handle.metadata() or {}
                vectors = handle.get_tensor("embeddings")
            if "ids" not in header:
                raise ValueError(f"{path}: no 'ids' in the safetensors header; not an llmrec table")
            return cls(json.loads(header["ids"]), vectors, json.loads(header.get("metadata", "{}")))
        if path.suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(str(path))
            if not {"id", "embedding"} <= set(table.column_names):
                raise ValueError(
                    f"{path}: needs columns 'id' and 'embedding', has {table.column_names}"
                )
            column = table.column("embedding").combine_chunks()
            dim = column.type.list_size if hasattr(column.type, "list_size") else None
            flat = column.flatten().to_numpy(zero_copy_only=False)
            n = table.num_rows
            vectors = flat.reshape(n, dim if dim else (len(flat) // max(n, 1)))
            meta = (table.schema.metadata or {}).get(b"llmrec", b"{}")
            return cls(table.column("id").to_pylist(), vectors, json.loads(meta))
        raise ValueError(f"unknown table format {path.suffix!r} for {path}; allowed: {FORMATS}")


def _remove_stale_temps(path: Path) -> None:
    """Delete temporary siblings of ``path`` left by writers that were killed mid-write."""
    for stale in path.parent.glob(f".{path.name}.tmp-*"):
        pid = stale.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not _alive(int(pid)):
            stale.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _safetensors_bytes(vectors: np.ndarray, metadata: dict[str, str]) -> bytes:
    """A safetensors file whose header keys are sorted, so equal tables give equal bytes.

    The library's writer orders the ``__metadata__`` entries by a per-process hash, which made
    two writes of one table differ byte for byte (and broke resumed == uninterrupted checks).
    The data section and its offsets are untouched; only the JSON header is re-serialised and
    padded to 8 bytes as the format requires.
    """
    from safetensors.numpy import save

    raw = save({"embeddings": np.ascontiguousarray(vectors)}, metadata)
    size = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + size])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + size :]
