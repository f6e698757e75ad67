"""``--engine ray`` on the CLI: same files as ``--engine local`` (tiny model, synthetic world)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.cli.main import main

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    assert (
        main(["data", "synth", "--users", "12", "--items", "40", "--seed", "0", "--out", str(out)])
        == 0
    )
    return str(out)


def test_profile_cli_ray_equals_local(ray_cluster, world_dir, tmp_path, capsys):
    common = [
        "profile", "--data", world_dir, "--model", "tiny-random-llama", "--backend",
        "transformers", "--users", "10", "--strategy", "recent", "--last-n", "6",
        "--max-new-tokens", "8", "--batch-size", "4", "--no-cache", "--quiet",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "local.jsonl")]) == 0
    ray_args = ["--engine", "ray", "--workers", "2", "--shard-size", "4"]
    assert main([*common, "--out", str(tmp_path / "ray.jsonl"), *ray_args]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (summary["total"], summary["shards"], summary["ran"]) == (10, 3, 3)
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()


def test_judge_score_cli_ray_equals_local(ray_cluster, world_dir, tmp_path):
    from llmrec.data import load_dataset

    data = load_dataset(world_dir)
    users, items = data.active_users()[:4], list(data.items)[:3]
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("user_id,item_id\n" + "".join(f"{u},{i}\n" for u in users for i in items))
    common = [
        "judge",
        "score",
        "--data",
        world_dir,
        "--pairs",
        str(pairs),
        "--model",
        "tiny-random-llama",
    ]
    assert main([*common, "--out", str(tmp_path / "local.jsonl")]) == 0
    ray_args = ["--engine", "ray", "--workers", "2", "--shard-size", "5"]
    assert main([*common, "--out", str(tmp_path / "ray.jsonl"), *ray_args]) == 0
    rows = {}
    for name in ("local", "ray"):
        lines = (tmp_path / f"{name}.jsonl").read_text().splitlines()
        rows[name] = [json.loads(line) for line in lines]
    assert [(r["user_id"], r["item_id"]) for r in rows["ray"]] == [
        (u, i) for u in users for i in items
    ]
    np.testing.assert_allclose(
        [r["score"] for r in rows["ray"]], [r["score"] for r in rows["local"]], atol=1e-5
    )


def test_pairs_file_errors_name_file_and_line(tmp_path):
    from llmrec.cli.judge import read_pairs

    bad = tmp_path / "pairs.csv"
    bad.write_text("user_id,item_id\nu1,i1\nu2,\n")
    with pytest.raises(ValueError, match=r"pairs.csv:3: empty user_id or item_id"):
        read_pairs(str(bad))
    (tmp_path / "p.csv").write_text("user,item\nu1,i1\n")
    with pytest.raises(ValueError, match=r"missing columns \['user_id', 'item_id'\]"):
        read_pairs(str(tmp_path / "p.csv"))


def test_embed_users_cli_ray_equals_local(ray_cluster, world_dir, tmp_path):
    from llmrec.embeddings.store import EmbeddingTable

    common = ["embed", "users", "--data", world_dir, "--batch-size", "8"]
    assert main([*common, "--out", str(tmp_path / "local.parquet")]) == 0
    ray_args = ["--engine", "ray", "--workers", "2", "--shard-size", "5"]
    assert main([*common, "--out", str(tmp_path / "ray.parquet"), *ray_args]) == 0
    local = EmbeddingTable.load(tmp_path / "local.parquet")
    remote = EmbeddingTable.load(tmp_path / "ray.parquet")
    assert remote.ids == local.ids
    np.testing.assert_allclose(remote.vectors, local.vectors, atol=1e-5)
