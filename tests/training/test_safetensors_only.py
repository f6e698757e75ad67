"""The training loaders read safetensors only: a folder holding pickled weights is refused."""

from __future__ import annotations

import pytest
import torch
from trl import ModelConfig, SFTConfig

from llmrec.training.runtime import load_model_and_tokenizer


def test_training_loader_refuses_pickled_weights(tiny_llama_path, tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_llama_path)
    # A pickled checkpoint, as older hub repositories hold (save_pretrained writes safetensors).
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    model.config.save_pretrained(tmp_path)
    AutoTokenizer.from_pretrained(tiny_llama_path).save_pretrained(tmp_path)
    # transformers itself would load it; the training loader must not.
    assert AutoModelForCausalLM.from_pretrained(tmp_path).num_parameters() > 0
    args = SFTConfig(output_dir=str(tmp_path / "out"), use_cpu=True, bf16=False, report_to="none")
    with pytest.raises(OSError, match="safetensors"):
        load_model_and_tokenizer(ModelConfig(model_name_or_path=str(tmp_path)), args)
    # The same model saved as safetensors loads.
    model.save_pretrained(tmp_path / "safe")
    AutoTokenizer.from_pretrained(tiny_llama_path).save_pretrained(tmp_path / "safe")
    loaded, _ = load_model_and_tokenizer(
        ModelConfig(model_name_or_path=str(tmp_path / "safe")), args
    )
    assert loaded.num_parameters() == model.num_parameters()
