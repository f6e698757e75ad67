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
