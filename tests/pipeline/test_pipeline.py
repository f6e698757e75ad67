"""The end-to-end pipeline on a small synthetic world and the tiny model: every step runs,
a second run is served from the cache, a lost step result is recomputed alone, and the report
opens in a real headless Chromium with its images rendered and no broken links."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from llmrec.embeddings.encoder import CONFIG_NAME
from llmrec.pipeline import run_pipeline
from llmrec.pipeline.browser import check_page, find_chromium
from llmrec.pipeline.config import load_config

STEPS = ["data", "profiles", "evaluation", "rerank", "judge"]


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    subprocess.run(
        [sys.executable, "-m", "llmrec", "data", "synth", "--users", "60", "--items", "80"]
        + ["--mean-history", "12", "--seed", "0", "--out", str(out)],
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture(scope="module")
def tiny_encoder(minilm_path, tmp_path_factory):
    """A 2-layer random BERT (hidden 64) with MiniLM's tokenizer, saved as an encoder folder."""
    from llmrec.embeddings.train import random_sentence_transformer

    folder = tmp_path_factory.mktemp("tiny-encoder")
    random_sentence_transformer(minilm_path, layers=2, hidden=64, seed=0).save(str(folder))
    return str(folder)


@pytest.fixture(scope="module")
def config(world_dir, tiny_llama_path, tiny_encoder, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    return load_config(
        None,
        {
            "out": str(out),
            "data": {"name": str(world_dir)},
            "models": {"llm": tiny_llama_path, "encoder": tiny_encoder, "batch_size": 8},
            "profiles": {"users": 4, "max_new_tokens": 16, "show": 2},
            "evaluation": {
                "recommenders": ["random", "most_popular", "ease"],
                "metrics": ["hr@10", "ndcg@10", "coverage@10", "arp@10", "long_tail@10"],
                "ks": [1, 5, 10],
                "rerank_users": 4,
                "rerank_candidates": 3,
                "bootstrap": 50,
            },
            "judge": {"users": 4, "negatives": 2, "compare_users": 3, "compare_k": 3},
            "embeddings": {"enabled": False},
        },
    )


@pytest.fixture(scope="module")
def first_run(config):
    return run_pipeline(config)


def test_every_step_runs_and_the_report_is_written(first_run, config):
    assert list(first_run.records) == STEPS
    assert not any(r["cached"] for r in first_run.records.values())
    summary = json.loads(first_run.results_json.read_text())
    assert summary["config"]["profiles"]["users"] == 4
    profiles = summary["results"]["profiles"]
    assert len(profiles["users"]) == 4
    for fmt in ("free", "structured"):
        stats = profiles["formats"][fmt]
        assert stats["ok"] + stats["failed"] == 4  # failures are kept, never dropped
    evaluation = summary["results"]["evaluation"]["systems"]
    assert set(evaluation) == {"random", "most_popular", "ease"}
    rerank = summary["results"]["rerank"]
    assert rerank["n_users"] == 4  # exactly the profiled users
    assert set(rerank["systems"]) == {"ease", "llm_rerank_profile", "llm_rerank_history"}
    judge = summary["results"]["judge"]
    # The judge sees profiles where any were usable (the tiny model's often are not).
    expected = {"profile", "history"} if profiles["formats"]["free"]["ok"] else {"history"}
    assert set(judge["validation"]["views"]) == expected
    assert judge["comparison"]["users"] == 3
    html = first_run.report_html.read_text()
    for title in ("Dataset", "Profiles", "Recommenders under full ranking", "Judge", "Timings"):
        assert f">{title}</h2>" in html
    md = first_run.report_md.read_text()
    assert "## Profiles" in md and "report_files/" in md


def test_second_run_is_served_from_cache(first_run, config):
    again = run_pipeline(config)
    assert all(r["cached"] for r in again.records.values())
    for name in STEPS:
        assert again.records[name]["result"] == first_run.records[name]["result"]


def test_lost_step_result_is_recomputed_alone(first_run, config):
    (first_run.out / "steps" / "judge.json").unlink()
    again = run_pipeline(config)
    cached = {name: r["cached"] for name, r in again.records.items()}
    assert cached == {
        "data": True,
        "profiles": True,
        "evaluation": True,
        "rerank": True,
        "judge": False,
    }
    assert (
        again.records["judge"]["result"]["comparison"]["per_user"]
        == first_run.records["judge"]["result"]["comparison"]["per_user"]
    )


def test_changed_setting_reruns_dependent_steps_only(first_run, config, tmp_path):
    import dataclasses
    import shutil

    moved = tmp_path / "run"
    shutil.copytree(first_run.out, moved)
    judge = dataclasses.replace(config.judge, compare_k=2)
    changed = dataclasses.replace(config, out=str(moved), judge=judge)
    again = run_pipeline(changed)
    cached = {name: r["cached"] for name, r in again.records.items()}
    assert cached["judge"] is False and cached["profiles"] is True and cached["evaluation"] is True
    assert again.records["judge"]["result"]["comparison"]["k"] == 2


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)
def test_report_renders_in_headless_chromium(first_run):
    verdict = check_page(first_run.report_html)
    assert verdict["title"] == "llmrec report"
    assert verdict["images"] >= 2 and verdict["broken_images"] == []
    assert verdict["links"] >= 5 and verdict["broken_links"] == []
    assert verdict["tables"] >= 5 and verdict["text_chars"] > 1000
    assert verdict["too_wide"] == [] and verdict["page_width"] <= verdict["viewport_width"]


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)
def test_long_unbroken_profile_text_stays_inside_its_card(tmp_path):
    """A failed profile's raw text with no break opportunity must not widen the page."""
    from llmrec.pipeline.report import Doc, _profiles_section

    blob = "Comedy," * 600  # one 4200-character word, as a looping model writes it
    sample = {
        "user_id": "38",
        "attributes": {"age": 28},
        "history": [
            {"title": f"Film {k}", "year": 1995, "genres": ["Drama"], "rating": 4.0}
            for k in range(12)
        ],
        "structured": None,
        "structured_status": "failed",
        "structured_raw": blob,
        "free": blob,
        "free_status": "ok",
    }
    fmt = {"ok": 0, "failed": 1, "prompt": "p", "strategy": "s", "completion_tokens": 1}
    doc = Doc("llmrec report")
    _profiles_section(doc, {"users": ["38"], "formats": {"free": fmt}, "samples": [sample]})
    page = tmp_path / "report.html"
    page.write_text(doc.html(), encoding="utf-8")
    verdict = check_page(page)
    assert verdict["too_wide"] == [] and verdict["page_width"] <= verdict["viewport_width"]


