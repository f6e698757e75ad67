"""SFT recipe: data builders leak nothing, scoring matches a plain forward pass, training trains."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from llmrec.context.items import item_title
from llmrec.metrics.ranking import hit_rate, ndcg
from llmrec.training.data import sample_train_eval_users
from llmrec.training.runtime import check_device
from llmrec.training.sft.next_item import (
    next_item_cases,
    next_item_examples,
    pessimistic_ranks,
)
from llmrec.training.sft.tallrec import tallrec_eval_examples, tallrec_examples

TINY_SFT = "recipes/tiny-random/sft/config_tiny.yaml"


@pytest.fixture(scope="module")
def loo(ml100k):
    from llmrec.data import leave_one_out

    return leave_one_out(ml100k, validation=False)


@pytest.fixture(scope="module")
def tiny(tiny_llama_path):
    from llmrec.models import load_causal_lm

    return load_causal_lm(tiny_llama_path, device="cpu")


def test_sample_users_are_disjoint_and_evaluable(loo):
    train_users, eval_users = sample_train_eval_users(loo, 50, 30, seed=3)
    assert len(train_users) == 50 and len(eval_users) == 30
    assert not set(train_users) & set(eval_users)
    assert set(eval_users) <= set(loo.test.interactions["user_id"])
    assert sample_train_eval_users(loo, 50, 30, seed=3) == (train_users, eval_users)


def test_next_item_examples_come_from_training_history_only(loo):
    uid = "1"
    ds = next_item_examples(loo.train, [uid], history_len=3, targets_per_user=2)
    train_items = [r.item_id for r in loo.train.history(uid)]
    assert ds["item_id"] == train_items[-2:]
    last = ds[1]
    assert last["completion"] == [
        {"role": "assistant", "content": item_title(loo.train.items[train_items[-1]])}
    ]
    prompt_text = last["prompt"][-1]["content"]
    for iid in train_items[-4:-1]:
        assert item_title(loo.train.items[iid]) in prompt_text
    test_item = loo.test.interactions.query("user_id == @uid")["item_id"].item()
    assert item_title(loo.train.items[test_item]) not in prompt_text


def test_next_item_cases_hold_the_test_item_among_unseen_negatives(loo):
    users = ["1", "2", "3"]
    cases = next_item_cases(loo, users, history_len=5, n_negatives=19, seed=0)
    test = loo.test.interactions.set_index("user_id")["item_id"]
    for case in cases:
        assert len(case.candidates) == 20 and len(set(case.candidates)) == 20
        assert case.candidates[case.target] == test[case.user_id]
        seen = {r.item_id for r in loo.train.history(case.user_id)}
        assert not seen & set(case.candidates)
    again = next_item_cases(loo, users, history_len=5, n_negatives=19, seed=0)
    assert [c.candidates for c in again] == [c.candidates for c in cases]


def test_pessimistic_ranks_and_metrics_closed_form():
    scores = [np.array([0.5, 0.9, 0.5, 0.1]), np.array([3.0, 1.0, 2.0]), np.array([1.0, 1.0])]
    ranks = pessimistic_ranks(scores, [0, 0, 1])
    # target 0.5 ties another 0.5 and trails 0.9: rank 3; clear winner: 1; a tie of two: 2.
    assert ranks.tolist() == [3, 1, 2]
    assert hit_rate(ranks, 2).tolist() == [0.0, 1.0, 1.0]
    assert np.allclose(ndcg(ranks, 2), [0.0, 1.0, 1.0 / np.log2(3.0)])


def test_tallrec_rating_labels_and_prompt(loo):
    uid = "7"
    ds = tallrec_examples(loo.train, [uid], history_len=6, targets_per_user=3, label="rating")
    events = loo.train.history(uid)
    for row, event, pos in zip(ds, events[-3:], range(len(events) - 3, len(events))):
        assert row["label"] == int(event.rating >= 4)
        assert row["completion"][0]["content"] == ("Yes" if event.rating >= 4 else "No")
        text = row["prompt"][-1]["content"]
        liked_part, disliked_part = text.split("Items the user disliked:")
        for past in events[pos - 6 : pos]:
            title = item_title(loo.train.items[past.item_id])
            assert title in (liked_part if past.rating >= 4 else disliked_part)


def test_tallrec_sampled_negatives_are_unseen_and_balanced(loo):
    users = ["1", "2", "5"]
    ds = tallrec_examples(loo.train, users, label="sampled_negative", seed=1)
    assert ds["label"] == [1, 0] * 3
    for row in ds:
        if row["label"] == 0:
            seen = {r.item_id for r in loo.train.history(row["user_id"])}
            assert row["item_id"] not in seen
    chats, labels = tallrec_eval_examples(loo, users, label="rating")
    test = loo.test.interactions.set_index("user_id")["rating"]
    assert labels.tolist() == [int(test[u] >= 4) for u in users]
    assert len(chats) == 3


def _adapter(output_dir):
    from safetensors.torch import load_file

    return load_file(str(output_dir / "adapter_model.safetensors"))


def _assert_trained(result, output_dir):
    from llmrec.training.runtime import losses

    weights = _adapter(output_dir)
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)  # lora_B starts at exactly zero
    loss = losses(result["log_history"])
    assert np.mean(loss[-3:]) < np.mean(loss[:3])


def test_sft_recipe_next_item_trains_and_evaluates(run_recipe, tmp_path):
    result = run_recipe("sft", TINY_SFT, "--output_dir", str(tmp_path))
    _assert_trained(result, tmp_path)
    saved = json.loads((tmp_path / "eval_metrics.json").read_text())
    assert saved == pytest.approx(result["metrics"])
    assert saved["world_size"] == 1 and saved["eval_users"] == 8
    for run in ("tuned", "untuned"):
        assert 0.0 <= saved[f"{run}_ndcg@5"] <= saved[f"{run}_hr@5"] <= 1.0
        assert saved[f"{run}_ndcg@5_ci_low"] <= saved[f"{run}_ndcg@5"]
        assert saved[f"{run}_ndcg@5"] <= saved[f"{run}_ndcg@5_ci_high"]
    # Re-evaluating the saved adapter gives the recipe's own numbers.
    from llmrec.training.sft.eval_run import main as sft_eval
    from tests.training.conftest import ROOT

    again = sft_eval(["--config", str(ROOT / TINY_SFT), "--output_dir", str(tmp_path)])
    for key in ("tuned_ndcg@5", "untuned_ndcg@5", "tuned_hr@5"):
        assert again[key] == pytest.approx(saved[key], abs=1e-9)


def test_sft_recipe_tallrec_trains_and_reports_auc(run_recipe, tmp_path):
    result = run_recipe(
        "sft",
        TINY_SFT,
        "--output_dir",
        str(tmp_path),
        "--task",
        "tallrec",
        "--label",
        "sampled_negative",
        "--max_steps",
        "15",
    )
    _assert_trained(result, tmp_path)
    metrics = result["metrics"]
    assert 0.0 <= metrics["tuned_auc"] <= 1.0 and 0.0 <= metrics["untuned_auc"] <= 1.0
    # The task is learnable: after training the answer token is Yes or No, nothing else.
    assert result["log_history"][-2]["mean_token_accuracy"] > 0.4


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU refusal")
@pytest.mark.parametrize("method", ["sft", "dpo"])
@pytest.mark.parametrize("variant", ["qlora", "bf16"])
def test_gpu_configs_refuse_cpu_with_the_field_named(method, variant):
    from llmrec.training.runtime import parse_recipe_args
    from tests.training.conftest import ROOT, load_recipe

    parser = load_recipe(method).make_parser()
    config = str(ROOT / "recipes" / "smollm2" / method / f"config_{variant}.yaml")
    with pytest.raises(
        RuntimeError, match=rf"config_{variant}.yaml needs a CUDA GPU \(bf16: true\)"
    ):
        parse_recipe_args(parser, ["--config", config, "--output_dir", "/tmp/unused"])
    # With bf16 switched off the recipe's own check still names what needs the GPU.
    script_args, training_args, model_args = parse_recipe_args(
        parser, ["--config", config, "--output_dir", "/tmp/unused", "--bf16", "false"]
    )
    field = "load_in_4bit" if variant == "qlora" else "require_gpu"
    with pytest.raises(RuntimeError, match=f"{field}: true"):
        check_device(training_args, model_args, script_args.require_gpu)


def test_unknown_yaml_key_fails(tmp_path):
    from tests.training.conftest import load_recipe

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "model_name_or_path: tiny-random-llama\nuse_cpu: true\nbf16: false\nhistroy_len: 3\n"
    )
    with pytest.raises(ValueError, match="histroy_len"):
        load_recipe("sft").make_parser().parse_args_and_config(
            ["--config", str(bad), "--output_dir", str(tmp_path)]
        )


@pytest.mark.slow
def test_sft_recipe_on_smollm2_learns_the_answer_format(run_recipe, tmp_path, smollm2_path):
    """A few LoRA steps on the real model: the title loss falls and the adapter is saved."""
    result = run_recipe(
        "sft",
        "recipes/smollm2/sft/config_lora_cpu.yaml",
        "--output_dir",
        str(tmp_path),
        "--train_users",
        "32",
        "--eval_users",
        "10",
        "--n_negatives",
        "9",
        "--max_steps",
        "8",
        "--per_device_train_batch_size",
        "4",
        "--gradient_accumulation_steps",
        "1",
        "--logging_steps",
        "1",
    )
    _assert_trained(result, tmp_path)
    assert result["metrics"]["eval_users"] == 10
