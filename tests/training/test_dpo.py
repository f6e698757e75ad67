"""DPO recipe: LettinGo's split, scoring and pairing rules, and a tiny run that trains."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.metrics.stats import roc_auc
from llmrec.training.dpo.lettingo import (
    heldout_tasks,
    long_recent_split,
    profile_builder,
    score_profiles,
    training_tasks,
)
from llmrec.training.dpo.pairs import build_dpo_pairs

TINY_DPO = "recipes/tiny-random/dpo/config_tiny.yaml"
CHAT = [{"role": "user", "content": "Profile this user."}]


@pytest.fixture(scope="module")
def loo(ml100k):
    from llmrec.data import leave_one_out

    return leave_one_out(ml100k, validation=False)


def test_best_vs_worst_pairs_the_extremes_above_the_margin():
    prompts = [CHAT, CHAT, CHAT]
    profiles = [["a", "b", "c"], ["d", "e"], ["f", "g"]]
    scores = [[0.9, 0.1, 0.5], [0.5, 0.5], [0.2, 0.6]]
    ds = build_dpo_pairs(prompts, profiles, scores, "best_vs_worst", margin=0.3)
    # group 1 ties (no pair); group 2's gap 0.4 > 0.3 keeps g over f.
    assert ds["group"] == [0, 2]
    assert [r["chosen"][0]["content"] for r in ds] == ["a", "g"]
    assert [r["rejected"][0]["content"] for r in ds] == ["b", "f"]
    assert ds[0]["prompt"] == CHAT
    assert ds["score_chosen"] == [0.9, 0.6] and ds["score_rejected"] == [0.1, 0.2]


def test_all_pairs_margin_counts_every_ordered_pair_above_the_margin():
    scores = [[0.9, 0.1, 0.5]]
    pairs = build_dpo_pairs([CHAT], [["a", "b", "c"]], scores, "all_pairs_margin", margin=0.3)
    got = {(r["chosen"][0]["content"], r["rejected"][0]["content"]) for r in pairs}
    assert got == {("a", "b"), ("a", "c"), ("c", "b")}  # gaps 0.8, 0.4, 0.4
    strict = build_dpo_pairs([CHAT], [["a", "b", "c"]], scores, "all_pairs_margin", margin=0.5)
    assert len(strict) == 1
    same_text = build_dpo_pairs([CHAT], [["a", "a"]], [[1.0, 0.0]], "all_pairs_margin")
    assert len(same_text) == 0


def test_build_dpo_pairs_rejects_bad_arguments():
    with pytest.raises(ValueError, match="strategy must be one of"):
        build_dpo_pairs([CHAT], [["a", "b"]], [[1, 0]], strategy="best")
    with pytest.raises(ValueError, match="margin must be >= 0"):
        build_dpo_pairs([CHAT], [["a", "b"]], [[1, 0]], margin=-1)
    with pytest.raises(ValueError, match="prompt 0: 2 profiles but 3 scores"):
        build_dpo_pairs([CHAT], [["a", "b"]], [[1, 0, 2]])


def test_profile_auc_closed_form_with_ties():
    # One positive at 0.9 against 0.1, 0.5 and a tie at 0.9: (1 + 1 + 0.5) / 3.
    assert roc_auc([1, 0, 0, 0], [0.9, 0.1, 0.5, 0.9]) == pytest.approx(2.5 / 3)
    assert roc_auc([1, 1, 0], [0.2, 0.8, 0.5]) == pytest.approx(0.5)


def test_training_tasks_hold_the_recent_items_out_of_the_prompt(loo):
    uid = "1"
    builder = profile_builder(None, history_len=5)
    (task,) = training_tasks(builder, loo.train, [uid], recent_k=3, n_negatives=4)
    history = loo.train.history(uid)
    long_part, recent = long_recent_split(history, 3)
    assert task.positives == tuple(r.item_id for r in history[-3:])
    assert len(long_part) == len(history) - 3 and recent == history[-3:]
    text = task.prompt[-1]["content"]
    for r in recent:
        assert loo.train.items[r.item_id].title not in text
    assert loo.train.items[long_part[-1].item_id].title in text
    seen = {r.item_id for r in history}
    assert len(task.negatives) == 4 and not seen & set(task.negatives)


def test_heldout_tasks_judge_on_the_test_item(loo):
    tasks = heldout_tasks(profile_builder(None, 5), loo, ["2", "3"], n_negatives=3, seed=0)
    test = loo.test.interactions.set_index("user_id")["item_id"]
    assert [t.positives for t in tasks] == [(test["2"],), (test["3"],)]


def test_score_profiles_is_the_auc_of_the_scorer_yes_probability(loo, tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend
    from llmrec.context.items import item_title
    from llmrec.prompts import render_chat

    scorer = TransformersBackend(tiny_llama_path, device="cpu", batch_size=8)
    tasks = training_tasks(
        profile_builder(scorer), loo.train, ["1", "2"], recent_k=2, n_negatives=3
    )
    profiles = [["likes drama", "likes comedy"], ["no idea", "sci-fi fan"]]
    scores = score_profiles(scorer, loo.train, tasks, profiles)
    assert scores.shape == (2, 2)
    task, text = tasks[1], profiles[1][1]
    items = [*task.positives, *task.negatives]
    chats = [
        render_chat(
            "training/profile_yes_no", profile=text, candidate=item_title(loo.train.items[i])
        )
        for i in items
    ]
    logp = scorer.next_token_logprobs(chats, ["Yes", "No"])
    p_yes = np.exp(logp[:, 0]) / np.exp(logp).sum(axis=1)
    assert scores[1, 1] == pytest.approx(
        roc_auc(np.arange(len(items)) < len(task.positives), p_yes), abs=1e-6
    )


def test_shared_prefix_scoring_equals_the_plain_pass_in_any_chunking(loo, tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    scorer = TransformersBackend(tiny_llama_path, device="cpu", batch_size=8)
    tasks = training_tasks(
        profile_builder(scorer), loo.train, ["1", "2", "5"], recent_k=2, n_negatives=4
    )
    profiles = [["likes drama", "likes comedy"], ["no idea", "sci-fi fan"], ["war films", "x"]]
    plain = score_profiles(scorer, loo.train, tasks, profiles, share_prefix=False)
    shared = score_profiles(scorer, loo.train, tasks, profiles, share_prefix=True)
    chunked = score_profiles(scorer, loo.train, tasks, profiles, chunk_tasks=2)
    np.testing.assert_allclose(shared, plain, atol=1e-6)
    np.testing.assert_allclose(chunked, plain, atol=1e-6)
    # the shared path runs fewer prompt tokens than the plain one
    before = scorer.usage.prompt_tokens
    score_profiles(scorer, loo.train, tasks, profiles, share_prefix=True)
    shared_tokens = scorer.usage.prompt_tokens - before
    score_profiles(scorer, loo.train, tasks, profiles, share_prefix=False)
    plain_tokens = scorer.usage.prompt_tokens - before - shared_tokens
    assert shared_tokens < plain_tokens / 2


def test_seeded_profile_sampling_does_not_depend_on_chunking(loo, tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend
    from llmrec.training.dpo.lettingo import sample_profiles

    generator = TransformersBackend(tiny_llama_path, device="cpu", batch_size=4)
    builder = profile_builder(generator, history_len=3)
    tasks = training_tasks(builder, loo.train, ["1", "2", "5"], recent_k=2)
    whole = sample_profiles(generator, tasks, n=3, max_new_tokens=6, seed=7)
    chunked = sample_profiles(generator, tasks, n=3, max_new_tokens=6, seed=7, chunk_tasks=1)
    assert whole == chunked
    assert len(whole) == 3 and all(len(p) == 3 for p in whole)
    assert len({p for ps in whole for p in ps}) > 1  # sampled, not one repeated text
    greedy = sample_profiles(generator, tasks, n=3, temperature=0.0, max_new_tokens=6)
    assert all(len(set(p)) == 1 for p in greedy)


def test_dpo_recipe_trains_and_reports_before_after(run_recipe, tmp_path):
    from safetensors.torch import load_file

    from llmrec.training.runtime import losses

    result = run_recipe("dpo", TINY_DPO, "--output_dir", str(tmp_path), "--eval_negatives", "5")
    weights = load_file(str(tmp_path / "adapter_model.safetensors"))
    lora_b = [v for k, v in weights.items() if "lora_B" in k]
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b)
    loss = losses(result["log_history"])
    assert loss[0] == pytest.approx(np.log(2), abs=1e-3)  # policy == reference at step 0
    assert np.mean(loss[-3:]) < np.mean(loss[:3])
    metrics = result["metrics"]
    assert metrics["pairs"] > 0
    for name in ("before_auc", "after_auc"):
        assert metrics[f"{name}_ci_low"] <= metrics[name] <= metrics[f"{name}_ci_high"]
    assert metrics["diff_auc"] == pytest.approx(metrics["after_auc"] - metrics["before_auc"])
    assert set(metrics["seconds"]) >= {"sample", "score", "eval_before", "train", "eval_after"}
    assert metrics["settings"]["script"]["eval_negatives"] == 5
    assert 0.0 <= metrics["eval_profiles_changed"] <= 1.0
    rows = [
        json.loads(line) for line in (tmp_path / "eval_profiles.jsonl").read_text().splitlines()
    ]
    assert len(rows) == metrics["eval_users"] == 6
    # with 1 positive and 5 negatives a user's AUC is a multiple of 1/5
    aucs = np.array([r["before_auc"] for r in rows] + [r["after_auc"] for r in rows])
    np.testing.assert_allclose(aucs * 5, np.round(aucs * 5), atol=1e-9)
    assert np.mean([r["before_auc"] for r in rows]) == pytest.approx(metrics["before_auc"])
    pairs = (tmp_path / "train_pairs.jsonl").read_text().splitlines()
    assert len(pairs) == metrics["pairs"]


def test_smollm2_cpu_config_parses_with_the_measured_settings(tmp_path):
    from tests.training.conftest import ROOT, load_recipe

    config = ROOT / "recipes/smollm2/dpo/config_lora_cpu.yaml"
    script, training, model = (
        load_recipe("dpo")
        .make_parser()
        .parse_args_and_config(["--config", str(config), "--output_dir", str(tmp_path)])
    )
    assert (script.temperature, script.top_p, script.eval_negatives) == (0.7, 0.9, 19)
    assert script.share_prefix and training.use_cpu and not training.bf16
    assert model.use_peft and model.lora_r == 16
