"""The LLM reranker: scoring through the backend's log-probabilities, never parsed text."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.backends.base import UsageStats
from llmrec.evaluation.recommenders import LLMReranker, MostPopular


class KeywordBackend:
    """A deterministic backend: P(Yes) is high when the prompt's candidate mentions 'space'.

    It implements the scoring methods of the Backend protocol on the rendered chat text, so the
    reranker's plumbing (prompt content, batching, score placement) is checked exactly.
    """

    fingerprint = "keyword-test-backend"

    def __init__(self) -> None:
        self.usage = UsageStats()
        self.chats: list = []

    def _yes(self, chat) -> float:
        text = chat[-1]["content"]
        candidate = text.split("Candidate item:")[1]
        return -0.1 if "space" in candidate.lower() else -3.0

    def next_token_logprobs(self, chats, candidates):
        assert list(candidates) == ["Yes", "No"]
        self.chats.extend(chats)
        yes = np.array([self._yes(c) for c in chats])
        return np.stack([yes, np.log1p(-np.exp(yes))], axis=1)

    def score_continuations(self, chats, continuations):
        lp = self.next_token_logprobs(chats, ["Yes", "No"])
        return [row for row in lp]

    def generate(self, chats, params=None):
        raise AssertionError("the reranker must not generate text")


@pytest.fixture(scope="module")
def catalogue(make_dataset):
    titles = ["Popular drama", "Space opera", "Busy comedy", "Space western", "Quiet romance",
              "Seen space film"]  # fmt: skip
    # Item 0 is most popular, then 2; "u" has seen item 5 (a space film) and item 4.
    hist = {"u": ["5", "4"], "v": ["0", "2", "1"], "w": ["0", "2"], "x": ["0", "3"]}
    return make_dataset(hist, 6, titles)


@pytest.mark.parametrize("method", ["next_token", "continuation"])
def test_reranks_candidates_by_llm_score(catalogue, method):
    backend = KeywordBackend()
    rec = LLMReranker(backend, MostPopular(), n_candidates=3, method=method).fit(catalogue)
    u = catalogue.user_index["u"]
    scores = rec.score(np.array([u]))[0]
    # Base (popularity) candidates for u, training items 4 and 5 excluded: 0, 2, then 1 or 3.
    order = np.argsort(-scores, kind="stable")
    candidates = set(order[:3].tolist())
    assert candidates == {0, 2, 1}  # ties between 1 and 3 go to the lower index
    assert order[0] == 1  # "Space opera" jumps to the top
    assert np.isneginf(scores[[4, 5]]).all()  # training items never recommended
    assert scores[3] < scores[order[2]]  # non-candidates stay below every candidate
    assert len(backend.chats) == 3  # one chat per candidate, in one batched call
    prompt = backend.chats[0][-1]["content"]
    assert "Seen space film" in prompt and "Quiet romance" in prompt  # raw history shown


def test_profiles_replace_history(catalogue):
    backend = KeywordBackend()
    profiles = {"u": "Loves slow European cinema."}
    rec = LLMReranker(backend, MostPopular(), n_candidates=2, profiles=profiles).fit(catalogue)
    rec.score(np.array([catalogue.user_index["u"]]))
    prompt = backend.chats[0][-1]["content"]
    assert "Loves slow European cinema." in prompt
    assert "Seen space film" not in prompt  # the profile is used instead of the history


def test_real_backend_plumbing(tiny_llama_path, catalogue):
    from llmrec.backends.hf import TransformersBackend

    backend = TransformersBackend(tiny_llama_path, device="cpu", batch_size=8)
    rec = LLMReranker(backend, MostPopular(), n_candidates=3, method="continuation").fit(catalogue)
    users = np.array([catalogue.user_index["u"], catalogue.user_index["w"]])
    scores = rec.score(users)
    assert scores.shape == (2, 6) and not np.isnan(scores).any()
    top3 = np.sort(np.argsort(-scores[0])[:3])
    np.testing.assert_array_equal(top3, [0, 1, 2])  # the candidates, reordered by the LLM
    assert backend.usage.calls >= 1 and backend.usage.prompt_tokens > 0


def test_shared_prefix_scores_equal_the_plain_pass(catalogue, tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    backend = TransformersBackend(tiny_llama_path, device="cpu", batch_size=4)
    rec = LLMReranker(backend, MostPopular(), n_candidates=3).fit(catalogue)
    users = ["u", "v", "w", "u"]
    chats = [rec._chat(u, j) for u, j in zip(users, [0, 1, 3, 2])]
    plain = rec.llm_scores(chats)
    before = backend.usage.prompt_tokens
    grouped = rec.llm_scores(chats, users)
    np.testing.assert_allclose(grouped, plain, atol=1e-4)
    # the two chats of "u" share their prefix: fewer prompt tokens than the plain pass
    assert backend.usage.prompt_tokens - before < before
