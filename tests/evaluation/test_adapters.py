"""Outside models: a scoring callable and ranking files in the usual shapes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from llmrec.evaluation import evaluate_recommender
from llmrec.evaluation.recommenders import CallableRecommender, PrecomputedRankings, read_rankings


@pytest.fixture(scope="module")
def ds(make_dataset):
    return make_dataset({"u1": ["0", "1"], "u2": ["2", "3"]}, 8)


def _check(rec, ds):
    rec.fit(ds)
    scores = rec.score(np.array([ds.user_index["u1"], ds.user_index["u2"]]))
    top_u1 = np.argsort(-scores[0], kind="stable")[:3].tolist()
    assert top_u1 == [5, 4, 6]
    assert np.isneginf(scores[0, 7])  # unlisted
    assert np.argsort(-scores[1], kind="stable")[0] == 7


def test_long_csv(tmp_path, ds):
    path = tmp_path / "run.csv"
    pd.DataFrame(
        {"user_id": ["u1", "u1", "u1", "u2"], "item_id": ["4", "5", "6", "7"], "rank": [2, 1, 3, 1]}
    ).to_csv(path, index=False)
    _check(PrecomputedRankings(path), ds)


def test_recbole_tsv_lists(tmp_path, ds):
    path = tmp_path / "run.tsv"
    path.write_text("user_id:token\titem_id_list:token_seq\nu1\t5 4 6\nu2\t7\n")
    _check(PrecomputedRankings(path), ds)


def test_jsonl_and_parquet(tmp_path, ds):
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"user_id": "u1", "items": ["5", "4", "6"]},
                {"user_id": "u2", "items": ["7"]},
            ]
        )  # fmt: skip
    )
    _check(PrecomputedRankings(jsonl), ds)
    parquet = tmp_path / "run.parquet"
    pd.DataFrame({"user_id": ["u1"] * 3 + ["u2"], "item_id": ["4", "5", "6", "7"],
                  "score": [0.8, 0.9, 0.1, 1.0]}).to_parquet(parquet)  # fmt: skip
    _check(PrecomputedRankings(parquet), ds)


def test_errors_name_file_and_line(tmp_path, ds):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rank\nu1,4,1\nu1,5,x\n")
    with pytest.raises(ValueError, match=r"bad.csv:3: rank/score is not a number"):
        read_rankings(bad)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("user_id,item_id\nu1,999\n")
    with pytest.raises(ValueError, match=r"unknown.csv: user 'u1' lists item\(s\) not in"):
        PrecomputedRankings(unknown).fit(ds)
    with pytest.raises(ValueError, match="no user column"):
        (tmp_path / "x.csv").write_text("a,b\n1,2\n")
        read_rankings(tmp_path / "x.csv")


def test_callable_and_pessimistic_rank_of_unlisted(tmp_path, ds, make_dataset):
    calls = []
    rec = CallableRecommender(
        lambda u: calls.append(len(u)) or np.tile(np.arange(8.0), (len(u), 1))
    )
    heldout = make_dataset({"u1": ["7"], "u2": ["4"]}, 8)
    res = evaluate_recommender(rec.fit(ds), ds, heldout, ["mrr", "hr@1"])
    # Scores rise with the item index: for u1 item 7 is first; for u2 item 4 is 4th of 6.
    np.testing.assert_allclose(res.per_user["mrr"], [1.0, 1 / 4])
    assert calls == [2]
    path = tmp_path / "short.csv"
    path.write_text("user_id,item_id\nu1,5\nu2,5\n")
    res = evaluate_recommender(PrecomputedRankings(path).fit(ds), ds, heldout, ["mrr", "hr@1"])
    # Unlisted held-out items rank last among the 6 candidates (pessimistic ties).
    np.testing.assert_allclose(res.per_user["mrr"], [1 / 6, 1 / 6])
