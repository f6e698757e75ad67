"""The embedded defaults and the ml-100k numbers the README promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from llmrec import assets, models


def test_ml100k_stats(ml100k):
    stats = ml100k.stats().to_dict()
    assert (stats["users"], stats["items"], stats["interactions"]) == (943, 1682, 100000)
    assert stats["rated"] and stats["timestamped"]


def test_data_stats_cli_json():
    out = subprocess.run(
        [sys.executable, "-m", "llmrec", "data", "stats", "ml-100k", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    stats = json.loads(out.stdout)
    assert stats["users"] == 943 and stats["items"] == 1682 and stats["interactions"] == 100000


def test_leave_one_out_holds_out_last_two(ml100k, ml100k_split):
    train, valid, test = ml100k_split.train, ml100k_split.valid, ml100k_split.test
    assert len(train) + len(valid) + len(test) == len(ml100k)
    assert len(test) == len(valid) == 943
    user = "1"
    full = ml100k.history(user)
    assert [r.item_id for r in test.history(user)] == [full[-1].item_id]
    assert [r.item_id for r in valid.history(user)] == [full[-2].item_id]
    last_train = train.history(user)[-1].timestamp
    assert last_train <= valid.history(user)[0].timestamp <= test.history(user)[0].timestamp


def test_smollm2_alias_generates(smollm2):
    model, tokenizer = smollm2
    assert tokenizer.padding_side == "left" and tokenizer.eos_token == "<|im_end|>"
    chat = [{"role": "user", "content": "Name one famous movie."}]
    enc = tokenizer.apply_chat_template(
        chat, add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    out = model.generate(**enc, max_new_tokens=12, do_sample=False)
    text = tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    assert len(text.strip()) > 0 and any(c.isalpha() for c in text)


def test_cached_model_manifest_detects_corruption(tmp_path, monkeypatch):
    monkeypatch.setenv("LLMREC_HOME", str(tmp_path))
    first = models.fetch("tiny-random-llama")
    assert assets.verify(first, full=True) == []
    weights = next(first.glob("*.safetensors"))
    mtime_before = (first / assets.MANIFEST).stat().st_mtime
    assert models.fetch("tiny-random-llama") == first  # no-op when intact
    assert (first / assets.MANIFEST).stat().st_mtime == mtime_before
    weights.write_bytes(weights.read_bytes()[:100])  # a partial file
    assert assets.verify(first)  # detected
    rebuilt = Path(models.resolve_model("tiny-random-llama"))
    assert assets.verify(rebuilt, full=True) == []


def test_unknown_alias_lists_known(monkeypatch, tmp_path):
    with pytest.raises(ValueError, match="known aliases"):
        models.fetch("no-such-model")
    # A hub id passes through when the hub cache has it, and fails at once offline when not.
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(models.ModelNotFoundError, match="not in the hub cache"):
        models.resolve_model("HuggingFaceTB/SmolLM2-135M")
    (tmp_path / "models--HuggingFaceTB--SmolLM2-135M" / "snapshots" / "0").mkdir(parents=True)
    assert models.resolve_model("HuggingFaceTB/SmolLM2-135M") == "HuggingFaceTB/SmolLM2-135M"
