"""Bounded repair of unparseable replies, and listwise ranking."""

from __future__ import annotations

import pytest

from llmrec.context import UserContext
from llmrec.judge.listwise import PermutationJudge, rank_by_pointwise
from llmrec.judge.pointwise import PointwiseJudge, parse_summary


@pytest.fixture(scope="module")
def context(small_world):
    dataset, profiles = small_world
    return UserContext(profiles=profiles, history=dataset)


def _repairing(text: str) -> str:
    # first answers ramble; asked to repair (the repair prompt quotes the reply), answer "4"
    return "4" if "Reply:" in text else "A fine film for a family evening."


def test_failed_replies_are_repaired_within_the_bound(scripted, context, small_world):
    dataset, _ = small_world
    backend = scripted(reply=_repairing)
    judge = PointwiseJudge(backend, context, mode="rationale", max_repairs=1)
    (j,) = judge.judge([("u1", dataset.items["1"])])
    assert (j.score, j.parse) == (4.0, "repair")
    assert [m for m, _ in backend.calls] == ["generate", "generate"]


def test_unrepairable_replies_are_returned_as_failed_and_counted(scripted, context, small_world):
    dataset, _ = small_world
    backend = scripted(reply=lambda t: "No opinion.")
    judge = PointwiseJudge(backend, context, mode="rationale", max_repairs=2)
    out = judge.judge([("u1", dataset.items["1"]), ("u2", dataset.items["2"])])
    assert [j.score for j in out] == [None, None]
    assert parse_summary(out) == {"failed": 2}
    assert len(backend.calls) == 3  # one generation and exactly two repair rounds
    no_repair = scripted(reply=lambda t: "No opinion.")
    PointwiseJudge(no_repair, context, mode="rationale", max_repairs=0).judge(
        [("u1", dataset.items["1"])]
    )
    assert len(no_repair.calls) == 1


def test_mixed_batch_repairs_only_the_failures(scripted, context, small_world):
    dataset, _ = small_world
    backend = scripted(reply=lambda t: "Score: 2" if "Shining" in t else _repairing(t))
    judge = PointwiseJudge(backend, context, mode="rationale")
    out = judge.judge([("u1", dataset.items["2"]), ("u1", dataset.items["1"])])
    assert [(j.score, j.parse) for j in out] == [(2.0, "strict"), (4.0, "repair")]
    assert len(backend.calls[1][1]) == 1  # only the failed reply went to repair


def test_permutation_judge_parses_completes_and_repairs(scripted, context, small_world):
    dataset, _ = small_world
    items = [dataset.items[i] for i in ("1", "2", "3")]
    replies = {"u1": "[3] > [1]", "u2": "I like them all."}

    def reply(text: str) -> str:
        if "Reply:" in text:
            return "[2] > [1] > [3]"
        return replies["u1" if "animated" in text else "u2"]

    judge = PermutationJudge(scripted(reply=reply), context)
    out = judge.rank([("u1", items), ("u2", items)])
    assert out[0].order == (2, 0, 1) and out[0].how == "completed"
    assert out[1].order == (1, 0, 2) and out[1].how == "repair"
    chat = judge.chat("u1", items)[-1]["content"]
    assert "[1] <<<Toy Story>>>" in chat and "[3] <<<Aladdin>>>" in chat


def test_rank_by_pointwise_sorts_by_real_scores(judge_backend, context, small_world):
    dataset, _ = small_world
    items = [dataset.items[i] for i in ("1", "2", "3", "4")]
    judge = PointwiseJudge(judge_backend, context)
    order, judgments = rank_by_pointwise(judge, "u1", items)
    scores = [j.score for j in judgments]
    assert sorted(order) == [0, 1, 2, 3]
    assert [scores[k] for k in order] == sorted(scores, reverse=True)
