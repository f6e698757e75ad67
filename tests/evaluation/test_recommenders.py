"""Baselines: closed forms where they exist, learning where they do not."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data import leave_one_out
from llmrec.evaluation import FullRanking, evaluate_recommender
from llmrec.evaluation.recommenders import (
    BPRMF,
    EASE,
    ItemKNN,
    MostPopular,
    RandomRecommender,
    SASRec,
    TextEmbeddingRecommender,
    build_recommender,
)


@pytest.fixture(scope="module")
def small(make_dataset):
    hist = {"a": ["0", "1", "2"], "b": ["1", "2"], "c": ["0", "3"], "d": ["2", "3", "4"]}
    return make_dataset(hist, 6)


def test_most_popular_and_random(small):
    pop = MostPopular().fit(small).score(np.array([0, 2]))
    np.testing.assert_array_equal(pop[0], [2, 2, 3, 2, 1, 0])
    np.testing.assert_array_equal(pop[0], pop[1])
    rnd = RandomRecommender(seed=3).fit(small)
    np.testing.assert_array_equal(rnd.score(np.array([1, 2]))[1], rnd.score(np.array([2]))[0])
    assert not np.array_equal(rnd.score(np.array([1]))[0], rnd.score(np.array([2]))[0])


def test_ease_solves_its_constrained_ridge_problem(small):
    lam = 2.0
    rec = EASE(l2=lam).fit(small)
    x = small.interaction_matrix().toarray()
    n = x.shape[1]
    for j in range(n):
        others = [i for i in range(n) if i != j]
        xo = x[:, others]
        # Column j of B minimises ||x_j - X_{-j} b||^2 + lam ||b||^2 with b_j = 0.
        b = np.linalg.solve(xo.T @ xo + lam * np.eye(n - 1), xo.T @ x[:, j])
        np.testing.assert_allclose(rec.weights_[others, j], b, atol=1e-5)
        assert rec.weights_[j, j] == 0
    np.testing.assert_allclose(rec.score(np.arange(4)), x @ rec.weights_, atol=1e-5)


def test_item_knn_similarity_by_hand(small):
    rec = ItemKNN(neighbours=10, shrink=0.0).fit(small)
    sim = rec.similarity_.toarray()
    # Items 1 and 2 share users a and b; |U_1| = 2, |U_2| = 3.
    assert sim[1, 2] == pytest.approx(2 / np.sqrt(2 * 3))
    assert sim[2, 2] == 0
    one = ItemKNN(neighbours=1, shrink=0.0).fit(small).similarity_.toarray()
    assert ((one > 0).sum(axis=0) <= 1).all()  # one neighbour kept per item


def test_build_recommender_errors():
    assert isinstance(build_recommender("ease", {"l2": 10}), EASE)
    with pytest.raises(ValueError, match="valid: random, most_popular"):
        build_recommender("nope")
    with pytest.raises(ValueError, match="bad parameters"):
        build_recommender("ease", {"lambda": 3})


def test_bpr_learns_structure(tiny_split):
    train = tiny_split.train
    protocol = FullRanking()
    bpr = BPRMF(dim=16, epochs=15, lr=0.02, seed=0).fit(train)
    rnd = RandomRecommender().fit(train)
    auc_bpr = evaluate_recommender(bpr, train, tiny_split.test, ["auc"], protocol).per_user["auc"]
    auc_rnd = evaluate_recommender(rnd, train, tiny_split.test, ["auc"], protocol).per_user["auc"]
    assert auc_bpr.mean() > auc_rnd.mean() + 0.1
    again = BPRMF(dim=16, epochs=15, lr=0.02, seed=0).fit(train)
    np.testing.assert_array_equal(again.item_factors_, bpr.item_factors_)  # seeded


def test_sasrec_learns_next_item(sequential_dataset):
    split = leave_one_out(sequential_dataset, validation=False)
    rec = SASRec(dim=32, heads=1, layers=1, max_len=10, epochs=25, lr=5e-3, dropout=0.0)
    rec.fit(split.train)
    res = evaluate_recommender(rec, split.train, split.test, ["hr@1", "hr@3"])
    # The test item always follows the last training item; random would give HR@1 of about 1/20.
    assert res.per_user["hr@3"].mean() > 0.8
    assert res.per_user["hr@1"].mean() > 0.5


def test_text_embedding_recommender(minilm, make_dataset):
    titles = ["Star Wars: space battle", "Alien space invasion", "Love in Paris", "Romantic wedding",
              "Galaxy space pirates", "A summer romance"]  # fmt: skip
    ds = make_dataset({"sci": ["0", "1"], "rom": ["2", "3"]}, 6, titles)
    rec = TextEmbeddingRecommender(encoder=minilm).fit(ds)
    scores = rec.score(np.array([ds.user_index["sci"], ds.user_index["rom"]]))
    assert scores[0, 4] > scores[0, 5]  # space fan: space pirates over romance
    assert scores[1, 5] > scores[1, 4]
    assert rec.item_embeddings_.shape == (6, 384)


def test_score_users_by_id(small):
    rec = MostPopular().fit(small)
    np.testing.assert_array_equal(rec.score_users(["c"]), rec.score(np.array([2])))
    with pytest.raises(ValueError, match="unknown user id"):
        rec.score_users(["zz"])
    with pytest.raises(ValueError, match="not fitted"):
        EASE().score(np.array([0]))
