"""The SQLite response cache under concurrent reader processes, a kill -9 writer, a bad file."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from llmrec.backends.cache import CachedBackend

from .killing import ENV

N_CHATS = 40

WRITER = """
import sys
from llmrec.backends.cache import CachedBackend
from llmrec.backends.hf import TransformersBackend
backend = CachedBackend(TransformersBackend(sys.argv[2], device="cpu", batch_size=1), sys.argv[1])
for k in range(int(sys.argv[3])):  # one commit per chat: many small writes
    backend.next_token_logprobs([[{"role": "user", "content": f"question {k}"}]], ["1", "2", "3"])
"""

READER = """
import json, sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], timeout=60)
db.execute("PRAGMA busy_timeout=60000")
counts = []
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    rows = db.execute("SELECT key, value FROM responses").fetchall()
    for _, value in rows:
        assert len(json.loads(value)) == 3
    counts.append(len(rows))
    time.sleep(0.005)
print(json.dumps(counts))
"""


def count(path) -> int:
    with sqlite3.connect(path, timeout=60) as db:
        return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]


def test_readers_run_while_a_writer_writes_and_is_killed(tmp_path, tiny_llama_path):
    cache = tmp_path / "cache.sqlite"
    run = [sys.executable, "-c", WRITER, str(cache), tiny_llama_path, str(N_CHATS)]
    writer = subprocess.Popen(run, env=ENV, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:  # until the writer has created the table
        if cache.exists():
            try:
                count(cache)
                break
            except sqlite3.OperationalError:
                pass
        time.sleep(0.05)
    readers = [
        subprocess.Popen(
            [sys.executable, "-c", READER, str(cache), "20"],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    # kill -9 the writer half-way, by progress, then let a second writer finish the work
    while time.monotonic() < deadline and writer.poll() is None:
        if cache.exists() and count(cache) >= N_CHATS // 2:
            writer.send_signal(signal.SIGKILL)
            break
        time.sleep(0.01)
    writer.wait()
    killed_at = count(cache)
    assert killed_at < N_CHATS, "the writer finished before the kill; raise N_CHATS"
    subprocess.run(run, env=ENV, check=True, stderr=subprocess.DEVNULL, timeout=600)
    for reader in readers:
        out, err = reader.communicate(timeout=120)
        assert reader.returncode == 0, err[-2000:]  # never "database is locked", never torn
        counts = json.loads(out)
        assert counts and all(a <= b for a, b in zip(counts, counts[1:]))
    with sqlite3.connect(cache) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert count(cache) == N_CHATS

    # every stored answer equals the model's own, as if never interrupted
    from llmrec.backends.hf import TransformersBackend

    tiny = TransformersBackend(tiny_llama_path, device="cpu", batch_size=8)
    chats = [[{"role": "user", "content": f"question {k}"}] for k in range(N_CHATS)]
    cached = CachedBackend(tiny, cache)
    calls = tiny.usage.calls
    got = cached.next_token_logprobs(chats, ["1", "2", "3"])
    assert tiny.usage.calls == calls and cached.hits == N_CHATS  # all from the cache
    np.testing.assert_allclose(got, tiny.next_token_logprobs(chats, ["1", "2", "3"]), atol=1e-5)
    cached.close()


def test_a_file_that_is_not_a_cache_is_named(tmp_path):
    bad = tmp_path / "responses.sqlite"
    bad.write_bytes(b"this is not SQLite" * 100)

    class Fingerprinted:
        fingerprint = "x"

    with pytest.raises(ValueError, match="responses.sqlite: not a usable llmrec response cache"):
        CachedBackend(Fingerprinted(), bad)
