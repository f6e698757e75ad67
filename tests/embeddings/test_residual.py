"""The residual user model: history mean at initialisation, frozen tower, its loss."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from llmrec.embeddings.encoder import UserEncoder, history_mean
from llmrec.embeddings.losses import ResidualContrastiveLoss
from llmrec.embeddings.residual import ResidualHead, ResidualUserModel
from llmrec.embeddings.train import user_partition
from llmrec.embeddings.userqa import question


@pytest.fixture(scope="module")
def untrained(tiny_st):
    encoder = UserEncoder(copy.deepcopy(tiny_st), sources=("facts", "history"))
    tower = UserEncoder(copy.deepcopy(tiny_st), sources=("history",))
    return ResidualUserModel(encoder, tower, ResidualHead(encoder.dim))


def test_untrained_residual_model_is_the_history_mean(untrained, ml100k_split):
    train = ml100k_split.train
    users = train.active_users()[:50]
    mean = history_mean(train, untrained.tower.encode_items(train.items), users).vectors
    for instruction in (None, question("gender"), question("next_item")):
        got = untrained.encode_users(train, users, instruction=instruction).vectors
        np.testing.assert_allclose(got, mean, atol=1e-6)
    # and items and answers live in the tower's space, as the history-mean baseline's
    np.testing.assert_array_equal(
        untrained.encode_items(train.items).vectors,
        untrained.tower.encode_items(train.items).vectors,
    )


def test_a_nonzero_head_moves_users_by_the_instruction(untrained, ml100k_split):
    train = ml100k_split.train
    users = train.active_users()[:20]
    moved = ResidualUserModel(untrained.encoder, untrained.tower, ResidualHead(untrained.dim))
    with torch.no_grad():
        moved.head.proj.weight.copy_(torch.eye(untrained.dim))
    means = moved.history_means(train, users)
    texts = moved.encoder.user_texts(train, users)
    a = moved.combine(means, texts, question("gender"))
    b = moved.combine(means, texts, question("next_item"))
    f = moved.encoder.encode_sources(texts, question("gender"))
    expected = (means + f) / np.linalg.norm(means + f, axis=1, keepdims=True)
    np.testing.assert_allclose(a, expected, atol=1e-5)
    assert np.abs(a - b).max() > 1e-3


def test_residual_loss_is_the_masked_infonce_of_the_history_mean_at_init(tiny_st):
    rng = np.random.default_rng(0)
    dim, n_cand = tiny_st.get_embedding_dimension(), 7
    candidates = rng.normal(size=(n_cand, dim)).astype(np.float32)
    groups_c = np.array([0, 0, 0, 0, 1, 1, 2])  # 4 items, a 2-answer task, a 1-answer task
    means = rng.normal(size=(3, dim)).astype(np.float32)
    positives = np.array([1, 5, 6])
    groups = np.array([0, 1, 2])
    seen = np.zeros((3, n_cand), bool)
    seen[0, [0, 1]] = True  # item 0 and the positive are in the history; the positive stays in
    hard = np.array([[3, -1], [-1, -1], [-1, -1]])
    loss = ResidualContrastiveLoss(
        tiny_st,
        ResidualHead(dim),
        *(torch.from_numpy(a) for a in (means, positives, groups, candidates, groups_c, seen)),
        hard=torch.from_numpy(hard),
        scale=20.0,
        hard_weight=0.5,
    )
    features = [tiny_st.preprocess(["a user", "another user", "a third"])]
    parts = loss(features, torch.tensor([0, 1, 2]))

    u = means / np.linalg.norm(means, axis=1, keepdims=True)
    c = candidates / np.linalg.norm(candidates, axis=1, keepdims=True)
    s = 20.0 * u @ c.T

    def ce(row, allowed, pos):
        logits = s[row, allowed]
        return -(logits[allowed.index(pos)] - np.log(np.exp(logits).sum()))

    expected = np.mean([ce(0, [1, 2, 3], 1), ce(1, [4, 5], 5), ce(2, [6], 6)])
    assert float(parts["contrastive"]) == pytest.approx(expected, rel=1e-5)
    assert float(parts["hard_negatives"]) == pytest.approx(0.5 * ce(0, [1, 3], 1), rel=1e-5)


def test_residual_recipe_trains_the_head_keeps_the_tower_and_loads(residual_run, ml100k_split):
    from llmrec.embeddings.residual import is_residual
    from llmrec.embeddings.train import random_sentence_transformer

    assert is_residual(residual_run)
    model = ResidualUserModel.load(residual_run)
    assert model.head.proj.weight.abs().max() > 0  # trained away from zero
    initial = random_sentence_transformer("all-minilm-l6-v2", layers=2, hidden=64, seed=0)
    for (name, p), q in zip(model.tower.model.state_dict().items(), initial.state_dict().values()):
        assert torch.equal(p, q), f"the tower's {name} changed"
    train = ml100k_split.train
    _, users = user_partition(train.active_users(), 0.5, 0)
    users = users[:10]
    got = model.encode_users(train, users, instruction=question("gender")).vectors
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(got, model.history_means(train, users), atol=1e-4)


def test_residual_rejects_the_answer_bank(ml100k_split):
    from pathlib import Path

    from llmrec.embeddings.train import make_parser, run_training

    root = Path(__file__).resolve().parents[2]
    args = make_parser().parse_args_and_config(
        [
            "--config",
            str(root / "recipes" / "tiny-random" / "embed" / "config_residual_tiny.yaml"),
            "--answer_bank",
            "true",
            "--output_dir",
            "/tmp/unused",
        ]
    )
    with pytest.raises(ValueError, match="residual: true trains the joined-text encoder alone"):
        run_training(*args)


def test_hard_negatives_keep_the_popularity_decile_and_avoid_the_history(ml100k_split):
    from llmrec.data.sampling import popularity_bins
    from llmrec.embeddings.train import cut_examples, next_item_hard_negatives

    train = ml100k_split.train
    users = train.active_users()[:40]
    dataset, examples = cut_examples(train, users, 1, ["next_item", "gender"], seed=0)
    item_pos = {iid: i for i, iid in enumerate(dataset.item_ids)}
    hard = next_item_hard_negatives(dataset, examples, item_pos, 8, seed=0)
    bins = popularity_bins(dataset)
    history = dataset.interactions.groupby("user_id")["item_id"].agg(set).to_dict()
    matched = total = 0
    for ex, row in zip(examples, hard):
        if ex.task != "next_item":
            assert (row == -1).all()
            continue
        assert (row >= 0).all() and len(set(row.tolist())) == 8
        assert item_pos[ex.label] not in row
        assert not {dataset.item_ids[j] for j in row} & history[ex.user_id]
        matched += int((bins[row] == bins[item_pos[ex.label]]).sum())
        total += 8
    # every negative from the positive's decile (the sampler falls back to a neighbour decile
    # only when a user has seen nearly all of it, which these users have not)
    assert matched == total


def test_text_cache_is_shared_by_heads_on_one_encoder(untrained, ml100k_split, tmp_path):
    train = ml100k_split.train
    users = train.active_users()[:8]
    first = ResidualUserModel(
        untrained.encoder, untrained.tower, ResidualHead(untrained.dim), tmp_path
    )
    means = first.history_means(train, users)
    texts = first.encoder.user_texts(train, users)
    a = first.combine(means, texts, question("gender"))
    assert len(list(tmp_path.glob("text-*.npy"))) == 1

    class Refuses:  # a second head on the same encoder must not encode again
        def __getattr__(self, name):
            if name == "encode_sources":
                raise AssertionError("encoded again")
            return getattr(untrained.encoder, name)

    second = ResidualUserModel(Refuses(), untrained.tower, ResidualHead(untrained.dim), tmp_path)
    np.testing.assert_array_equal(second.combine(means, texts, question("gender")), a)
