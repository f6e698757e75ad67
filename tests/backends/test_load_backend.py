"""Backend specs: which string builds which backend."""

from __future__ import annotations

import pytest

from llmrec.backends import load_backend, parse_spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("smollm2-135m-instruct", ("transformers", {"model": "smollm2-135m-instruct"})),
        (
            "HuggingFaceTB/SmolLM2-135M-Instruct",
            ("transformers", {"model": "HuggingFaceTB/SmolLM2-135M-Instruct"}),
        ),
        ("hf:org/model", ("transformers", {"model": "org/model"})),
        ("vllm:org/model", ("vllm", {"model": "org/model"})),
        (
            "openai:http://127.0.0.1:8000/v1#smol",
            ("openai", {"base_url": "http://127.0.0.1:8000/v1", "model": "smol"}),
        ),
        (
            "https://api.example.com/v1#gpt",
            ("openai", {"base_url": "https://api.example.com/v1", "model": "gpt"}),
        ),
    ],
)
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "openai:http://x/v1", "openai:#m", "vllm:"])
def test_malformed_specs_are_refused(spec):
    with pytest.raises(ValueError, match="spec"):
        parse_spec(spec)


def test_ready_backend_passes_through(tiny_backend):
    assert load_backend(tiny_backend) is tiny_backend
    with pytest.raises(ValueError, match="batch_size"):
        load_backend(tiny_backend, batch_size=2)


def test_alias_builds_a_transformers_backend(tiny_llama_path):
    backend = load_backend("tiny-random-llama", batch_size=3, device="cpu")
    assert type(backend).__name__ == "TransformersBackend"
    assert backend.batch_size == 3