@pytest.mark.skipif(
    find_chromium() is None, reason="Chromium not installed (apt-get install chromium)"
)
def test_wide_tables_fit_the_viewport(tmp_path):
    """The demo's judge table (7 columns of intervals) once ran past a 765-pixel viewport."""
    from llmrec.pipeline.report import Doc

    cell = "0.683 [0.578, 0.778]"
    doc = Doc("llmrec report")
    doc.table(
        ["judge sees", "AUC (pooled)", "AUC (per user)", "pairwise acc.", "ECE"]
        + ["ECE calibrated", "vs best baseline", "note"],
        [["baseline: genre_overlap"] + [cell] * 6 + ["x" * 120] for _ in range(5)],
    )
    page = tmp_path / "report.html"
    page.write_text(doc.html(), encoding="utf-8")
    verdict = check_page(page)
    assert verdict["too_wide"] == [] and verdict["page_width"] <= verdict["viewport_width"]


def test_config_errors_name_file_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("profiles:\n  userz: 3\n")
    with pytest.raises(ValueError, match=r"bad\.yaml: unknown key 'profiles\.userz'"):
        load_config(bad)
    bad.write_text("profiles:\n  users: many\n")
    with pytest.raises(ValueError, match=r"profiles\.users must be int"):
        load_config(bad)


def test_optional_sft_step_trains_on_the_pipelines_data(first_run, config, tmp_path):
    import dataclasses
    import shutil

    moved = tmp_path / "run"
    shutil.copytree(first_run.out, moved)
    sft = dataclasses.replace(
        config.sft, enabled=True, config="recipes/tiny-random/sft/config_tiny.yaml"
    )
    again = run_pipeline(dataclasses.replace(config, out=str(moved), sft=sft))
    assert again.records["sft"]["cached"] is False
    assert all(again.records[name]["cached"] for name in STEPS)  # nothing else reran
    result = again.records["sft"]["result"]
    assert result["train_examples"] == 16 and result["eval_users"] == 8
    for key in ("untuned_ndcg@5", "tuned_ndcg@5", "diff_ndcg@5"):
        assert 0.0 <= abs(result[key]) <= 1.0
    assert result["diff_ndcg@5"] == pytest.approx(
        result["tuned_ndcg@5"] - result["untuned_ndcg@5"], abs=1e-9
    )
    html = again.report_html.read_text()
    assert ">LoRA SFT</h2>" in html and "tuned_ndcg" not in html and "ndcg@5" in html


