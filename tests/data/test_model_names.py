"""Model names that resolve to nothing fail at once, saying what the name is not."""

from __future__ import annotations

import pytest

from llmrec.models import ALIASES, ModelNotFoundError, check_model_name, resolve_model


def test_unknown_name_fails_at_once_offline(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))

    def no_network(*args, **kwargs):
        raise AssertionError("offline, the hub must not be asked")

    monkeypatch.setattr("huggingface_hub.model_info", no_network)
    with pytest.raises(ModelNotFoundError) as info:
        resolve_model("nosuchmodel")
    message = str(info.value)
    assert "model 'nosuchmodel' resolves to nothing: not an alias" in message
    assert all(alias in message for alias in ALIASES)
    assert "not a local path" in message and f"not in the hub cache ({tmp_path})" in message
    assert "HF_HUB_OFFLINE is set" in message


def test_paths_and_malformed_ids_are_not_sent_to_the_hub(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the hub must not be asked")

    monkeypatch.setattr("huggingface_hub.model_info", no_network)
    with pytest.raises(ModelNotFoundError, match="not a valid Hugging Face hub id"):
        check_model_name("./models/mine")
    with pytest.raises(ModelNotFoundError, match="not a valid Hugging Face hub id"):
        check_model_name("no such model")


def test_one_hub_probe_when_online(monkeypatch, tmp_path):
    """Online, the hub is asked exactly once, with the probe timeout: no retries.

    The hub is replaced by a recorder that fails as an unreachable network does; tests never
    send traffic to the hub.
    """
    calls = []

    def unreachable(name, timeout=None, **kwargs):
        calls.append((name, timeout))
        raise ConnectionError("network unreachable")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.model_info", unreachable)
    with pytest.raises(ModelNotFoundError, match="the hub cannot be reached"):
        check_model_name("llmrec-tests/no-such-model-3f9a", probe_timeout=3.0)
    assert calls == [("llmrec-tests/no-such-model-3f9a", 3.0)]


def test_existing_paths_and_cached_hub_ids_pass(monkeypatch, tmp_path):
    check_model_name(str(tmp_path))  # a local folder: the loaders take it from here
    snapshot = tmp_path / "models--org--cached" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert resolve_model("org/cached") == "org/cached"


def test_cli_checks_the_model_before_loading_anything(monkeypatch, tmp_path, capsys):
    """``llmrec profile --model <typo>`` names the model, not the (also missing) data."""
    from llmrec.cli.main import main

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path))
    argv = ["profile", "--data", str(tmp_path / "no-such-data"), "--model", "nosuchmodel"]
    assert main(argv + ["--out", str(tmp_path / "p.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "model 'nosuchmodel' resolves to nothing: not an alias" in err
    assert "no-such-data" not in err
