"""Shared session-scoped fixtures: each real model and dataset loads once per test run.

Importing trl or sentence-transformers costs seconds per process, so the suite runs in one
pytest process and shares these.
"""

from __future__ import annotations

import os

import pytest

# One thread per op keeps 2-core CI machines from oversubscribing when subprocesses run too.
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def smollm2_path() -> str:
    from llmrec.models import resolve_model

    return resolve_model("smollm2-135m-instruct")


@pytest.fixture(scope="session")
def tiny_llama_path() -> str:
    from llmrec.models import resolve_model

    return resolve_model("tiny-random-llama")


@pytest.fixture(scope="session")
def minilm_path() -> str:
    from llmrec.models import resolve_model

    return resolve_model("all-minilm-l6-v2")


@pytest.fixture(scope="session")
def smollm2(smollm2_path):
    """``(model, tokenizer)`` of the real SmolLM2-135M-Instruct, fp32 on CPU."""
    from llmrec.models import load_causal_lm

    return load_causal_lm(smollm2_path, device="cpu")


@pytest.fixture(scope="session")
def minilm(minilm_path):
    from llmrec.models import load_sentence_transformer

    return load_sentence_transformer(minilm_path, device="cpu")


@pytest.fixture(scope="session")
def ml100k():
    from llmrec.data import load_dataset

    return load_dataset("ml-100k")


@pytest.fixture(scope="session")
def ml100k_split(ml100k):
    from llmrec.data import leave_one_out

    return leave_one_out(ml100k)


@pytest.fixture(scope="session")
def synthetic_world():
    """A small seeded synthetic world (200 users, 300 items) with gold profiles."""
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    return generate_world(SyntheticConfig(n_users=200, n_items=300, seed=0))
