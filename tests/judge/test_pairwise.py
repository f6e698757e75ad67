"""Pairwise judging: both orders, agreement rule, position-bias rate, lists."""

from __future__ import annotations

import pytest

from llmrec.context import UserContext
from llmrec.judge.pairwise import PairwiseJudge, decide, summarize, win_values

from .conftest import option_titles


@pytest.fixture(scope="module")
def context(small_world):
    dataset, profiles = small_world
    return UserContext(profiles=profiles, history=dataset)


def test_decide_rule():
    assert [decide(1, 2), decide(2, 1), decide(1, 1), decide(2, 2), decide(None, 1)] == [
        "A",
        "B",
        "tie",
        "tie",
        "tie",
    ]


def test_each_pair_is_judged_in_both_orders(scripted, context, small_world):
    dataset, _ = small_world
    backend = scripted(pick=lambda text, c: "1" if "Toy Story" in option_titles(text)[0] else "2")
    judge = PairwiseJudge(backend, context)
    toy, shining = dataset.items["1"], dataset.items["2"]
    result = judge.compare_items([("u1", toy, shining), ("u1", shining, toy)])
    method, texts = backend.calls[0]
    assert method == "next_token_logprobs" and len(texts) == 4  # two pairs x two orders
    assert option_titles(texts[0]) == ("Toy Story", "The Shining")  # A first
    assert option_titles(texts[2]) == ("The Shining", "Toy Story")  # B first
    # a judge that always prefers Toy Story wherever it stands: consistent in both pairs
    assert [r.winner for r in result] == ["A", "B"]
    assert all(r.consistent for r in result)
    s = summarize(result)
    assert (s.wins_a, s.wins_b, s.ties, s.position_bias_rate) == (1, 1, 0, 0.0)
    assert s.first_position_rate == 0.5
    assert result[0].p_a == pytest.approx(0.9)  # 0.9 in both orders


def test_a_position_biased_judge_only_produces_ties(scripted, context, small_world):
    dataset, _ = small_world
    judge = PairwiseJudge(scripted(pick=lambda text, c: "1"), context)
    pairs = [
        ("u1", dataset.items["1"], dataset.items["2"]),
        ("u2", dataset.items["3"], dataset.items["4"]),
    ]
    result = judge.compare_items(pairs)
    s = summarize(result)
    assert [r.winner for r in result] == ["tie", "tie"]
    assert s.position_bias_rate == 1.0 and s.first_position_rate == 1.0
    assert s.win_rate_a == 0.5 and win_values(result).tolist() == [0.5, 0.5]


def test_rationale_pairwise_counts_unparseable_as_failed_tie(scripted, context, small_world):
    dataset, _ = small_world
    replies = iter(["Choice: 1", "I cannot decide.", "still nothing"])
    judge = PairwiseJudge(
        scripted(reply=lambda t: next(replies)), context, mode="rationale", max_repairs=1
    )
    (result,) = judge.compare_items([("u1", dataset.items["1"], dataset.items["2"])])
    assert result.winner == "tie" and result.failed and not result.consistent
    assert result.parse == ("strict", "failed") and result.choice_ba is None
    assert summarize([result]).failed == 1


def test_list_pairs_on_real_smollm2(judge_backend, context, small_world):
    dataset, _ = small_world
    items = dataset.items
    judge = PairwiseJudge(judge_backend, context, sees="profile")
    family = [items["1"], items["3"], items["5"]]
    horror = [items["2"], items["4"], items["6"]]
    result = judge.compare_lists([("u1", family, horror), ("u2", family, horror)], k=2)
    chat = judge.list_chat("u1", family[:2], horror[:2])[-1]["content"]
    assert "List 1:\n1. <<<Toy Story>>>" in chat and "Babe" not in chat  # cut to k
    for r in result:
        assert 0.0 <= r.p_a <= 1.0 and r.parse == ("logprob", "logprob")
        assert r.winner == decide(r.choice_ab, r.choice_ba)
    with pytest.raises(ValueError, match="both lists must be non-empty"):
        judge.compare_lists([("u1", [], horror)])
