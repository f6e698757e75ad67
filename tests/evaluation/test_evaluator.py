"""Held-out targets and per-user metrics from one recommender."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.evaluation import FullRanking, evaluate_recommender, heldout_targets
from llmrec.evaluation.recommenders import CallableRecommender


@pytest.fixture(scope="module")
def parts():
    items = [Item(str(i), f"Item {i}") for i in range(6)]
    train = InteractionDataset(items, [Interaction("u", "0", 1.0, 5.0)], name="train")
    test = InteractionDataset(
        items,
        [Interaction("u", "3", 2.0, 1.0), Interaction("u", "4", 3.0, 5.0),
         Interaction("u", "4", 4.0, 5.0)],  # a repeat counts once
        name="test",
    )  # fmt: skip
    return train, test


def test_heldout_targets_binary_and_graded(parts):
    _, test = parts
    t = heldout_targets(test)
    np.testing.assert_array_equal(t.items, [[3, 4]])
    assert t.gains is None
    g = heldout_targets(test, relevance="rating")
    np.testing.assert_array_equal(g.gains, [[1.0, 5.0]])
    with pytest.raises(ValueError, match="relevance"):
        heldout_targets(test, relevance="stars")


def test_graded_ndcg_through_the_evaluator(parts):
    train, test = parts
    # Scores: item 3 first, then 4; item 0 (training) is masked although it scores highest.
    scores = np.array([[9.0, 0.1, 0.2, 5.0, 4.0, 0.3]])
    rec = CallableRecommender(lambda u: scores[u]).fit(train)
    t = heldout_targets(test, relevance="rating")
    res = evaluate_recommender(rec, train, test, ["ndcg@5", "hr@1", "auc"], FullRanking(), t)
    dcg = 1 / np.log2(2) + 5 / np.log2(3)
    idcg = 5 / np.log2(2) + 1 / np.log2(3)
    assert res.per_user["ndcg@5"][0] == pytest.approx(dcg / idcg)
    assert res.per_user["hr@1"][0] == 1.0
    assert res.per_user["auc"][0] == pytest.approx(1.0)  # both above the 3 other candidates
    assert res.topk[0, 0] == 3 and 0 not in res.topk[0]
