"""Full-ranking evaluation over 2 Ray workers equals the single-process evaluation exactly."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.engines.ranking import evaluate_recommender_ray, partition
from llmrec.engines.ray_pool import RayEngine
from llmrec.evaluation import FullRanking, evaluate_recommender

METRICS = ["ndcg@10", "recall@20", "mrr", "auc", "coverage@10", "gini@10", "novelty@10"]


def test_partition_covers_users_in_whole_chunks():
    assert partition(10, 2, 3) == [(0, 6), (6, 10)]
    assert partition(5, 4, 8) == [(0, 5)]
    with pytest.raises(ValueError):
        partition(5, 0, 1)


@pytest.mark.ray
@pytest.mark.parametrize("tie", ["pessimistic", "random"])
def test_ray_full_ranking_equals_single_process(ray_cluster, tie):
    from llmrec.data import leave_one_out
    from llmrec.data.synthetic import SyntheticConfig, generate_world
    from llmrec.evaluation.recommenders import ItemKNN

    split = leave_one_out(generate_world(SyntheticConfig(n_users=300, n_items=200, seed=1)).dataset)
    rec = ItemKNN().fit(split.train)
    protocol = FullRanking(tie=tie, chunk_size=64, seed=3)
    local = evaluate_recommender(rec, split.train, split.test, METRICS, protocol)
    remote = evaluate_recommender_ray(
        rec, split.train, split.test, METRICS, RayEngine(workers=2), protocol
    )
    assert remote.protocol["workers"] == 2
    np.testing.assert_array_equal(remote.users, local.users)
    np.testing.assert_array_equal(remote.topk, local.topk)
    for metric in local.per_user:
        np.testing.assert_array_equal(remote.per_user[metric], local.per_user[metric])
    assert remote.catalog == local.catalog
    assert set(remote.catalog) == {"coverage@10", "gini@10"}


@pytest.mark.ray
def test_suite_on_ray_equals_suite_in_process(ray_cluster, small_split):
    from llmrec.data.synthetic import SyntheticConfig, generate_world
    from llmrec.engines.ranking import ray_evaluate_fn
    from llmrec.evaluation import run_suite

    config = {
        "name": "tiny",
        "metrics": ["hr@10", "ndcg@10", "auc", "coverage@10", "gini@10"],
        "statistics": {"n_resamples": 100, "baseline": "most_popular"},
        "recommenders": [{"type": "most_popular"}, {"type": "ease", "params": {"l2": 50.0}}],
    }
    dataset = generate_world(SyntheticConfig(n_users=120, n_items=80, seed=2)).dataset
    local = run_suite(config, dataset=dataset).results["systems"]
    remote = run_suite(
        config, dataset=dataset, evaluate_fn=ray_evaluate_fn(RayEngine(workers=2))
    ).results["systems"]
    for name in local:
        assert remote[name]["metrics"] == local[name]["metrics"]
