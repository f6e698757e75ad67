"""Backends shared by the backend tests: built once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_backend(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=4)


@pytest.fixture(scope="session")
def smol_backend(smollm2):
    from llmrec.backends.hf import TransformersBackend

    model, tokenizer = smollm2
    return TransformersBackend.from_model(model, tokenizer, batch_size=8)
