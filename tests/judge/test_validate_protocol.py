"""Validity protocol: matched negatives, non-LLM baselines, paired differences, trained judge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.data.sampling import popularity_bins
from llmrec.data.splits import leave_one_out, ratio_split
from llmrec.judge.baselines import baseline_scores, genre_overlap_scores, item_mean_scores
from llmrec.judge.validate import (
    ValidationConfig,
    heldout_candidates,
    rated_candidates,
    validate_heldout,
    versus_best,
)


@pytest.fixture(scope="module")
def world_split(synthetic_world):
    return leave_one_out(synthetic_world.dataset)


def test_popularity_matched_negatives_keep_the_positives_decile(world_split):
    users = world_split.test.interactions["user_id"].unique().tolist()[:60]
    cands = heldout_candidates(world_split, users, 5, seed=0, strategy="popularity")
    bins = popularity_bins(world_split.train)
    index = world_split.train.item_index
    same = [bins[index[n]] == bins[index[pos]] for _, pos, negs in cands for n in negs]
    assert len(same) == 300 and all(same)
    for u, pos, negs in cands:
        parts = (world_split.train, world_split.valid, world_split.test)
        seen = {r.item_id for part in parts for r in part.history(u)}
        assert pos not in negs and not seen & set(negs) and len(set(negs)) == 5


def test_uniform_negatives_are_an_option_and_spread_over_deciles(world_split):
    users = world_split.test.interactions["user_id"].unique().tolist()[:60]
    cands = heldout_candidates(world_split, users, 5, seed=0, strategy="uniform")
    bins = popularity_bins(world_split.train)
    index = world_split.train.item_index
    assert len({bins[index[n]] for _, _, negs in cands for n in negs}) >= 8
    with pytest.raises(ValueError, match="negatives must be one of"):
        heldout_candidates(world_split, users, 5, seed=0, strategy="popular")


def _tiny():
    items = [
        Item("a", "A", genres=("Comedy",)),
        Item("b", "B", genres=("Drama",)),
        Item("c", "C", genres=("Horror",)),
    ]
    rows = [
        Interaction("u1", "a", 1.0, 5.0),
        Interaction("u1", "a", 2.0, 4.0),
        Interaction("u1", "c", 3.0, 1.0),
        Interaction("u1", "c", 4.0, 2.0),
        Interaction("u2", "b", 1.0, 3.0),
    ]
    return InteractionDataset(items, rows, name="tiny")


def test_baselines_match_their_closed_forms():
    train = _tiny()
    pairs = [("u1", train.items[i]) for i in "abc"]
    scores = baseline_scores(train, pairs, ["popularity", "item_mean"])
    assert scores["popularity"].tolist() == [2.0, 1.0, 2.0]
    glob = 15.0 / 5
    expected = [(9 + 5 * glob) / 7, (3 + 5 * glob) / 6, (3 + 5 * glob) / 7]
    np.testing.assert_allclose(item_mean_scores(train, [p[1] for p in pairs]), expected)
    # u1 likes Comedy (2 items rated 4-5) and dislikes Horror (mean 1.5 over 2 ratings);
    # the history share of items sharing a genre breaks ties: 2/4 for a, 0 for b, 2/4 for c.
    overlap = genre_overlap_scores(train, pairs)
    np.testing.assert_allclose(overlap, [1 + 0.99 * 0.5, 0.0, -1 + 0.99 * 0.5])
    with pytest.raises(ValueError, match="unknown baselines"):
        baseline_scores(train, pairs, ["popularty"])


def test_versus_best_is_the_paired_difference_to_the_best_baseline():
    judge = np.array([1.0, 0.5, 0.75, np.nan])
    base = {"popularity": np.array([0.5, 0.5, 0.5, 0.5]), "minilm": np.array([1.0, 0.0, 0.5, 1.0])}
    out = versus_best(judge, base, n_boot=200, seed=0)
    assert out["best_baseline"] == "minilm"  # mean 0.625 > 0.5
    assert out["users"] == 3
    assert out["auc_difference"]["value"] == pytest.approx(np.mean([0.0, 0.5, 0.25]))


def test_rated_candidates_pair_liked_with_disliked_held_out_items(ml100k):
    split = ratio_split(ml100k, test=0.2)
    users = split.test.interactions["user_id"].unique().tolist()[:40]
    cands = rated_candidates(split, users, per_class=3, seed=0)
    held = split.test.interactions.set_index(["user_id", "item_id"])["rating"]
    assert cands
    for u, iids, labels in cands:
        ratings = [held[(u, i)] for i in iids]
        assert all((r >= 4) == bool(y) and (r <= 2) == (not y) for r, y in zip(ratings, labels))
        assert 1 in labels and 0 in labels and len(iids) <= 6


def test_heldout_table_puts_baselines_and_judge_on_the_same_pairs(world_split, scripted):
    backend = scripted(pick=lambda text, cands: "5")
    cfg = ValidationConfig(
        users=12,
        candidates=3,
        views=("history",),
        pairwise=False,
        calibrator=None,
        baselines=("popularity", "genre_overlap"),
        n_boot=50,
    )
    result = validate_heldout(backend, world_split, None, cfg)
    assert set(result["baselines"]) == {"popularity", "genre_overlap"}
    block = result["views"]["history"]
    # a judge that answers "5" to everything ties every pair: AUC exactly 0.5 for every user
    assert block["auc_per_user"]["value"] == 0.5
    assert block["vs_best_baseline"]["best_baseline"] in {"popularity", "genre_overlap"}
    assert result["judgments_per_view"] == 12 * 4


@pytest.mark.slow
def test_trained_judge_end_to_end_on_the_tiny_model(tmp_path, tiny_llama_path, ml100k):
    """Recipe -> adapter -> `judge validate --adapter` on disjoint users; weights really moved."""
    from llmrec.backends.adapter import adapter_backend
    from llmrec.context.view import UserContext
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.training.judge_data import TRAIN_USERS_FILE, check_disjoint
    from tests.training.conftest import ROOT, load_recipe

    module = load_recipe("judge")
    out = tmp_path / "adapter"
    argv = ["--config", str(ROOT / "recipes/tiny-random/judge/config_tiny.yaml")]
    argv += ["--output_dir", str(out), "--max_steps", "2"]
    result = module.main(*module.make_parser().parse_args_and_config(argv))
    summary = result["summary"]
    assert summary["train_examples"] == 12 and summary["excluded_users"] >= 20
    trained = json.loads((out / TRAIN_USERS_FILE).read_text())
    split = leave_one_out(ml100k)
    from llmrec.judge.validate import sample_users

    eligible = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    reserved = sample_users(eligible, 20, 0)
    assert not set(trained) & set(reserved)
    with pytest.raises(ValueError, match="trained on"):
        check_disjoint(str(out), trained[:2])
    check_disjoint(str(out), reserved[:4])

    tuned = adapter_backend(tiny_llama_path, str(out), batch_size=8)
    from llmrec.backends import load_backend

    base = load_backend(tiny_llama_path, batch_size=8)
    ctx = UserContext(history=split.train, max_history=3)
    pairs = [(u, split.train.items[split.train.item_ids[k]]) for k, u in enumerate(reserved[:4])]
    before = PointwiseJudge(base, ctx, sees="history").scores(pairs)
    after = PointwiseJudge(tuned, ctx, sees="history").scores(pairs)
    assert not np.allclose(before, after)
    cfg = ValidationConfig(
        users=4, candidates=2, views=("history",), pairwise=False, calibrator=None,
        baselines=("popularity",), max_history=3, n_boot=20,
    )  # fmt: skip
    report = validate_heldout(tuned, split, None, cfg, reserved[:4])
    assert (
        report["users"] == 4 and "auc_difference" in report["views"]["history"]["vs_best_baseline"]
    )
