"""The answer scorer: closed forms over label sets, and equality with direct forward passes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.backends.base import UsageStats
from llmrec.context import SCALES, AnswerScale, AnswerScorer, AnswerScores, answer_scale

CHATS = [
    [{"role": "user", "content": "Will the user like Heat (1995)? Answer Yes or No."}],
    [{"role": "user", "content": "Rate Toy Story from 1 to 5."}],
    [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Yes or No?"}],
]


class FixedBackend:
    """Returns the same log-probabilities for every chat: ``log p`` of the given table."""

    fingerprint = "fixed"

    def __init__(self, probs: dict[str, float]) -> None:
        self.probs = probs
        self.usage = UsageStats()

    def next_token_logprobs(self, chats, candidates):
        return np.log([[self.probs[c] for c in candidates] for _ in chats])

    def score_continuations(self, chats, continuations):
        return [np.log([self.probs[c] for c in conts]) for conts in continuations]


def test_label_sets_closed_forms():
    backend = FixedBackend(
        {"1": 0.05, "2": 0.05, "3": 0.1, "4": 0.2, "5": 0.1, "Yes": 0.3, "No": 0.1}
    )
    five = AnswerScorer(backend, "1-5").score(CHATS[:2])
    p = np.array([0.05, 0.05, 0.1, 0.2, 0.1]) / 0.5
    np.testing.assert_allclose(five.probs(), [p, p])
    np.testing.assert_allclose(five.expected(), [p @ np.arange(1, 6)] * 2)
    np.testing.assert_allclose(five.mass(), [0.5, 0.5])
    flat = five.probs(temperature=1e6)
    np.testing.assert_allclose(flat, np.full((2, 5), 0.2), atol=1e-5)
    yes_no = AnswerScorer(backend, "yes_no").score(CHATS[:1])
    np.testing.assert_allclose(yes_no.p("Yes"), [0.75])
    np.testing.assert_allclose(yes_no.log_odds("Yes", "No"), [np.log(3.0)])
    np.testing.assert_allclose(yes_no.expected(), [0.75])  # Yes = 1, No = 0
    # a new answer set is one AnswerScale; nominal sets have no expectation
    custom = AnswerScorer(backend, ["No", "Yes"], method="continuation").score(CHATS)
    np.testing.assert_allclose(custom.p("No"), [0.25] * 3)
    with pytest.raises(ValueError, match="has no values"):
        custom.expected()
    assert AnswerScorer(backend, "1-5").score([]).logprobs.shape == (0, 5)


def test_scale_errors_name_what_is_allowed():
    with pytest.raises(
        ValueError, match=r"unknown answer scale 'stars'; valid: \['1-5', 'choice', 'yes_no'\]"
    ):
        answer_scale("stars")
    with pytest.raises(ValueError, match="at least two labels"):
        AnswerScale(("Yes",))
    with pytest.raises(ValueError, match="distinct"):
        AnswerScale(("1", "1"))
    with pytest.raises(ValueError, match="3 values for 2 labels"):
        AnswerScale(("a", "b"), (1.0, 2.0, 3.0))
    with pytest.raises(ValueError, match="'Maybe' is not an answer"):
        AnswerScores(SCALES["yes_no"], np.zeros((1, 2))).p("Maybe")
    with pytest.raises(ValueError, match="method must be one of"):
        AnswerScorer(FixedBackend({}), method="sampled")


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=2)


def _last_logprobs(backend, chat) -> torch.Tensor:
    """The plain per-site computation: one unpadded forward pass, log-softmax at the end."""
    with torch.no_grad():
        ids = torch.tensor([backend.encode_chat(chat)])
        return torch.log_softmax(backend.model(ids).logits[0, -1].double(), dim=-1)


def test_next_token_scores_equal_plain_forward_passes(tiny):
    yes, no = tiny.candidate_token_ids(["Yes", "No"])
    scores = AnswerScorer(tiny, "yes_no").score(CHATS)
    for k, chat in enumerate(CHATS):
        last = _last_logprobs(tiny, chat)
        assert scores.logprobs[k] == pytest.approx([last[yes].item(), last[no].item()], abs=1e-5)
        # TALLRec's and LettinGo's old P(Yes): softmax over the two tokens
        expected = torch.softmax(last[[yes, no]], dim=0)[0].item()
        assert scores.p("Yes")[k] == pytest.approx(expected, abs=1e-5)
    np.testing.assert_array_equal(scores.logprobs, tiny.next_token_logprobs(CHATS, ["Yes", "No"]))


def test_old_per_site_formulas_agree_with_the_scorer(tiny):
    lp = tiny.next_token_logprobs(CHATS, list("12345")).astype(np.float64)
    scores = AnswerScorer(tiny, "1-5").score(CHATS)
    # pointwise judge: softmax over the five digits, E[s], p4 + p5, mass
    z = np.exp(lp - lp.max(axis=1, keepdims=True))
    dist = z / z.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(scores.probs(), dist, atol=1e-12)
    np.testing.assert_allclose(scores.expected(), dist @ np.arange(1, 6), atol=1e-12)
    np.testing.assert_allclose(scores.mass(), np.exp(lp).sum(axis=1), atol=1e-12)
    # pairwise judge: P(option 1) = 1 / (1 + exp(l2 - l1)); reranker: l_yes - l_no
    choice = AnswerScorer(tiny, "choice").score(CHATS)
    np.testing.assert_allclose(choice.p("1"), 1 / (1 + np.exp(lp[:, 1] - lp[:, 0])), atol=1e-12)
    yn = tiny.next_token_logprobs(CHATS, ["Yes", "No"]).astype(np.float64)
    got = AnswerScorer(tiny, "yes_no").score(CHATS).log_odds("Yes", "No")
    np.testing.assert_allclose(got, yn[:, 0] - yn[:, 1], atol=1e-12)


def test_shared_prefix_equals_unshared(tiny):
    prefix = "A user who loves slow crime dramas and hates musicals asks about "
    chats = [
        [{"role": "user", "content": prefix + title + ". Rate it 1 to 5."}]
        for title in ("Heat", "Grease", "The Godfather Part II", "Cats")
    ] * 2
    groups = ["u1"] * 4 + ["u2"] * 4
    shared = AnswerScorer(tiny, "1-5", share_prefix=True).score(chats, groups)
    plain = AnswerScorer(tiny, "1-5", share_prefix=False).score(chats, groups)
    np.testing.assert_allclose(shared.logprobs, plain.logprobs, atol=1e-5)


def test_continuations_equal_full_forward_passes(tiny):
    chat = [{"role": "user", "content": "Items: Toy Story (1995). Next?"}]
    conts = ["Heat (1995)", "GoldenEye", "A much longer title, The (1970)", "X"]
    prefix = tiny.encode_chat(chat)
    eos = tiny.tokenizer.eos_token_id
    got = AnswerScorer(tiny, end_of_turn=True).continuations([chat], [conts])[0]
    bare = AnswerScorer(tiny).continuations([chat], [conts])[0]
    for value, no_eos, text in zip(got, bare, conts):
        ids = tiny.tokenizer(text, add_special_tokens=False)["input_ids"] + [eos]
        with torch.no_grad():
            logits = tiny.model(torch.tensor([prefix + ids])).logits[0]
        logp = torch.log_softmax(logits.double(), dim=-1)
        per_token = [logp[len(prefix) - 1 + j, t].item() for j, t in enumerate(ids)]
        assert value == pytest.approx(sum(per_token), abs=1e-4)  # title + end of turn
        assert no_eos == pytest.approx(sum(per_token[:-1]), abs=1e-4)  # title alone
    plain = tiny.score_continuations([chat], [conts])[0]
    np.testing.assert_allclose(bare, plain, atol=1e-4)
    # a multi-token answer set goes through the same path
    titles = AnswerScorer(tiny, AnswerScale(tuple(conts)), method="continuation").score([chat])
    np.testing.assert_allclose(titles.logprobs[0], bare, atol=1e-9)


def test_next_token_needs_single_token_labels(tiny):
    with pytest.raises(ValueError, match=r"'Definitely not' is \d+ tokens"):
        AnswerScorer(tiny, AnswerScale(("Yes", "Definitely not"))).score(CHATS[:1])


def test_a_model_in_training_mode_is_scored_in_eval_mode_and_put_back(tiny):
    expected = AnswerScorer(tiny, "yes_no").score(CHATS).logprobs
    tiny.model.train()
    try:
        got = AnswerScorer(tiny, "yes_no").score(CHATS).logprobs
        assert tiny.model.training
    finally:
        tiny.model.eval()
    np.testing.assert_array_equal(got, expected)
