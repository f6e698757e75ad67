"""The batch job: resume after a kill, truncated lines, settings checks, two real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from llmrec.backends.base import GenerationParams
from llmrec.profiles import ProfileBuilder, read_profiles, run_profile_job
from llmrec.profiles.builder import DEFAULT_REPETITION_PENALTY
from llmrec.profiles.job import parse_shard
from llmrec.profiles.store import iter_records

from .conftest import SAMPLED


def _lines(path):
    return [json.loads(x) for x in open(path, encoding="utf-8").read().splitlines()]


@pytest.fixture(scope="module")
def reference(tiny_profile_backend, small_dataset, tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "profiles.jsonl"
    builder = ProfileBuilder(tiny_profile_backend, params=SAMPLED)
    result = run_profile_job(builder, small_dataset, ["a", "b", "c"], out, batch_size=1)
    assert (result.written, result.skipped, result.failed) == (3, 0, 1)
    return _lines(out)


def test_resume_skips_done_users_and_equals_an_uninterrupted_run(
    tiny_profile_backend, small_dataset, reference, tmp_path
):
    out = tmp_path / "p.jsonl"
    builder = ProfileBuilder(tiny_profile_backend, params=SAMPLED)
    run_profile_job(builder, small_dataset, ["a"], out)
    calls = tiny_profile_backend.usage.prompts
    result = run_profile_job(builder, small_dataset, ["a", "b", "c"], out)
    assert (result.written, result.skipped) == (2, 1)
    assert tiny_profile_backend.usage.prompts - calls == 1  # only b went to the model
    assert _lines(out) == reference
    again = run_profile_job(builder, small_dataset, ["a", "b", "c"], out)
    assert again.written == 0 and _lines(out) == reference


def test_partial_last_line_from_a_kill_is_redone(
    tiny_profile_backend, small_dataset, reference, tmp_path
):
    out = tmp_path / "p.jsonl"
    text = "".join(json.dumps(r) + "\n" for r in reference[:2])
    out.write_text(text + json.dumps(reference[2])[:40])  # killed while writing user c
    builder = ProfileBuilder(tiny_profile_backend, params=SAMPLED)
    result = run_profile_job(builder, small_dataset, ["a", "b", "c"], out)
    assert result.written == 1 and _lines(out) == reference


def test_resume_refuses_other_settings(tiny_profile_backend, small_dataset, tmp_path):
    out = tmp_path / "p.jsonl"
    run_profile_job(ProfileBuilder(tiny_profile_backend, params=SAMPLED), small_dataset, ["a"], out)
    other = ProfileBuilder(tiny_profile_backend, strategy="recent", params=SAMPLED)
    with pytest.raises(ValueError, match=r"p\.jsonl: user a was profiled with strategy="):
        run_profile_job(other, small_dataset, ["a", "b"], out)


def test_bad_line_is_named(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text('{"user_id": "a", "status": "ok", "text": "x", "raw": "x"}\nnot json\n')
    with pytest.raises(ValueError, match=r"p\.jsonl:2: not valid JSON"):
        list(iter_records(path))


def test_shard_parsing():
    assert parse_shard("1/4") == (1, 4)
    for bad in ("4/4", "1-4", "-1/2"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)


# -- real processes: kill -9 and resume; two shards merged --------------------------------------

USERS = 10
GEN = GenerationParams(
    max_new_tokens=48, temperature=1.0, seed=0, repetition_penalty=DEFAULT_REPETITION_PENALTY
)


@pytest.fixture(scope="module")
def world_folder(tmp_path_factory):
    from llmrec.data.export import write_tables
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    world = generate_world(SyntheticConfig(n_users=USERS, n_items=40, mean_history=8, seed=1))
    folder = tmp_path_factory.mktemp("world")
    write_tables(world.dataset, folder)
    return folder


@pytest.fixture(scope="module")
def world_reference(world_folder, tiny_profile_backend, tmp_path_factory):
    from llmrec.data import leave_one_out, load_dataset

    train = leave_one_out(load_dataset(world_folder)).train
    out = tmp_path_factory.mktemp("wref") / "ref.jsonl"
    builder = ProfileBuilder(tiny_profile_backend, params=GEN)
    run_profile_job(builder, train, train.active_users()[:USERS], out, batch_size=4)
    return _lines(out)


def _cli(world_folder, tiny_llama_path, out, *extra):
    return [
        sys.executable, "-m", "llmrec.cli.main", "profile",
        "--data", str(world_folder), "--model", tiny_llama_path, "--out", str(out),
        "--users", str(USERS), "--batch-size", "2", "--max-new-tokens", str(GEN.max_new_tokens),
        "--temperature", "1.0", "--seed", "0", "--quiet", *extra,
    ]  # fmt: skip


def _env(**extra):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    env.pop("RANK", None)
    env.pop("WORLD_SIZE", None)
    return {**env, **extra}


def test_kill_9_then_two_shards_resume_into_one_complete_file(
    world_folder, world_reference, tiny_llama_path, tmp_path
):
    """A single process killed with SIGKILL mid-run (plus a torn last line), then finished by
    two processes with RANK/WORLD_SIZE: every user exactly once, equal to one clean run."""
    out = tmp_path / "p.jsonl"
    cache = tmp_path / "cache.sqlite"
    proc = subprocess.Popen(
        _cli(world_folder, tiny_llama_path, out, "--no-cache"),
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if out.exists() and out.stat().st_size > 0:
            break
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    written = len(_lines(out))
    assert 0 < written < USERS  # really interrupted midway
    with open(out, "a") as handle:
        handle.write('{"user_id": "u9", "status": "o')  # as if killed mid-line

    procs = [
        subprocess.Popen(
            _cli(world_folder, tiny_llama_path, out, "--cache", str(cache)),
            env=_env(RANK=str(rank), WORLD_SIZE="2"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for rank in range(2)
    ]
    results = []
    for shard in procs:
        stdout, stderr = shard.communicate(timeout=600)
        assert shard.returncode == 0, stderr.decode()[-2000:]
        results.append(json.loads(stdout.decode().strip().splitlines()[-1]))
    assert sorted(r["shard"][0] for r in results) == [0, 1]
    assert sum(r["written"] for r in results) == USERS - written
    assert sum(r["skipped"] for r in results) == written
    assert sum(r["merged"] for r in results) == 1  # exactly one process merged
    assert _lines(out) == world_reference  # each user once, as if never interrupted
    assert not (tmp_path / "p.jsonl.parts").exists()
    assert len(read_profiles(out)) == USERS


def test_another_shards_partial_line_is_read_not_cut(tmp_path):
    path = tmp_path / "shard-1-of-2.jsonl"
    whole = '{"user_id": "a", "status": "ok", "text": "x", "raw": "x"}\n'
    path.write_text(whole + '{"user_id": "b", "sta')
    assert [r.user_id for r in iter_records(path, skip_partial_tail=True)] == ["a"]
    assert path.read_text().endswith('"sta')  # left alone for its writer
