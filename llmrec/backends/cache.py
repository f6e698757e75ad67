"""A SQLite response cache that wraps any backend, so a re-run costs no model calls.

Each request is cached per chat under a key hashed from the backend's ``fingerprint``, the
method, the chat and the parameters (sampling seed and ``n`` included), so a changed model,
prompt or setting misses and an unchanged one hits. Misses of one call go to the wrapped backend
together, as one batch. The file is opened in WAL mode with a busy timeout, so several processes
of a sharded job can share one cache.

Example:
    >>> from llmrec.backends import load_backend
    >>> from llmrec.backends.cache import CachedBackend
    >>> backend = CachedBackend(load_backend("smollm2-135m-instruct"), "cache.sqlite")
    >>> backend.generate([[{"role": "user", "content": "Hi"}]])  # model call
    >>> backend.generate([[{"role": "user", "content": "Hi"}]])  # from the cache
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.backends.base import Backend, Chat, GenerationParams, UsageStats

logger = logging.getLogger(__name__)

SCHEMA = "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


def _open(path: Path) -> sqlite3.Connection:
    """Open (or create) the cache: WAL, a busy timeout, and a clear error for a bad file.

    WAL lets readers run while one process writes; ``synchronous=NORMAL`` keeps every
    committed answer across a killed process (only a power cut may lose the last ones); the
    busy timeout makes a second writer wait instead of failing with "database is locked".
    """
    try:
        db = sqlite3.connect(path, timeout=60, check_same_thread=False)
        db.execute("PRAGMA busy_timeout=60000")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        db.execute(SCHEMA)
        db.commit()
        db.execute("SELECT key, value FROM responses LIMIT 1").fetchall()
    except sqlite3.DatabaseError as err:
        raise ValueError(
            f"{path}: not a usable llmrec response cache ({err}); move it away or pass another "
            "cache path (the cache only saves model calls, deleting it loses no results)"
        ) from err
    return db


class CachedBackend:
    """A :class:`~llmrec.backends.base.Backend` that answers repeated requests from SQLite.

    Args:
        backend: The backend to wrap; its other attributes (``tokenizer``, ``count_tokens``,
            ...) stay reachable through the wrapper.
        path: The SQLite file (created with its folder when missing).

    ``usage`` is the wrapped backend's usage with ``cache_hits`` counting answers served here.
    """

    def __init__(self, backend: Backend, path: str | os.PathLike) -> None:
        self.backend = backend
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fingerprint = backend.fingerprint
        self.hits = 0
        self._lock = threading.Lock()
        self._db = _open(self.path)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes the wrapper lacks: delegate to the wrapped backend.
        if name in ("backend", "_db", "_lock"):
            raise AttributeError(name)
        return getattr(self.backend, name)

    @property
    def usage(self) -> UsageStats:
        return dataclasses.replace(self.backend.usage, cache_hits=self.hits)

    # -- storage ----------------------------------------------------------------------------
    def key(self, method: str, chat: Chat, extra: Any) -> str:
        """The cache key of one request: a hash of fingerprint, method, chat and parameters."""
        blob = json.dumps(
            [self.fingerprint, method, chat, extra], sort_keys=True, ensure_ascii=False
        )
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def _get(self, keys: Sequence[str]) -> dict[str, Any]:
        found: dict[str, Any] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = list(keys[start : start + 500])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT key, value FROM responses WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((k, json.loads(v)) for k, v in rows)
        return found

    def _put(self, entries: dict[str, Any]) -> None:
        try:
            with self._lock, self._db:  # one transaction: all of a batch's answers or none
                self._db.executemany(
                    "INSERT OR REPLACE INTO responses (key, value) VALUES (?, ?)",
                    [(k, json.dumps(v)) for k, v in entries.items()],
                )
        except sqlite3.OperationalError as err:
            # A full disk or a read-only folder: the answers are still returned, only not kept.
            logger.warning("%s: could not store %d answers (%s)", self.path, len(entries), err)

    def _cached(
        self,
        method: str,
        chats: Sequence[Chat],
        extras: Sequence[Any],
        compute: Callable[[list[int]], list[Any]],
    ) -> list[Any]:
        """Values for every chat: from the cache where present, else from ``compute(missing)``."""
        keys = [self.key(method, chat, extra) for chat, extra in zip(chats, extras)]
        found = self._get(keys)
        missing = [i for i, k in enumerate(keys) if k not in found]
        self.hits += len(chats) - len(missing)
        if missing:
            values = compute(missing)
            fresh = {keys[i]: v for i, v in zip(missing, values)}
            self._put(fresh)
            found.update(fresh)
        return [found[k] for k in keys]

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def close(self) -> None:
        self._db.close()

    # -- the protocol -----------------------------------------------------------------------
    def generate(self, chats: Sequence[Chat], params: GenerationParams | None = None) -> list[str]:
        """Replies per chat; cached per chat and parameters (``n`` replies stored together)."""
        params = params or GenerationParams()
        extra = dataclasses.asdict(params)

        def compute(missing: list[int]) -> list[list[str]]:
            flat = self.backend.generate([chats[i] for i in missing], params)
            return [flat[k * params.n : (k + 1) * params.n] for k in range(len(missing))]

        per_chat = self._cached("generate", chats, [extra] * len(chats), compute)
        return [reply for replies in per_chat for reply in replies]

    def next_token_logprobs(self, chats: Sequence[Chat], candidates: Sequence[str]) -> np.ndarray:
        extra = list(candidates)

        def compute(missing: list[int]) -> list[list[float]]:
            values = self.backend.next_token_logprobs([chats[i] for i in missing], candidates)
            return [row.tolist() for row in np.asarray(values, dtype=np.float64)]

        rows = self._cached("next_token_logprobs", chats, [extra] * len(chats), compute)
        return np.asarray(rows, dtype=np.float32).reshape(len(chats), len(candidates))

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        extras = [list(c) for c in continuations]

        def compute(missing: list[int]) -> list[list[float]]:
            scores = self.backend.score_continuations(
                [chats[i] for i in missing], [continuations[i] for i in missing]
            )
            return [np.asarray(s, dtype=np.float64).tolist() for s in scores]

        rows = self._cached("score_continuations", chats, extras, compute)
        return [np.asarray(r, dtype=np.float32) for r in rows]

    def __repr__(self) -> str:
        return f"CachedBackend({self.backend!r}, path={str(self.path)!r})"
