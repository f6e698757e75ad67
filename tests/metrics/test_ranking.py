"""Accuracy metrics: hand-computed closed forms and a cross-check against ranx on random runs."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.metrics import (
    auc,
    average_precision,
    evaluate,
    hit_rate,
    mrr,
    ndcg,
    pad_relevant,
    precision,
    ranks_from_topk,
    recall,
)


def test_single_target_closed_forms():
    ranks = np.array([1.0, 2.0, 5.0, 11.0, np.inf])
    assert hit_rate(ranks, 10).tolist() == [1, 1, 1, 0, 0]
    expected_ndcg = [1.0, 1 / np.log2(3), 1 / np.log2(6), 0.0, 0.0]
    np.testing.assert_allclose(ndcg(ranks, 10), expected_ndcg)
    np.testing.assert_allclose(mrr(ranks), [1, 0.5, 0.2, 1 / 11, 0])
    np.testing.assert_allclose(mrr(ranks, 10), [1, 0.5, 0.2, 0, 0])
    np.testing.assert_allclose(recall(ranks, 5), [1, 1, 1, 0, 0])
    np.testing.assert_allclose(precision(ranks, 5), [0.2, 0.2, 0.2, 0, 0])
    # One relevant item among N candidates: AUC = (N - r) / (N - 1).
    np.testing.assert_allclose(auc(ranks[:4], 21), [20 / 20, 19 / 20, 16 / 20, 10 / 20])


def test_multi_target_closed_forms():
    # Relevant at ranks 1 and 3; a third relevant item never retrieved; padding in row 2.
    ranks = np.array([[1.0, 3.0, np.inf], [2.0, np.nan, np.nan]])
    np.testing.assert_allclose(recall(ranks, 3), [2 / 3, 1.0])
    np.testing.assert_allclose(precision(ranks, 3), [2 / 3, 1 / 3])
    idcg = 1 + 1 / np.log2(3) + 1 / np.log2(4)
    np.testing.assert_allclose(ndcg(ranks, 3), [(1 + 1 / np.log2(4)) / idcg, 1 / np.log2(3)])
    np.testing.assert_allclose(average_precision(ranks), [(1 / 1 + 2 / 3) / 3, 1 / 2])
    # AUC with 10 candidates, 3 relevant (7 negatives): pairs ordered = 7 + 6 + 0.
    np.testing.assert_allclose(auc(ranks[:1], 10), [(7 + 6 + 0) / 21])


def test_graded_ndcg_closed_form():
    ranks = np.array([[2.0, 1.0]])
    gains = np.array([[3.0, 1.0]])  # the better item is ranked second
    dcg = 1 / np.log2(2) + 3 / np.log2(3)
    idcg = 3 / np.log2(2) + 1 / np.log2(3)
    np.testing.assert_allclose(ndcg(ranks, 5, gains), [dcg / idcg])


def test_inputs_not_mutated_and_errors():
    ranks = np.array([[3.0, 1.0]])
    before = ranks.copy()
    average_precision(ranks, 5)
    ndcg(ranks, 5)
    np.testing.assert_array_equal(ranks, before)
    with pytest.raises(ValueError, match="1-based"):
        hit_rate(np.array([0.0]), 5)
    with pytest.raises(ValueError, match="positive integer"):
        ndcg(ranks, 0)


def test_ranks_from_topk():
    topk = np.array([[5, 3, 9, -1], [1, 2, 3, 4]])
    rel = pad_relevant([[9, 7], [4]])
    out = ranks_from_topk(topk, rel)
    np.testing.assert_array_equal(out, [[3.0, np.inf], [4.0, np.nan]])


def test_per_user_auc_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    from llmrec.metrics.ranking import rank_targets

    rng = np.random.default_rng(2)
    scores = rng.random((30, 40))
    rel = [rng.choice(40, rng.integers(1, 6), replace=False) for _ in range(30)]
    ranks = rank_targets(scores, pad_relevant(rel))
    ours = auc(ranks, 40)
    for u in range(30):
        y = np.zeros(40)
        y[rel[u]] = 1
        assert ours[u] == pytest.approx(roc_auc_score(y, scores[u]))


@pytest.fixture(scope="module")
def random_run():
    rng = np.random.default_rng(0)
    n_users, n_items, k = 300, 60, 25
    relevant, topk, grades = [], [], []
    for _ in range(n_users):
        rel = rng.choice(n_items, rng.integers(1, 8), replace=False)
        relevant.append(rel)
        grades.append(rng.integers(1, 6, len(rel)))
        topk.append(rng.permutation(n_items)[:k])
    return relevant, grades, np.array(topk)


def _ranx(relevant, grades, topk, metrics, graded=False):
    from ranx import Qrels, Run
    from ranx import evaluate as ranx_evaluate

    qrels = {
        f"q{u:05d}": {f"d{i}": int(g) if graded else 1 for i, g in zip(rel, gr)}
        for u, (rel, gr) in enumerate(zip(relevant, grades))
    }
    run = {
        f"q{u:05d}": {f"d{i}": float(len(row) - p) for p, i in enumerate(row)}
        for u, row in enumerate(topk)
    }
    out = ranx_evaluate(Qrels(qrels), Run(run), metrics, return_mean=False, make_comparable=True)
    if len(metrics) == 1:  # ranx returns a bare array for one metric
        out = {metrics[0]: out}
    return {m: np.asarray(out[m]) for m in metrics}


@pytest.mark.parametrize("k", [1, 5, 10, 25])
def test_matches_ranx_binary(random_run, k):
    relevant, grades, topk = random_run
    ranks = ranks_from_topk(topk, pad_relevant(relevant))
    ours = evaluate(
        [f"hr@{k}", f"recall@{k}", f"precision@{k}", f"ndcg@{k}", f"mrr@{k}", f"map@{k}"],
        ranks=ranks,
    )
    theirs = _ranx(
        relevant,
        grades,
        topk,
        [f"hit_rate@{k}", f"recall@{k}", f"precision@{k}", f"ndcg@{k}", f"mrr@{k}", f"map@{k}"],
    )
    for (name, value), ref in zip(ours.items(), theirs.values()):
        np.testing.assert_allclose(value, ref, atol=1e-12, err_msg=name)


def test_matches_ranx_graded_ndcg(random_run):
    relevant, grades, topk = random_run
    rel = pad_relevant(relevant)
    gains = np.zeros(rel.shape)
    for u, g in enumerate(grades):
        gains[u, : len(g)] = g
    ranks = ranks_from_topk(topk, rel)
    theirs = _ranx(relevant, grades, topk, ["ndcg@10"], graded=True)["ndcg@10"]
    np.testing.assert_allclose(ndcg(ranks, 10, gains), theirs, atol=1e-12)
