"""Validity studies end to end: exact agreement for an oracle judge, no leakage, the CLI."""

from __future__ import annotations

import json
import re

import pytest

from llmrec.cli.main import main
from llmrec.judge.compare import load_rankings
from llmrec.judge.validate import (
    ValidationConfig,
    heldout_candidates,
    split_curves,
    validate_heldout,
    validate_synthetic,
)


@pytest.fixture(scope="module")
def world_split(synthetic_world):
    from llmrec.data import leave_one_out

    return synthetic_world, leave_one_out(synthetic_world.dataset)


def _oracle(world):
    """Scripted judge that knows the gold rating: profile text is 'user <id>'."""
    by_title = {it.title: it.item_id for it in world.dataset.items.values()}

    def pick(text, cands):
        user = re.search(r"<<<user (\S+)>>>", text).group(1)
        titles = re.findall(r"Title: <<<(.*?)>>>", text)
        ratings = [world.gold_rating(user, by_title[t]) for t in titles]
        if cands == ("1", "2"):  # pairwise: the higher gold rating; position 1 on a tie
            return "1" if ratings[0] >= ratings[1] else "2"
        return str(ratings[0])

    return pick


def test_an_oracle_judge_gets_perfect_agreement(scripted, world_split):
    world, split = world_split
    users = world.dataset.user_ids[:8]
    profiles = {u: f"user {u}" for u in users}
    cfg = ValidationConfig(users=8, candidates=5, views=("profile",), n_boot=50, calibrator=None)
    result = validate_synthetic(
        scripted(pick=_oracle(world)), world, split, profiles, cfg, users, include_gold=False
    )
    block = result["views"]["profile"]
    # the oracle puts 0.9 on the gold digit: E[s] = 0.9 g + 0.025 (15 - g), monotone in g
    assert block["spearman"]["value"] == pytest.approx(1.0)
    assert block["accuracy_exact"]["value"] == 1.0
    assert block["kappa_quadratic"]["value"] == pytest.approx(1.0)
    assert block["accuracy_relevant"]["value"] == 1.0
    assert block["pairwise"]["accuracy"]["value"] == 1.0
    assert block["pairwise"]["position_bias_rate"] == 0.0
    assert result["judgments_per_view"] == 40


def test_heldout_negatives_are_unseen_and_prompts_hold_no_test_item(scripted, ml100k_split):
    split = ml100k_split
    users = ["1", "2", "3"]
    cands = heldout_candidates(split, users, 4, seed=0)
    for u, pos, negs in cands:
        seen = {
            r.item_id for part in (split.train, split.valid, split.test) for r in part.history(u)
        }
        assert pos == split.test.history(u)[0].item_id
        assert len(set(negs)) == 4 and not set(negs) & seen
    backend = scripted(pick=lambda text, cands: cands[0])
    cfg = ValidationConfig(users=3, candidates=4, views=("history",), n_boot=20)
    result = validate_heldout(backend, split, None, cfg, users)
    # the history block of every prompt lists training items only
    for _, texts in backend.calls:
        for text in texts:
            history = text.split("Items the user interacted with recently")[1].split("\n\n")[0]
            for u, pos, _ in cands:
                assert f"<<<{split.train.items[pos].title}>>>" not in history or any(
                    r.item_id == pos for r in split.train.history(u)
                )
    block = result["views"]["history"]
    assert block["auc_pooled"]["value"] == 0.5  # a constant judge cannot separate
    assert block["pairwise"]["position_bias_rate"] == 1.0
    clean, panels = split_curves(result)
    assert "curves" not in clean["views"]["history"]["calibration"]
    json.dumps(clean, default=float)
    assert set(panels["history"]) == {"raw", "isotonic"}


def test_load_rankings_formats(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"user_id": 1, "items": [3, 1]}\n\n')
    (tmp_path / "b.json").write_text('{"1": {"3": 0.2, "1": 0.9}}')
    (tmp_path / "c.tsv").write_text("user_id\titem_id\trank\n1\t1\t2\n1\t3\t1\n")
    assert load_rankings(tmp_path / "a.jsonl") == {"1": ["3", "1"]}
    assert load_rankings(tmp_path / "b.json") == {"1": ["1", "3"]}
    assert load_rankings(tmp_path / "c.tsv") == {"1": ["3", "1"]}
    (tmp_path / "bad.jsonl").write_text('{"user_id": 1, "items": [1]}\n{"user": 2}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2: expected"):
        load_rankings(tmp_path / "bad.jsonl")


def test_cli_validate_and_compare_write_json_and_plot(tmp_path, capsys, tiny_llama_path):
    out = tmp_path / "out"
    common = ["--model", tiny_llama_path, "--views", "history", "--max-history", "3"]
    code = main(
        ["judge", "validate", "--data", "ml-100k", "--users", "4", "--candidates", "2",
         "--n-boot", "20", "--out", str(out), *common]
    )  # fmt: skip
    assert code == 0
    stem = "validate_ml-100k_heldout_logprob_popularity"
    result = json.loads((out / f"{stem}.json").read_text())
    assert result["users"] == 4 and result["judgments_per_view"] == 12
    assert result["config"]["negatives"] == "popularity" and "minilm" in result["baselines"]
    assert "auc_difference" in result["views"]["history"]["vs_best_baseline"]
    assert (out / f"{stem}_reliability.png").stat().st_size > 1000
    assert "AUC pooled" in capsys.readouterr().out
    # --exclude-users (e.g. an adapter's training users) keeps those users out of the sample.
    (tmp_path / "seen.json").write_text(json.dumps(result["user_ids"][:3]))
    code = main(
        ["judge", "validate", "--data", "ml-100k", "--users", "4", "--candidates", "2",
         "--n-boot", "20", "--out", str(tmp_path / "out2"), "--baselines", "popularity",
         "--exclude-users", str(tmp_path / "seen.json"), *common]
    )  # fmt: skip
    again = json.loads((tmp_path / "out2" / f"{stem}.json").read_text())
    assert code == 0 and again["excluded_users"] == 3 and len(again["user_ids"]) == 4
    assert not set(again["user_ids"]) & set(result["user_ids"][:3])
    (tmp_path / "a.json").write_text(json.dumps({"1": ["1", "2"], "2": ["3", "4"]}))
    (tmp_path / "b.json").write_text(json.dumps({"1": ["5", "6"], "2": ["3", "4"]}))
    code = main(
        ["judge", "compare", "--data", "ml-100k", "--a", str(tmp_path / "a.json"),
         "--b", str(tmp_path / "b.json"), "--k", "2", "--sees", "history", "--max-history", "3",
         "--model", tiny_llama_path, "--out", str(out)]
    )  # fmt: skip
    assert code == 0
    compared = json.loads((out / "compare.json").read_text())
    assert compared["users"] == 2 and compared["identical_lists"] == 1
    assert compared["wins_a"] + compared["wins_b"] + compared["ties"] == 2
    assert 0 <= compared["win_rate_a"]["low"] <= compared["win_rate_a"]["high"] <= 1
