"""The synthetic world: seeded, consistent with its gold profiles, and fast."""

from __future__ import annotations

import json

import numpy as np
import pytest

from llmrec.data.synthetic import (
    SyntheticConfig,
    generate_world,
    load_gold_profiles,
)


@pytest.fixture(scope="module")
def world():
    return generate_world(SyntheticConfig(n_users=300, n_items=200, seed=3))


def test_same_seed_same_world_other_seed_differs(world):
    again = generate_world(SyntheticConfig(n_users=300, n_items=200, seed=3))
    other = generate_world(SyntheticConfig(n_users=300, n_items=200, seed=4))
    assert world.dataset.interactions.equals(again.dataset.interactions)
    assert world.gold == again.gold
    assert not world.dataset.interactions.equals(other.dataset.interactions)
    assert world.gold != other.gold


def test_records_are_complete_and_time_ordered(world):
    ds = world.dataset
    stats = ds.stats()
    assert stats.users == 300 and stats.items == 200 and stats.rated and stats.timestamped
    frame = ds.interactions
    assert frame["rating"].isin([1.0, 2.0, 3.0, 4.0, 5.0]).all()
    assert frame["timestamp"].min() >= world.config.start_time
    assert (frame.groupby("user_id")["timestamp"].diff().dropna() >= 0).all()
    assert not frame.duplicated(["user_id", "item_id"]).any()  # no item twice per user
    assert frame.groupby("user_id").size().min() >= world.config.min_history
    item = ds.items[ds.item_ids[0]]
    assert item.title and item.genres and item.year is not None
    assert set(item.attributes) == {"director", "mood", "era"}
    assert item.attributes["era"] == f"{item.year // 10 * 10}s"
    assert set(ds.users[ds.user_ids[0]].attributes) == {"age", "gender", "occupation"}
    assert len(set(world.gold)) == 300 and set(world.gold) == set(ds.user_ids)


def test_interactions_follow_hidden_preferences(world):
    ds, gold = world.dataset, world.gold
    liked_hits = disliked_hits = 0
    liked_ratings, disliked_ratings = [], []
    for uid, item_id, rating in ds.interactions[["user_id", "item_id", "rating"]].itertuples(
        index=False
    ):
        genres = set(ds.items[item_id].genres)
        profile = gold[uid]
        if genres & set(profile.liked_genres):
            liked_hits += 1
            liked_ratings.append(rating)
        if genres & set(profile.disliked_genres):
            disliked_hits += 1
            disliked_ratings.append(rating)
    assert liked_hits > 5 * disliked_hits
    assert np.mean(liked_ratings) > np.mean(disliked_ratings) + 1.0


def test_affinity_equals_closed_form_from_the_gold_profile():
    cfg = SyntheticConfig(
        n_users=60, n_items=80, seed=5, quality_sd=0.0, recency_weight=0.0, drift_probability=0.0
    )
    world = generate_world(cfg)
    for uid in world.dataset.user_ids[:10]:
        p = world.gold[uid]
        bias = 0.7 * (("generous rater" in p.style) - ("harsh critic" in p.style))
        for iid in world.dataset.item_ids[:20]:
            item = world.dataset.items[iid]
            genre = sum(cfg.like_weight for g in item.genres if g in p.liked_genres)
            genre -= sum(cfg.dislike_weight for g in item.genres if g in p.disliked_genres)
            expected = float(np.clip(genre, -2, 2))
            for kind, value in p.liked_attributes.items():
                expected += cfg.attribute_weight * (item.attributes[kind] == value)
            for kind, value in p.disliked_attributes.items():
                expected -= cfg.attribute_weight * (item.attributes[kind] == value)
            assert world.affinity(uid, iid) == pytest.approx(expected)
            rating = int(np.clip(np.rint(cfg.rating_offset + expected + bias), 1, 5))
            assert world.gold_rating(uid, iid) == rating