def test_embeddings_step_trains_on_the_pipelines_data(first_run, config, world_dir, tmp_path):
    """The demo's embeddings step (on by default) on the tiny encoder: the packaged residual
    recipe trains on the pipeline's dataset and users, then both encoders are evaluated."""
    import dataclasses
    import shutil

    from llmrec.embeddings.residual import is_residual

    moved = tmp_path / "run"
    shutil.copytree(first_run.out, moved)
    embeddings = dataclasses.replace(
        config.embeddings, enabled=True, train_users=12, eval_users=10, epochs=1, batch_size=8
    )
    again = run_pipeline(dataclasses.replace(config, out=str(moved), embeddings=embeddings))
    assert again.records["embeddings"]["cached"] is False
    assert all(again.records[name]["cached"] for name in STEPS)  # nothing else reran
    result = again.records["embeddings"]["result"]
    folder = moved / "embeddings" / "encoder"
    training = json.loads((folder / CONFIG_NAME).read_text())["training"]
    # The packaged residual recipe, on the pipeline's dataset and its number of users.
    assert training["dataset"] == str(world_dir) and training["users"] == 12
    assert is_residual(folder)
    losses = [row["loss"] for row in training["log_history"] if "loss" in row]
    assert losses and np.isfinite(losses).all()
    assert result["encoder"] == str(folder)
    assert result["config"]["trained"] == str(folder) and result["config"]["users"] == 10
    for method in ("base_no_instruction", "trained_instruction"):
        for stats in result["methods"][method].values():
            assert stats["low"] <= stats["value"] <= stats["high"]


def test_sft_config_that_does_not_exist_is_named(first_run, config, tmp_path):
    import dataclasses

    sft = dataclasses.replace(config.sft, enabled=True, config="recipes/nope.yaml")
    with pytest.raises(FileNotFoundError, match="recipes/nope.yaml"):
        run_pipeline(dataclasses.replace(config, out=str(tmp_path / "x"), sft=sft))


def test_trained_judge_adapter_is_validated_beside_the_zero_shot_judge(
    first_run, config, tiny_llama_path, tmp_path
):
    """`judge.adapter` adds the LoRA judge's rows on the same pairs and refuses trained users."""
    import dataclasses
    import shutil

    from peft import LoraConfig, get_peft_model

    from llmrec.models import load_causal_lm
    from llmrec.training.judge_data import TRAIN_USERS_FILE

    adapter = tmp_path / "adapter"
    base, _ = load_causal_lm(tiny_llama_path, device="cpu")
    lora = LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    get_peft_model(base, lora).save_pretrained(str(adapter))
    judged = first_run.records["judge"]["result"]["validation"]
    (adapter / TRAIN_USERS_FILE).write_text(json.dumps(["not-a-judged-user"]))

    moved = tmp_path / "run"
    shutil.copytree(first_run.out, moved)
    judge = dataclasses.replace(config.judge, adapter=str(adapter), adapter_max_history=3)
    again = run_pipeline(dataclasses.replace(config, out=str(moved), judge=judge))
    assert again.records["judge"]["cached"] is False
    validation = again.records["judge"]["result"]["validation"]
    assert set(validation["views"]) == set(judged["views"]) | {"history, trained"}
    assert validation["baselines"] == judged["baselines"]  # the same pairs
    trained = validation["views"]["history, trained"]
    assert trained["auc_per_user"]["low"] <= trained["auc_per_user"]["value"] <= 1.0
    assert trained["parse"] == validation["views"]["history"]["parse"]  # same number of pairs
    # The merged weights have their own fingerprint (no cached base-model reply is reused).
    assert trained["judge"]["backend"] != validation["views"]["history"]["judge"]["backend"]
    html = again.report_html.read_text()
    assert "history, trained" in html and "judge.adapter" in html

    users = first_run.records["profiles"]["result"]["users"][: config.judge.users]
    (adapter / TRAIN_USERS_FILE).write_text(json.dumps(users[:1]))
    with pytest.raises(ValueError, match="trained on 1 of the validation users"):
        run_pipeline(dataclasses.replace(config, out=str(tmp_path / "again"), judge=judge))
