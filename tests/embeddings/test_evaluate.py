from __future__ import annotations

import zlib

import numpy as np
import pytest

from llmrec.embeddings.evaluate import (
    Method,
    Samples,
    bootstrap,
    evaluate_methods,
    neighbour_change,
    results_table,
    zero_shot,
)
from llmrec.embeddings.train import user_partition
from llmrec.embeddings.userqa import answer


def test_bootstrap_of_a_constant_and_of_a_paired_difference():
    ones = Samples("mean", np.ones(50))
    const = bootstrap(ones, 200, 0)
    assert (const["value"], const["low"], const["high"], const["n"]) == (1.0, 1.0, 1.0, 50)
    half = Samples("mean", np.array([1.0, 0.0] * 25))
    diff = bootstrap(ones, 200, 0, baseline=half)
    assert diff["value"] == 0.5 and diff["low"] < 0.5 < diff["high"]
    f1 = Samples("macro_f1", (np.array(["a", "b", "a", "b"]), np.array(["a", "b", "b", "b"])))
    # per class F1: a = 2*1*0.5/(1.5) = 0.667, b = 2*(2/3)*1/(5/3) = 0.8 -> macro 0.7333
    assert bootstrap(f1, 0, 0)["value"] == pytest.approx(0.7333, abs=1e-4)


def test_neighbour_change_and_zero_shot():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(30, 8))
    assert np.all(neighbour_change(a, a, k=5) == 0.0)
    assert neighbour_change(a, rng.normal(size=(30, 8)), k=5).mean() > 0.5
    assert zero_shot(np.eye(3)[[2, 0]], np.eye(3)).tolist() == [2, 0]


def test_oracle_method_scores_perfectly_and_blind_method_does_not(ml100k_split):
    split = ml100k_split
    _, users = user_partition(split.train.active_users(), 0.5, 0)
    users = users[:40]
    items = split.train.item_ids
    test = split.test.interactions.set_index("user_id")["item_id"]
    dim = len(items)
    item_vecs = np.eye(dim, dtype=np.float32)  # (n_items, n_items) one-hot items
    oracle_users = item_vecs[[split.train.item_index[test[u]] for u in users]]

    def texts(t):  # every answer text gets its own random direction
        rng = np.random.default_rng(zlib.crc32("\n".join(t).encode()))
        return rng.normal(size=(len(t), dim)).astype(np.float32)

    oracle = Method("oracle", lambda ins: oracle_users, texts, item_vecs, instructed=False)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=(len(users), dim)).astype(np.float32)
    blind = Method("blind", lambda ins: noise, texts, item_vecs, instructed=False)
    result = evaluate_methods([blind, oracle], split, users, n_boot=20, baseline="blind")
    assert result["methods"]["oracle"]["recall@10"]["value"] == 1.0
    assert result["methods"]["oracle"]["ndcg@10"]["value"] == 1.0
    assert result["methods"]["blind"]["recall@10"]["value"] < 0.2
    assert result["vs_baseline"]["oracle"]["recall@10"]["value"] > 0.8
    # not instruction-aware: the neighbours cannot change with the instruction
    assert result["methods"]["oracle"]["neighbour_change_gender"]["value"] == 0.0
    assert 0.0 <= result["majority"]["gender"] <= 1.0
    # accuracy minus always answering the most frequent gender, per user and paired
    zs = result["methods"]["oracle"]["zeroshot_gender_accuracy"]["value"]
    vs = result["vs_majority"]["oracle"]["zeroshot_gender_accuracy"]
    assert vs["value"] == pytest.approx(zs - result["majority"]["gender"], abs=2e-4)
    assert "| recall@10 | " in results_table(result)
    assert answer("gender", "female") == "This user is female."


def test_verdict_reads_the_paired_interval_and_the_table_shows_it():
    from llmrec.embeddings.evaluate import verdict

    cell = {"value": 0.5, "low": 0.4, "high": 0.6}
    result = {
        "methods": {
            "base": {"a": cell, "b": cell, "c": cell},
            "trained": {"a": cell, "b": cell, "c": cell},
        },
        "vs_baseline": {
            "trained": {
                "a": {"value": 0.05, "low": 0.01, "high": 0.09},
                "b": {"value": -0.05, "low": -0.09, "high": -0.01},
                "c": {"value": 0.01, "low": -0.02, "high": 0.04},
            }
        },
    }
    assert verdict(result, "trained") == {"a": "better", "b": "worse", "c": "tie"}
    table = results_table(result, paired="trained")
    assert (
        "| a | 0.500 [0.400, 0.600] | 0.500 [0.400, 0.600] | +0.050 [+0.010, +0.090] **better** |"
        in (table)
    )
    assert table.splitlines()[0].endswith("| trained − baseline (paired) |")
    assert "trained − baseline" not in results_table(result, paired=None)


def test_macro_f1_matches_scikit_learn():
    from sklearn.metrics import f1_score

    from llmrec.embeddings.evaluate import _macro_f1

    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.choice(list("abcde"), size=40)
        p = np.where(rng.random(40) < 0.5, y, rng.choice(list("abcdef"), size=40))
        assert _macro_f1(y, p) == pytest.approx(f1_score(y, p, average="macro", zero_division=0))


