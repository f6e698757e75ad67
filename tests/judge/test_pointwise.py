"""Pointwise judging on the real SmolLM2: logprob and rationale modes."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.context import UserContext
from llmrec.context.scoring import renormalise
from llmrec.judge.pointwise import SCORE_TOKENS, PointwiseJudge


@pytest.fixture(scope="module")
def context(small_world):
    dataset, profiles = small_world
    return UserContext(profiles=profiles, history=dataset)


def test_logprob_mode_is_the_expected_score_of_the_token_distribution(
    judge_backend, context, small_world
):
    dataset, _ = small_world
    judge = PointwiseJudge(judge_backend, context, sees="profile")
    pairs = [("u1", dataset.items["1"]), ("u1", dataset.items["2"]), ("u2", dataset.items["2"])]
    judgments = judge.judge(pairs)
    # recompute from the backend directly: the first chat alone, the others batched
    chats = [judge.chat(u, item) for u, item in pairs]
    alone = judge_backend.next_token_logprobs(chats[:1], SCORE_TOKENS)
    rest = judge_backend.next_token_logprobs(chats[1:], SCORE_TOKENS)
    for lp, j in zip(np.concatenate([alone, rest]), judgments, strict=True):
        p = np.exp(lp - lp.max())
        p /= p.sum()
        assert j.distribution == pytest.approx(p, abs=1e-4)
        assert sum(j.distribution) == pytest.approx(1.0)
        assert j.score == pytest.approx(float(p @ np.arange(1, 6)), abs=1e-4)
        assert j.p_relevant == pytest.approx(p[3] + p[4], abs=1e-4)
        assert 0 < j.mass <= 1 and j.mass == pytest.approx(np.exp(lp).sum(), rel=1e-3)
        assert j.parse == "logprob" and j.raw is None
    # what the judge sees matters: another user's profile gives another distribution
    assert judgments[1].distribution != judgments[2].distribution


def test_views_render_profile_history_or_both(context):
    profile = context.render("u1", "profile")
    history = context.render("u1", "history")
    both = context.render("u1", "both")
    assert "Loves animated" in profile and "Aladdin" not in profile
    assert "Aladdin" in history and "rated 5/5" in history and "Loves animated" not in history
    assert "Aladdin" in both and "Loves animated" in both
    with pytest.raises(ValueError, match="needs profiles"):
        UserContext(history=context.history).check("both")


def test_rationale_mode_generates_and_parses(judge_backend, context, small_world):
    dataset, _ = small_world
    judge = PointwiseJudge(
        judge_backend, context, sees="profile", mode="rationale", max_new_tokens=20, max_repairs=1
    )
    judgments = judge.judge([("u1", dataset.items["1"])])
    for j in judgments:
        assert j.mode == "rationale" and isinstance(j.raw, str) and j.raw
        assert j.parse in ("strict", "lenient", "repair", "failed")
        assert (j.score is None) == (j.parse == "failed")
        if j.score is not None:
            assert j.score in (1.0, 2.0, 3.0, 4.0, 5.0)
        assert j.distribution is None and j.p_relevant is None
    # the rationale prompt asks for reasoning and a "Score: N" line; the logprob one does not
    assert "Score: N" in judge.chat("u1", dataset.items["1"])[-1]["content"]
    assert "Score: N" not in judge.chat("u1", dataset.items["1"], rationale=False)[-1]["content"]


def test_temperature_flattens_the_distribution():
    lp = np.log(np.array([[0.1, 0.1, 0.1, 0.2, 0.5]]))
    assert renormalise(lp, 1.0)[0] == pytest.approx([0.1, 0.1, 0.1, 0.2, 0.5])
    flat = renormalise(lp, 1e6)[0]
    assert flat == pytest.approx([0.2] * 5, abs=1e-5)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        renormalise(lp, 0.0)


def test_bad_settings_are_named(judge_backend, context):
    with pytest.raises(ValueError, match="mode must be one of"):
        PointwiseJudge(judge_backend, context, mode="sampled")
    with pytest.raises(ValueError, match="sees must be one of"):
        PointwiseJudge(judge_backend, context, sees="everything")


def test_shared_prefix_scoring_equals_the_full_forward_pass(judge_backend, context, small_world):
    from llmrec.backends.grouped import grouped_next_token_logprobs
    from llmrec.backends.prefill import common_prefix_length

    dataset, _ = small_world
    judge = PointwiseJudge(judge_backend, context, sees="profile")
    pairs = [(u, dataset.items[i]) for u in ("u1", "u2") for i in ("1", "6")]
    chats = [judge.chat(u, it) for u, it in pairs]
    calls = judge_backend.usage.calls
    shared = grouped_next_token_logprobs(judge_backend, chats, [u for u, _ in pairs], SCORE_TOKENS)
    assert judge_backend.usage.calls - calls == 4  # one prefix and one suffix pass per user
    full = judge_backend.next_token_logprobs(chats, SCORE_TOKENS)
    assert np.abs(shared - full).max() < 1e-4
    assert common_prefix_length([[1, 2, 3], [1, 2, 4], [1, 2]]) == 2
