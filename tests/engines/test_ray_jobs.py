"""Ray jobs on a local 2-worker cluster: same output as one process, each key once, recovery.

The workers run the tiny random Llama (or MiniLM) for real; nothing is stubbed.
"""

from __future__ import annotations

import os
import signal
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams
from llmrec.engines.jobs import (
    embed_users_job,
    judge_job,
    make_pointwise_judge,
    make_profile_builder,
    make_user_encoder,
    profile_job,
    shards_dir,
)
from llmrec.engines.ray_pool import RayEngine
from llmrec.engines.shards import ShardPlan
from llmrec.profiles.strategies import make_strategy

pytestmark = pytest.mark.ray

PARAMS = GenerationParams(max_new_tokens=12)
BATCH = 4


def _make_builder(model: str):
    return make_profile_builder(
        model, backend_kwargs={"device": "cpu", "batch_size": BATCH},
        strategy=make_strategy("recent", last_n=8),
        params=PARAMS,
    )  # fmt: skip


@pytest.fixture(scope="module")
def single_process(tmp_path_factory, tiny_llama_path, small_split):
    """The single-process job's output file: the reference."""
    from llmrec.profiles.job import run_profile_job

    out = tmp_path_factory.mktemp("local") / "profiles.jsonl"
    users = small_split.train.active_users()
    run_profile_job(_make_builder(tiny_llama_path), small_split.train, users, out, BATCH)
    return out, users


def test_profile_job_equals_single_process(
    ray_cluster, single_process, tiny_llama_path, small_split, tmp_path
):
    reference, users = single_process
    out = tmp_path / "profiles.jsonl"
    engine = RayEngine(workers=2, shard_size=8)
    result = profile_job(
        partial(_make_builder, tiny_llama_path), small_split.train, users, out, engine, BATCH
    )
    assert out.read_text() == reference.read_text()
    assert (result.total, result.shards, result.ran) == (len(users), 3, 3)
    lines = [line.split('"user_id": "')[1].split('"')[0] for line in out.read_text().splitlines()]
    assert lines == users  # every user exactly once, in order


def _dies_once(model: str, marker: str):
    """A builder whose first build call in any worker kills that worker with SIGKILL."""
    builder = _make_builder(model)
    build = builder.build

    def build_or_die(dataset, user_ids):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return build(dataset, user_ids)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 mid-shard: nothing of it is written

    builder.build = build_or_die
    return builder


def test_killed_worker_is_retried(
    ray_cluster, single_process, tiny_llama_path, small_split, tmp_path
):
    reference, users = single_process
    marker = tmp_path / "killed.pid"
    out = tmp_path / "profiles.jsonl"
    make = partial(_dies_once, tiny_llama_path, str(marker))
    profile_job(make, small_split.train, users, out, RayEngine(workers=2, shard_size=8), BATCH)
    assert int(marker.read_text()) > 0  # a worker really died
    assert out.read_text() == reference.read_text()


def _logging_builder(model: str, log: str):
    builder = _make_builder(model)
    build = builder.build

    def build_and_log(dataset, user_ids):
        with open(log, "a") as handle:
            handle.write("".join(f"{u}\n" for u in user_ids))
        return build(dataset, user_ids)

    builder.build = build_and_log
    return builder


def test_rerun_skips_finished_shards(
    ray_cluster, single_process, tiny_llama_path, small_split, tmp_path
):
    reference, users = single_process
    out = tmp_path / "profiles.jsonl"
    log = tmp_path / "built.txt"
    engine = RayEngine(workers=2, shard_size=8)
    make = partial(_logging_builder, tiny_llama_path, str(log))
    profile_job(make, small_split.train, users, out, engine, BATCH)
    assert sorted(log.read_text().split()) == sorted(users)
    (shards_dir(out) / "shard-00001.parquet").unlink()  # as if that shard's worker was lost
    log.unlink()
    result = profile_job(make, small_split.train, users, out, engine, BATCH)
    assert log.read_text().split() == users[8:16]
    assert result.ran == 1
    assert out.read_text() == reference.read_text()


def test_plan_of_another_job_is_refused(tmp_path):
    ShardPlan.create(tmp_path, ["a", "b"], 1, {"model": "m1"})
    with pytest.raises(ValueError, match=r"plan.json.*differs in \['settings'\]"):
        ShardPlan.create(tmp_path, ["a", "b"], 1, {"model": "m2"})
    with pytest.raises(ValueError, match="unique"):
        ShardPlan.create(tmp_path / "x", ["a", "a"], 1)


def test_judge_job_equals_single_process(ray_cluster, tiny_llama_path, small_split, tmp_path):
    from llmrec.context import UserContext

    train = small_split.train
    users = train.active_users()[:10]
    items = list(train.items)[:3]
    pairs = [(u, i) for u in users for i in items]
    context = UserContext(history=train, max_history=5)
    make = partial(
        make_pointwise_judge, tiny_llama_path, context,
        backend_kwargs={"device": "cpu", "batch_size": 8}, sees="history",
    )  # fmt: skip
    local = make().judge([(u, train.items[i]) for u, i in pairs])
    remote = judge_job(
        make, pairs, train.items, tmp_path / "scores", RayEngine(workers=2, shard_size=7)
    )
    assert [(j.user_id, j.item_id) for j in remote] == [(u, i) for u, i in pairs]
    # Other batch shapes pad differently: equal to float32 rounding, not bit for bit.
    np.testing.assert_allclose(
        [j.logprobs for j in remote], [j.logprobs for j in local], atol=1e-4, rtol=0
    )
    np.testing.assert_allclose([j.score for j in remote], [j.score for j in local], atol=1e-5)


def test_embed_users_job_equals_single_process(ray_cluster, minilm_path, small_split, tmp_path):
    train = small_split.train
    users = train.active_users()
    make = partial(make_user_encoder, minilm_path, device="cpu", batch_size=8)
    local = make().encode_users(train, users)
    remote = embed_users_job(
        make, train, users, tmp_path / "users", RayEngine(workers=2, shard_size=10)
    )
    assert remote.ids == local.ids
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)
    assert remote.metadata == {**local.metadata}
    assert len(list(Path(shards_dir(tmp_path / "users")).glob("*.parquet"))) == 3