def test_unknown_method_is_named():
    from llmrec.embeddings.evaluate import evaluate_embeddings

    with pytest.raises(ValueError, match=r"unknown methods \['bm25'\]"):
        evaluate_embeddings(methods=["bm25"])


def test_balanced_metrics_on_hand_made_labels():
    from llmrec.embeddings.evaluate import (
        balanced_accuracy,
        classification_samples,
        macro_f1,
        multilabel_balanced_accuracy,
    )

    y = np.array(["a", "a", "a", "b"])
    constant = np.array(["a", "a", "a", "a"])
    # always the majority class: accuracy 0.75, but balanced accuracy 1/K and macro-F1 of
    # F1(a) = 2*3 / (2*3 + 1) = 6/7 and F1(b) = 0
    assert balanced_accuracy(y, constant) == 0.5
    assert macro_f1(y, constant) == pytest.approx(3 / 7)
    perfect = classification_samples(y, y)
    assert [perfect[m].stat(np.arange(4)) for m in perfect] == [1.0, 1.0, 1.0]
    # one error in each class: recall(a) = 2/3, recall(b) = 1/2
    assert balanced_accuracy(np.array([0, 0, 0, 1, 1]), np.array([0, 0, 1, 1, 0])) == pytest.approx(
        (2 / 3 + 1 / 2) / 2
    )
    labels = np.array([[1, 0], [1, 1], [0, 1], [0, 0]], bool)
    assert multilabel_balanced_accuracy(labels, labels) == 1.0
    assert multilabel_balanced_accuracy(labels, np.zeros_like(labels)) == 0.5
    # a label column without both values is left out
    one_valued = np.c_[labels, np.ones(4, bool)]
    assert multilabel_balanced_accuracy(one_valued, np.zeros_like(one_valued)) == 0.5


def test_balanced_accuracy_matches_scikit_learn():
    from sklearn.metrics import balanced_accuracy_score

    from llmrec.embeddings.evaluate import balanced_accuracy

    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.choice(list("abcd"), size=60, p=[0.6, 0.2, 0.15, 0.05])
        p = np.where(rng.random(60) < 0.5, y, rng.choice(list("abcd"), size=60))
        assert balanced_accuracy(y, p) == pytest.approx(balanced_accuracy_score(y, p))


def test_majority_and_ranker_rows_sit_beside_the_methods(ml100k_split):
    split = ml100k_split
    _, users = user_partition(split.train.active_users(), 0.5, 0)
    users = users[:40]
    item_vecs = np.eye(len(split.train.item_ids), dtype=np.float32)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(len(users), item_vecs.shape[1])).astype(np.float32)

    def texts(t):
        return np.random.default_rng(len(t)).normal(size=(len(t), item_vecs.shape[1]))

    blind = Method("blind", lambda ins: noise, texts, item_vecs, instructed=False)
    test = split.test.interactions.set_index("user_id")["item_id"]
    targets = np.array([split.train.item_index[test[u]] for u in users])
    oracle_scores = np.zeros((len(users), len(item_vecs)))
    oracle_scores[np.arange(len(users)), targets] = 1.0
    # candidates: the target first, then 5 items that are not the target
    others = (targets[:, None] + np.arange(1, 6)[None, :]) % len(item_vecs)
    result = evaluate_methods(
        [blind],
        split,
        users,
        n_boot=20,
        baseline="blind",
        rankers={"oracle_ranker": oracle_scores},
        popmatched=np.c_[targets, others],
    )
    rows = result["methods"]
    assert rows["oracle_ranker"]["recall@10"]["value"] == 1.0
    assert rows["oracle_ranker"]["pm_recall@10"]["value"] == 1.0
    assert "probe_gender_accuracy" not in rows["oracle_ranker"]
    # the majority row: balanced accuracy 1/K whatever the class frequencies
    assert rows["majority"]["probe_gender_balanced_accuracy"]["value"] == 0.5
    assert rows["majority"]["zeroshot_age_band_balanced_accuracy"]["value"] == 0.25
    assert "recall@10" not in rows["majority"]
    # paired differences against the ranker on retrieval only, against majority on classes
    assert set(result["vs"]["oracle_ranker"]["blind"]) == {
        "recall@10",
        "ndcg@10",
        "pm_recall@10",
        "pm_ndcg@10",
    }
    assert "recall@10" not in result["vs"]["majority"]["blind"]
    table = results_table(result, paired="blind")
    assert "| recall@10 |" in table and "blind − oracle_ranker (paired)" in table


def test_gold_labels_of_a_synthetic_world(synthetic_world):
    from llmrec.embeddings.evaluate import gold_labels

    users = list(synthetic_world.gold)[:30]
    labels = gold_labels(synthetic_world.gold, users)
    genres, liked = labels["gold_liked_genres"]
    for row, u in zip(liked, users):
        assert {g for g, on in zip(genres, row) if on} == set(synthetic_world.gold[u].liked_genres)
    for u, value in zip(users, labels["gold_pace"]):
        assert (value == "binge watcher") == ("binge watcher" in synthetic_world.gold[u].style)
    with pytest.raises(ValueError, match="no gold profile"):
        gold_labels(synthetic_world.gold, ["nobody"])
