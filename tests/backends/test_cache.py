"""The SQLite response cache: hits cost no model calls, any change of key misses."""

from __future__ import annotations

import numpy as np
import torch

from llmrec.backends.base import GenerationParams
from llmrec.backends.cache import CachedBackend
from llmrec.backends.hf import TransformersBackend


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


CHATS = [_chat("Hi"), _chat("Genres: Action"), _chat("Score from 1 to 5")]
SAMPLED = GenerationParams(max_new_tokens=6, temperature=1.0, seed=5, n=2)


def test_rerun_makes_no_model_calls(tiny_backend, tmp_path):
    cached = CachedBackend(tiny_backend, tmp_path / "c.sqlite")
    first = cached.generate(CHATS, SAMPLED)
    calls = tiny_backend.usage.calls
    again = cached.generate(CHATS, SAMPLED)
    assert again == first
    assert tiny_backend.usage.calls == calls
    assert cached.usage.cache_hits == 3
    assert first == tiny_backend.generate(CHATS, SAMPLED)  # the cache returns what was computed


def test_only_misses_reach_the_backend_and_params_are_part_of_the_key(tiny_backend, tmp_path):
    cached = CachedBackend(tiny_backend, tmp_path / "c.sqlite")
    cached.generate(CHATS[:2], SAMPLED)
    prompts = tiny_backend.usage.prompts
    cached.generate(CHATS, SAMPLED)
    assert tiny_backend.usage.prompts - prompts == 1  # only the third chat was computed
    cached.generate(CHATS[:1], GenerationParams(6, temperature=1.0, seed=6, n=2))
    assert tiny_backend.usage.prompts - prompts == 2  # another seed is another key
    assert len(cached) == 4


def test_scores_are_cached_exactly(tiny_backend, tmp_path):
    cached = CachedBackend(tiny_backend, tmp_path / "c.sqlite")
    lp = cached.next_token_logprobs(CHATS, ["1", "2"])
    sc = cached.score_continuations(CHATS[:2], [["Yes", "No"], ["Drama"]])
    reopened = CachedBackend(tiny_backend, tmp_path / "c.sqlite")
    calls = tiny_backend.usage.calls
    np.testing.assert_array_equal(reopened.next_token_logprobs(CHATS, ["1", "2"]), lp)
    again = reopened.score_continuations(CHATS[:2], [["Yes", "No"], ["Drama"]])
    for a, b in zip(again, sc):
        np.testing.assert_array_equal(a, b)
    assert tiny_backend.usage.calls == calls
    np.testing.assert_array_equal(lp, tiny_backend.next_token_logprobs(CHATS, ["1", "2"]))


def test_changed_weights_miss(tiny_llama_path, tmp_path):
    from llmrec.models import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llama_path, device="cpu")
    path = tmp_path / "c.sqlite"
    CachedBackend(TransformersBackend.from_model(model, tokenizer), path).generate(CHATS, SAMPLED)
    with torch.no_grad():
        model.lm_head.weight.mul_(1.5)
    changed = TransformersBackend.from_model(model, tokenizer)
    cached = CachedBackend(changed, path)
    cached.generate(CHATS, SAMPLED)
    assert cached.usage.cache_hits == 0 and changed.usage.prompts == 3


def test_wrapper_delegates_backend_attributes(tiny_backend, tmp_path):
    cached = CachedBackend(tiny_backend, tmp_path / "c.sqlite")
    assert cached.count_tokens("Hello world") == tiny_backend.count_tokens("Hello world")
    assert cached.fingerprint == tiny_backend.fingerprint
