"""Suites end to end: config validation, results.json, reports, the ``llmrec eval`` command."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.evaluation import load_suite, run_suite
from llmrec.evaluation.recommenders import MostPopular

CONFIG = {
    "name": "tiny",
    "metrics": ["hr@10", "ndcg@10", "mrr", "auc", "coverage@10", "arp@10", "long_tail@10"],
    "curves": {"metrics": ["hr"], "ks": [1, 5, 10]},
    "statistics": {"n_resamples": 200, "baseline": "most_popular"},
    "recommenders": [
        {"type": "random"},
        {"type": "most_popular"},
        {"type": "ease", "params": {"l2": 50.0}},
    ],
}


@pytest.fixture(scope="module")
def suite_run(tiny_world, tmp_path_factory):
    out = tmp_path_factory.mktemp("suite")
    extra = {"popular_again": MostPopular()}
    return run_suite(CONFIG, out_dir=out, dataset=tiny_world.dataset, recommenders=extra), out


def test_results_json(suite_run):
    run, out = suite_run
    res = json.loads((out / "results.json").read_text())
    assert list(res["systems"]) == ["random", "most_popular", "ease", "popular_again"]
    ease = res["systems"]["ease"]["metrics"]["ndcg@10"]
    assert ease["low"] <= ease["value"] <= ease["high"]
    assert ease["value"] == pytest.approx(run.systems["ease"].per_user["ndcg@10"].mean())
    assert res["systems"]["ease"]["metrics"]["coverage@10"]["low"] is None  # catalogue-level
    assert res["protocol"]["protocol"] == "full" and res["protocol"]["tie"] == "pessimistic"
    assert set(res["systems"]["ease"]["curves"]["hr"]) == {"1", "5", "10"}
    assert res["n_users"] == len(run.systems["ease"].users)
    # The structured world is learnable: EASE beats random and most-popular on this data.
    hr = {n: s["metrics"]["hr@10"]["value"] for n, s in res["systems"].items()}
    assert hr["ease"] > hr["random"]
    # An identical system gives identical per-user values, hence no difference in the tests.
    same = [t for t in res["tests"] if t["system"] == "popular_again"]
    assert all(t["mean_diff"] == 0 and t["p_value"] == 1.0 for t in same)
    assert all(0 <= t["p_holm"] <= 1 for t in res["tests"])


def test_reports_embed_plots(suite_run):
    _, out = suite_run
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2  # metric curves and popularity bias
    md = (out / "report.md").read_text()
    assert "| ease |" in md and "![metric_curves](metric_curves.png)" in md
    assert (out / "metric_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_sampled_protocol_reports_config_and_correction(tiny_world):
    cfg = dict(CONFIG, metrics=["hr@10", "ndcg@10"], curves=None)
    cfg["protocol"] = {"kind": "sampled", "n_negatives": 20, "sampler": "popularity", "seed": 1}
    res = run_suite(cfg, dataset=tiny_world.dataset).results
    assert res["protocol"]["n_negatives"] == 20 and res["protocol"]["sampler"] == "popularity"
    for system in res["systems"].values():
        raw, corrected = system["metrics"]["hr@10"]["value"], system["corrected"]["hr@10"]["value"]
        assert corrected < raw  # sampled HR@10 over 21 candidates overstates the full value


def test_config_errors_name_file_and_field(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("recommenders: [{type: ease}]\nprotocol: {kind: full, tie: sometimes}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: protocol.tie"):
        load_suite(path)
    path.write_text("recommenders: [{type: ease}]\nmetrics: [ndcg@ten]\n")
    with pytest.raises(ValueError, match=r"bad.yaml: metrics"):
        load_suite(path)
    path.write_text("recommenders: [{type: ease}]\nsurprise: 1\n")
    with pytest.raises(ValueError, match=r"surprise"):
        load_suite(path)


def test_cli_eval_on_ml100k(tmp_path, capsys):
    from llmrec.cli.main import main

    suite = tmp_path / "s.yaml"
    suite.write_text(
        "name: cli\nmetrics: [hr@10, ndcg@10]\ncurves: null\n"
        "statistics: {n_resamples: 100, baseline: most_popular}\n"
        "recommenders: [{type: most_popular}, {type: ease}, {type: random}]\n"
    )
    code = main(["eval", "--suite", str(suite), "--out", str(tmp_path / "o"), "--only",
                 "most_popular", "ease", "--quiet"])  # fmt: skip
    assert code == 0
    res = json.loads((tmp_path / "o" / "results.json").read_text())
    assert list(res["systems"]) == ["most_popular", "ease"]
    assert res["n_users"] == 943
    values = {n: s["metrics"]["hr@10"]["value"] for n, s in res["systems"].items()}
    assert values["most_popular"] == pytest.approx(0.0859, abs=5e-4)  # pinned by the data
    assert values["ease"] > values["most_popular"]
    assert "ease" in capsys.readouterr().out
    assert np.isfinite(res["history_arp"])


def test_temporal_split_many_heldout_items(tiny_world):
    cfg = dict(CONFIG, metrics=["recall@10", "ndcg@10", "map@10"], curves=None)
    cfg["split"] = {"strategy": "temporal", "params": {"test": 0.2, "valid": 0.0}}
    run = run_suite(cfg, dataset=tiny_world.dataset)
    res = run.results
    assert res["split"]["strategy"].startswith("temporal")
    ease = run.systems["ease"]
    assert len(ease.users) == res["n_users"] > 0
    assert 0 <= res["systems"]["ease"]["metrics"]["recall@10"]["value"] <= 1


def test_protocol_users_evaluates_exactly_those_users(tiny_world):
    dataset = tiny_world.dataset
    chosen = dataset.user_ids[3:9]
    config = {**CONFIG, "curves": None, "protocol": {"users": chosen}}
    config["statistics"] = {"n_resamples": 50, "baseline": "most_popular"}
    run = run_suite(config, dataset=dataset)
    ease = run.systems["ease"]
    index = {u: i for i, u in enumerate(dataset.user_ids)}
    assert sorted(ease.users.tolist()) == sorted(index[u] for u in chosen)
    with pytest.raises(ValueError, match="unknown users"):
        run_suite({**config, "protocol": {"users": ["no-such-user"]}}, dataset=dataset)
