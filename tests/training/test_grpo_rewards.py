"""RLPA rewards: the format gate, profile F1 in closed form, the response rewards."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.backends.base import UsageStats
from llmrec.training.grpo.rewards import (
    FormatGatedReward,
    KeepTalkingJudgeReward,
    ProfileF1Reward,
    ResponseRelevanceReward,
    format_reward,
    normalise_trait,
    parse_reply,
    profile_f1,
    response_reward,
    tag_count_reward,
)

GOLD = ["likes Drama", "dislikes Horror", "likes dark films", "prefers older classics"]


def reply(profile: str, response: str) -> str:
    return f"<profile>\n{profile}\n</profile>\n<response>\n{response}\n</response>"


def chat(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


@pytest.mark.parametrize(
    "text",
    [
        "likes Drama",
        "<profile>likes Drama</profile>",
        "<response>hi</response><profile>likes Drama</profile>",
        "Sure! " + reply("likes Drama", "Any drama?"),
        reply("likes Drama", "Any drama?") + " <response>again</response>",
        reply("likes Drama", "   "),
    ],
)
def test_malformed_replies_are_rejected(text):
    assert parse_reply(text) is None
    assert ProfileF1Reward()([text], gold_traits=[GOLD]) == [0.0]


def test_parse_reply_strips_bullets_and_blank_lines():
    parsed = parse_reply(reply("- likes Drama\n\n2. dislikes Horror", "How about a drama?"))
    assert parsed.profile == ["likes Drama", "dislikes Horror"]
    assert parsed.response == "How about a drama?"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Likes Drama.", "likes drama"),
        ("* I love Drama", "likes drama"),
        ("The user doesn't like Horror", "dislikes horror"),
        ("hates horror!", "dislikes horror"),
        ("I prefer older classics", "prefers older classics"),
        ("I'm a harsh critic", "harsh critic"),
    ],
)
def test_normalise_trait_maps_paraphrases_to_gold_wording(text, canonical):
    assert normalise_trait(text) == canonical


def test_profile_f1_closed_form():
    predicted = ["I like Drama", "dislikes horror", "likes Comedy", "likes drama"]
    # distinct predicted: {likes drama, dislikes horror, likes comedy}: n = 2, P = 2/3, R = 2/4
    assert profile_f1(predicted, GOLD) == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert profile_f1([], GOLD) == 0.0
    assert profile_f1(GOLD, GOLD) == 1.0


def test_profile_reward_reads_the_configured_column_and_conversational_completions():
    good = chat(reply("likes Drama\ndislikes Horror", "Any drama tonight?"))
    rewards = ProfileF1Reward()([good, chat("no format")], gold_traits=[GOLD, GOLD])
    assert rewards == [pytest.approx(2 / 3), 0.0]  # P = 1, R = 1/2
    revealed = ProfileF1Reward("revealed_traits")([good], revealed_traits=[GOLD[:2]])
    assert revealed == [1.0]
    with pytest.raises(ValueError, match="'gold_traits'"):
        ProfileF1Reward()([good], revealed_traits=[GOLD])


def test_response_relevance_reward_rules():
    r = ResponseRelevanceReward()
    revealed = [["likes Drama", "likes dark films"]]
    assert r(
        [reply("likes Drama", "A dark drama like Se7en could suit you.")], revealed_traits=revealed
    ) == [1.0]
    assert r(
        [reply("likes Drama", "Have you tried the new comedy special?")], revealed_traits=revealed
    ) == [0.0]
    assert r([reply("likes Drama", "Drama!")], revealed_traits=revealed) == [0.0]  # too short
    repeated = "I love drama films. I love drama films."
    assert r([reply("likes Drama", repeated)], revealed_traits=revealed) == [0.0]
    assert r([reply("likes Drama", "likes Drama")], revealed_traits=[[]]) == [0.0]  # too short
    assert r(["A dark drama like Se7en could suit you."], revealed_traits=revealed) == [0.0]
    # Before anything is revealed relevance is waived, the other rules still hold.
    assert r([reply("", "What kind of movies do you enjoy watching?")], revealed_traits=[[]]) == [
        1.0
    ]
    with pytest.raises(ValueError, match="revealed_traits"):
        r(["x"], gold_traits=[GOLD])


def test_format_and_tag_count_rewards():
    ok = reply("likes Drama", "Any drama?")
    assert format_reward([ok, "nope"]) == [1.0, 0.0]
    half = "<profile>likes Drama</profile> and more </profile>"
    assert tag_count_reward([ok, half, "nothing"]) == [1.0, 0.25, 0.0]


class YesNoBackend:
    """A judge double: fixed log-probabilities of "Yes" and "No" per chat, chats recorded."""

    fingerprint = "yes-no"

    def __init__(self, logprobs):
        self.logprobs = np.asarray(logprobs, dtype=np.float64)
        self.chats = []
        self.usage = UsageStats()

    def next_token_logprobs(self, chats, candidates):
        assert list(candidates) == ["Yes", "No"]
        self.chats.extend(chats)
        return self.logprobs[: len(chats)]


def test_keep_talking_judge_is_normalised_p_yes_and_gated():
    backend = YesNoBackend([[np.log(0.6), np.log(0.2)]])
    judge = KeepTalkingJudgeReward(backend)
    prompt = [{"role": "system", "content": "s"}, {"role": "user", "content": "I like Drama."}]
    rewards = judge(
        [chat(reply("likes Drama", "A dark drama?")), chat("malformed")],
        prompts=[prompt, prompt],
        gold_traits=[GOLD, GOLD],
    )
    assert rewards == [pytest.approx(0.75), 0.0]
    assert len(backend.chats) == 1  # the malformed reply never reaches the judge
    text = " ".join(m["content"] for m in backend.chats[0])
    assert "likes dark films" in text and "A dark drama?" in text and "I like Drama." in text


def test_response_reward_factory():
    assert isinstance(response_reward("relevance"), ResponseRelevanceReward)
    assert response_reward("none") is None
    with pytest.raises(ValueError, match="judge_model"):
        response_reward("judge")
    with pytest.raises(ValueError, match="valid"):
        response_reward("bleu")


def test_format_gate_shows_only_responses_of_well_formed_rows():
    seen = {}

    def inner(completions, **columns):
        seen.update(columns, completions=completions)
        return [len(c) for c in completions]

    gated = FormatGatedReward(inner, "inner")
    rewards = gated(
        [chat("malformed"), chat(reply("likes Drama", "Watch Heat"))],
        user_id=["u1", "u2"],
        gold_traits=[GOLD, GOLD[:1]],
        trainer_state="kept as is",
    )
    assert rewards == [0.0, 10.0] and gated.__name__ == "inner"
    assert seen["completions"] == ["Watch Heat"]
    assert seen["user_id"] == ["u2"] and seen["gold_traits"] == [GOLD[:1]]
    assert seen["trainer_state"] == "kept as is"


def test_llmrec_judge_reward_behind_the_gate(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend
    from llmrec.context import UserContext
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.judge.reward import JudgeReward

    judge = PointwiseJudge(
        TransformersBackend(tiny_llama_path, device="cpu"),
        UserContext(profiles={"u1": "likes Drama; dislikes Horror"}),
    )
    gated = FormatGatedReward(JudgeReward(judge), "item_judge")
    rewards = gated(
        [chat(reply("likes Drama", "Heat (1995)")), chat("Heat (1995)")], user_id=["u1", "u1"]
    )
    assert 0.0 <= rewards[0] <= 1.0 and rewards[1] == 0.0
    direct = JudgeReward(judge)(["Heat (1995)"], user_id=["u1"])
    assert rewards[0] == pytest.approx(direct[0])
