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
        "| a | 0.500 [0.400, 0.600] | 0.500 [0.400, 0.600] | +0.050 [+0.010, +0.090] better |"
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
