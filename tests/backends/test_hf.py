"""The transformers backend: batching, ordering, seeds, stop strings and scoring."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from llmrec.backends.base import GenerationParams
from llmrec.backends.hf import TransformersBackend, auto_batch_size


def _chat(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


CHATS = [
    _chat("Hi"),
    _chat("Tell me about comedy movies from the nineties please"),
    _chat("Genres: Action Adventure"),
    _chat("Score from 1 to 5"),
    _chat("The user watched Toy Story, GoldenEye and Star Wars and rated them highly."),
]


def _reference_logprobs(backend, chat) -> torch.Tensor:
    """Log-softmax of every position for one unpadded prompt: the closed form to match."""
    ids = torch.tensor([backend.encode_chat(chat)])
    with torch.inference_mode():
        logits = backend.model(input_ids=ids).logits[0]  # (seq, vocab)
    return torch.log_softmax(logits.float(), dim=-1)


def test_logprobs_keep_input_order_across_batch_sizes(tiny_backend):
    one_by_one = np.vstack([tiny_backend.next_token_logprobs([c], ["1", "2"]) for c in CHATS])
    tiny_backend.batch_size = 2
    try:
        batched = tiny_backend.next_token_logprobs(CHATS, ["1", "2"])
    finally:
        tiny_backend.batch_size = 4
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    assert len(np.unique(batched[:, 0].round(5))) == len(CHATS)  # order is meaningful


def test_sampling_is_seeded_and_returns_n_per_chat(tiny_backend):
    params = GenerationParams(max_new_tokens=8, temperature=1.0, seed=7, n=3)
    first = tiny_backend.generate(CHATS[:2], params)
    again = tiny_backend.generate(CHATS[:2], params)
    other = tiny_backend.generate(CHATS[:2], GenerationParams(8, temperature=1.0, seed=8, n=3))
    assert len(first) == 6
    assert first == again
    assert first != other
    assert len(set(first[:3])) > 1  # three samples of one chat differ


def test_a_seeded_sample_does_not_depend_on_its_batch(tiny_backend):
    params = GenerationParams(max_new_tokens=8, temperature=0.9, top_p=0.95, seed=3, n=2)
    together = tiny_backend.generate(CHATS, params)
    alone = [r for c in reversed(CHATS) for r in tiny_backend.generate([c], params)]
    n = params.n
    assert together == [r for k in reversed(range(len(CHATS))) for r in alone[k * n : (k + 1) * n]]


def test_sampling_leaves_global_rng_alone(tiny_backend):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    tiny_backend.generate(CHATS[:1], GenerationParams(4, temperature=1.0, seed=1))
    assert torch.equal(torch.rand(3), expected)


def test_next_token_logprobs_match_unbatched_forward(tiny_backend):
    candidates = ["1", "2", "Yes"]
    ids = tiny_backend.candidate_token_ids(candidates)
    got = tiny_backend.next_token_logprobs(CHATS, candidates)
    assert got.shape == (len(CHATS), 3)
    for i, chat in enumerate(CHATS):
        ref = _reference_logprobs(tiny_backend, chat)[-1, ids].numpy()
        np.testing.assert_allclose(got[i], ref, atol=1e-4)


def test_multi_token_candidate_is_named(tiny_backend):
    with pytest.raises(ValueError, match="'Toy Story, GoldenEye'"):
        tiny_backend.next_token_logprobs(CHATS[:1], ["1", "Toy Story, GoldenEye"])


def test_score_continuations_equal_summed_token_logprobs(tiny_backend):
    conts = [["Yes", "No thanks"], ["comedy and animation"], ["1", "2", "Genres: Drama"]]
    chats = CHATS[:3]
    got = tiny_backend.score_continuations(chats, conts)
    for chat, options, scores in zip(chats, conts, got):
        assert scores.shape == (len(options),)
        prompt = tiny_backend.encode_chat(chat)
        for text, score in zip(options, scores):
            cont = tiny_backend.tokenizer(text, add_special_tokens=False)["input_ids"]
            ids = torch.tensor([prompt + cont])
            with torch.inference_mode():
                lp = torch.log_softmax(tiny_backend.model(input_ids=ids).logits[0].float(), -1)
            expected = sum(float(lp[len(prompt) + k - 1, t]) for k, t in enumerate(cont))
            assert score == pytest.approx(expected, abs=1e-3)


def test_stop_strings_cut_the_reply(tiny_backend):
    params = GenerationParams(16, temperature=1.0, seed=3)
    full = tiny_backend.generate(CHATS[:1], params)[0]
    assert len(full) > 6
    stop = full[4:6]
    cut = tiny_backend.generate(CHATS[:1], GenerationParams(16, 1.0, seed=3, stop=(stop,)))[0]
    assert cut == full[: full.find(stop)].strip()


def test_too_long_prompt_names_the_chat(tiny_llama_path):
    backend = TransformersBackend(tiny_llama_path, device="cpu")
    backend.max_input_tokens = len(backend.encode_chat(_chat("a"))) + 5
    with pytest.raises(ValueError, match="chat 1 has .* prompt tokens"):
        backend.generate([_chat("a"), _chat("word " * 50)], GenerationParams(2))


def test_usage_counts_tokens(tiny_llama_path):
    backend = TransformersBackend(tiny_llama_path, device="cpu", batch_size=2)
    backend.generate(CHATS[:3], GenerationParams(5))
    prompt_tokens = sum(len(backend.encode_chat(c)) for c in CHATS[:3])
    assert backend.usage.prompts == 3
    assert backend.usage.calls == 2
    assert backend.usage.prompt_tokens == prompt_tokens
    assert 0 < backend.usage.completion_tokens <= 15


def test_from_model_fingerprint_follows_the_weights(tiny_llama_path):
    from llmrec.models import load_causal_lm

    model, tokenizer = load_causal_lm(tiny_llama_path, device="cpu")
    before = TransformersBackend.from_model(model, tokenizer).fingerprint
    assert TransformersBackend.from_model(model, tokenizer).fingerprint == before
    with torch.no_grad():
        model.model.layers[1].mlp.down_proj.weight[5, 5] += 0.5
    assert TransformersBackend.from_model(model, tokenizer).fingerprint != before


def test_auto_batch_size_shrinks_with_length(tiny_backend):
    short = auto_batch_size(tiny_backend.model, 64)
    assert 1 <= short <= 32
    assert auto_batch_size(tiny_backend.model, 10**9) == 1


# -- the real SmolLM2: chat template, left padding, single-token digits -----------------------


def test_smollm2_chat_template_and_digits(smol_backend):
    text = smol_backend.tokenizer.decode(smol_backend.encode_chat(_chat("Hello")))
    assert text.endswith("<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n")
    assert len(set(smol_backend.candidate_token_ids(list("12345")))) == 5


def test_smollm2_left_padding_matches_single_prompts(smol_backend):
    chats = [
        _chat("Rate Toy Story from 1 to 5. Answer with one digit."),
        _chat("On a scale of 1 to 5, how much would a horror fan enjoy a romantic comedy?"),
        _chat("5?"),
    ]
    batched = smol_backend.next_token_logprobs(chats, list("12345"))
    singles = np.vstack([smol_backend.next_token_logprobs([c], list("12345")) for c in chats])
    np.testing.assert_allclose(batched, singles, atol=1e-4)
    scores = smol_backend.score_continuations(chats[:2], [["3", "Paris"], ["1"]])
    np.testing.assert_allclose(scores[0][0], batched[0, 2], atol=1e-4)


def test_smollm2_batched_generation_equals_one_by_one_in_input_order(smol_backend):
    chats = [
        _chat("Say hi"),
        _chat("What is the capital of France? Answer in one word."),
        _chat("Name one comedy movie from the nineties."),
    ]
    params = GenerationParams(max_new_tokens=8)
    batched = smol_backend.generate(chats, params)
    assert batched == [smol_backend.generate([c], params)[0] for c in chats]
    assert "Paris" in batched[1]


def test_repetition_penalty_changes_greedy_decoding(tiny_backend):
    plain = tiny_backend.generate(CHATS[:1], GenerationParams(10))[0]
    penalised = tiny_backend.generate(CHATS[:1], GenerationParams(10, repetition_penalty=3.0))[0]
    assert plain == ""  # the random model repeats a newline, stripped away
    assert penalised != plain
