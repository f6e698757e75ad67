"""A full disk and a read-only output folder: a clear error naming the path, nothing lost.

Real file systems: a 64 KiB ``tmpfs`` (filled up, or remounted read-only) mounted for the test;
skipped with the reason when this process may not mount (not root, or no mount namespace).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams
from llmrec.embeddings.store import EmbeddingTable
from llmrec.profiles.builder import ProfileBuilder
from llmrec.profiles.job import run_profile_job
from llmrec.profiles.store import iter_records
from llmrec.profiles.strategies import make_strategy


@pytest.fixture()
def small_fs(tmp_path):
    mount = tmp_path / "fs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip() or 'not permitted'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` to the brim, then free ``leave`` bytes."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as handle:
        try:
            while True:
                handle.write(b"\0" * 1024)
        except OSError:  # full
            pass
    size = filler.stat().st_size
    os.truncate(filler, max(0, (size - leave) // 4096 * 4096))  # tmpfs frees whole pages
    return filler


@pytest.fixture(scope="module")
def job_parts(tiny_llama_path, synthetic_world):
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data import leave_one_out

    backend = TransformersBackend(tiny_llama_path, device="cpu", batch_size=4)
    strategy = make_strategy("recent", last_n=5)  # short prompts for the tiny tokenizer
    builder = ProfileBuilder(backend, strategy=strategy, params=GenerationParams(12))
    split = leave_one_out(synthetic_world.dataset)
    users = split.train.active_users()[:32]
    return builder, split.train, users


@pytest.fixture(scope="module")
def reference(job_parts, tmp_path_factory) -> bytes:
    builder, train, users = job_parts
    out = tmp_path_factory.mktemp("ref") / "profiles.jsonl"
    run_profile_job(builder, train, users, out, batch_size=2)
    return out.read_bytes()


def test_full_disk_names_the_file_keeps_rows_and_resumes(small_fs, job_parts, reference):
    builder, train, users = job_parts
    out = small_fs / "profiles.jsonl"
    filler = fill(small_fs, leave=4096)  # room for about half of the rows
    with pytest.raises(OSError, match=f"No space left on device while appending to {out}"):
        run_profile_job(builder, train, users, out, batch_size=2)
    kept = out.read_bytes()
    assert kept and reference.startswith(kept[: kept.rfind(b"\n") + 1])  # whole rows kept
    filler.unlink()
    run_profile_job(builder, train, users, out, batch_size=2)
    assert out.read_bytes() == reference
    assert [r.user_id for r in iter_records(out)] == users


def test_read_only_folder_names_the_file_and_changes_nothing(small_fs, job_parts, reference):
    builder, train, users = job_parts
    out = small_fs / "profiles.jsonl"
    run_profile_job(builder, train, users[:6], out, batch_size=2)
    before = out.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        with pytest.raises(OSError, match=f"Read-only file system while appending to {out}"):
            run_profile_job(builder, train, users, out, batch_size=2)
        assert out.read_bytes() == before
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    run_profile_job(builder, train, users, out, batch_size=2)
    assert out.read_bytes() == reference


def test_embedding_table_on_a_full_disk_keeps_the_old_table(small_fs):
    path = small_fs / "users.safetensors"
    old = EmbeddingTable(["a", "b"], np.eye(2, dtype=np.float32))
    old.save(path)
    fill(small_fs, leave=0)
    big = EmbeddingTable([str(k) for k in range(200)], np.ones((200, 64), dtype=np.float32))
    with pytest.raises(OSError, match=f"could not write the table {path}"):
        big.save(path)
    assert [p.name for p in small_fs.iterdir() if p.name.startswith(".")] == []  # no temp left
    again = EmbeddingTable.load(path)
    assert again.ids == ["a", "b"] and np.array_equal(again.vectors, old.vectors)


def test_cli_reports_a_read_only_folder_without_a_traceback(small_fs, tiny_llama_path):
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        import sys

        from .killing import ENV

        done = subprocess.run(
            [sys.executable, "-m", "llmrec", "profile", "--data", "ml-100k", "--users", "2"]
            + [
                "--model",
                tiny_llama_path,
                "--out",
                str(small_fs / "sub" / "p.jsonl"),
                "--quiet",
                "--no-cache",
            ],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert str(small_fs / "sub") in done.stderr and "Read-only file system" in done.stderr