def test_affinity_matrix_matches_pointwise(world):
    users, items = world.dataset.user_ids[:4], world.dataset.item_ids[:6]
    matrix = world.affinity_matrix(users, items)
    assert matrix.shape == (4, 6)
    assert matrix[2, 5] == pytest.approx(world.affinity(users[2], items[5]))
    ratings = world.gold_rating_matrix(users, items)
    assert ratings[1, 3] == world.gold_rating(users[1], items[3])
    with pytest.raises(KeyError, match="unknown user 'nobody'"):
        world.affinity("nobody", items[0])


def test_drift_changes_tastes_at_its_time():
    world = generate_world(SyntheticConfig(n_users=200, n_items=200, seed=1, drift_probability=1.0))
    ds = world.dataset
    moved = 0
    for uid in ds.user_ids[:50]:
        drift = world.gold[uid].drift
        assert drift is not None
        assert drift.genre_after in world.gold[uid].liked_genres
        assert drift.genre_before not in world.gold[uid].liked_genres
        assert any(
            t.startswith(f"used to like {drift.genre_before}") for t in world.gold[uid].traits()
        )
        hist = ds.history(uid)
        before = [r for r in hist if r.timestamp < drift.at]
        after = [r for r in hist if r.timestamp > drift.at]
        assert before and after

        def share(rows, genre):
            return np.mean([genre in ds.items[r.item_id].genres for r in rows])

        moved += share(before, drift.genre_before) > share(after, drift.genre_before)
        # An item of only the old genre is worth more before the drift than after it.
        iid = next((i for i, it in ds.items.items() if it.genres == (drift.genre_before,)), None)
        if iid is not None:
            assert world.affinity(uid, iid, at=drift.at - 1) > world.affinity(uid, iid)
    assert moved >= 40


def test_gold_profiles_export_round_trips(world, tmp_path):
    path = tmp_path / "gold.jsonl"
    world.gold_profiles_jsonl(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 300
    first = json.loads(lines[0])
    assert first["traits"] == world.gold[first["user_id"]].traits()
    assert load_gold_profiles(path) == world.gold
    world.gold_profiles_json(tmp_path / "gold.json")
    doc = json.loads((tmp_path / "gold.json").read_text())
    assert doc["config"]["seed"] == 3 and len(doc["profiles"]) == 300


def test_traits_read_naturally(world):
    traits = world.gold[world.dataset.user_ids[0]].traits()
    profile = world.gold[world.dataset.user_ids[0]]
    assert traits[: len(profile.liked_genres)] == [f"likes {g}" for g in profile.liked_genres]
    assert f"dislikes {profile.disliked_genres[0]}" in traits
    assert 1 <= len(profile.style) <= 4 and all(s in traits for s in profile.style)


def test_ten_thousand_users(tmp_path):
    world = generate_world(n_users=10_000, n_items=200, seed=0, mean_history=10, min_history=3)
    stats = world.dataset.stats()
    assert stats.users == 10_000 and len(world.gold) == 10_000
    assert 8 < stats.interactions / stats.users < 12


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"n_users": 0}, "n_users"),
        ({"drift_probability": 1.5}, "drift_probability"),
        ({"genres": ("A", "B")}, "genres"),
        ({"min_history": 50, "mean_history": 60, "n_items": 40}, "min_history"),
    ],
)
def test_bad_config_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=f"SyntheticConfig.{field}="):
        SyntheticConfig(**overrides)


def test_noise_free_ratings_are_the_gold_ratings_at_their_time():
    world = generate_world(
        SyntheticConfig(n_users=80, n_items=120, seed=2, rating_noise=0.0, drift_probability=0.5)
    )
    frame = world.dataset.interactions
    for uid, item_id, ts, rating in frame[["user_id", "item_id", "timestamp", "rating"]].to_numpy():
        assert rating == world.gold_rating(uid, item_id, at=ts)
    drifting = [u for u, p in world.gold.items() if p.drift is not None]
    assert drifting  # the check above covered ratings on both sides of a drift


def test_config_accepts_numbers_written_as_strings():
    cfg = SyntheticConfig(n_users="40", drift_probability="0.5", genres="6")
    assert (cfg.n_users, cfg.drift_probability, len(cfg.genre_names)) == (40, 0.5, 6)
    with pytest.raises(ValueError, match=r"SyntheticConfig.seed='x': expected int"):
        SyntheticConfig(seed="x")
