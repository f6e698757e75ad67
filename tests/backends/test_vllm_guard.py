"""The vLLM backend refuses clearly where vLLM or a GPU is missing."""

from __future__ import annotations

import importlib.util
import sys
import types

import pytest
import torch

from llmrec.backends import load_backend


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed")
def test_missing_vllm_names_the_extra():
    with pytest.raises(ImportError, match=r"pip install 'llmrec\[vllm\]'"):
        load_backend("vllm:smollm2-135m-instruct")


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_missing_gpu_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    with pytest.raises(RuntimeError, match="needs a CUDA GPU"):
        load_backend("vllm:smollm2-135m-instruct")
