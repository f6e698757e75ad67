"""Splits, k-core, history windows and negative sampling: correct, seeded, and leak-free."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmrec.data.records import Interaction, InteractionDataset, Item, User
from llmrec.data.sampling import sample_negatives, sample_pair_negatives
from llmrec.data.splits import kcore, leave_one_out, ratio_split, temporal_split
from llmrec.data.windows import DAY, last_days, last_n, window


def _rows(ds: InteractionDataset) -> set[tuple]:
    frame = ds.interactions
    return set(zip(frame.user_id, frame.item_id, frame.timestamp))


def _sorted_rows(frame: pd.DataFrame) -> pd.DataFrame:
    cols = ["user_id", "item_id", "timestamp", "rating"]
    return frame[cols].sort_values(cols, kind="stable").reset_index(drop=True)


def _assert_partition(split, full):
    """The parts are disjoint and together are exactly the full dataset (as multisets)."""
    parts = [split.train.interactions, split.valid.interactions, split.test.interactions]
    assert sum(len(p) for p in parts) == len(full)
    together = _sorted_rows(pd.concat(parts, ignore_index=True))
    assert together.equals(_sorted_rows(full.interactions))
    keys = ["user_id", "item_id", "timestamp"]
    if len(full) and not full.interactions.duplicated(keys).any():
        tagged = pd.concat([p.assign(part=k) for k, p in enumerate(parts)], ignore_index=True)
        assert tagged.groupby(keys).part.nunique().max() == 1  # no event in two parts


def _tiny(timestamps: bool = True) -> InteractionDataset:
    items = [Item(str(i), f"item {i}") for i in range(6)]
    rows = [
        Interaction("a", "0", 1.0 if timestamps else None, 5.0),
        Interaction("a", "1", 2.0 if timestamps else None, 4.0),
        Interaction("a", "2", 3.0 if timestamps else None, 3.0),
        Interaction("b", "1", 1.5 if timestamps else None, 2.0),
        Interaction("b", "3", 2.5 if timestamps else None, 1.0),
    ]
    return InteractionDataset(items, rows, [User("a"), User("b"), User("idle")], name="tiny")


def test_temporal_split_cuts_all_users_at_one_moment(synthetic_world):
    ds = synthetic_world.dataset
    split = temporal_split(ds, test=0.1, valid=0.1)
    _assert_partition(split, ds)
    train_t = split.train.interactions.timestamp
    valid_t, test_t = split.valid.interactions.timestamp, split.test.interactions.timestamp
    assert train_t.max() < valid_t.min() <= valid_t.max() < test_t.min()
    assert len(split.test) == pytest.approx(0.1 * len(ds), abs=5)
    cut = float(np.quantile(ds.interactions.timestamp, 0.9))
    assert test_t.min() == ds.interactions.timestamp[ds.interactions.timestamp >= cut].min()


def test_temporal_split_explicit_cut_and_ties_go_later():
    split = temporal_split(_tiny(), test_start=2.5, valid_start=2.0)
    assert sorted(split.test.interactions.item_id) == ["2", "3"]  # t=3.0 and t=2.5 (the cut)
    assert list(split.valid.interactions.item_id) == ["1"]  # t=2.0
    assert sorted(split.train.interactions.item_id) == ["0", "1"]  # t=1.0, t=1.5
    with pytest.raises(ValueError, match="after test_start"):
        temporal_split(_tiny(), test_start=1.0, valid_start=2.0)


def test_temporal_split_can_drop_cold_users_and_items():
    ds = _tiny()  # a: 0@1, 1@2, 2@3; b: 1@1.5, 3@2.5
    plain = temporal_split(ds, test_start=2.5, valid_start=2.5)
    assert sorted(plain.test.interactions.item_id) == ["2", "3"]
    warm_items = temporal_split(ds, test_start=2.5, valid_start=2.5, drop_cold_items=True)
    assert len(warm_items.test) == 0  # items 2 and 3 were never seen in training
    rows = [Interaction("c", "0", 9.0, 1.0)]
    frame = pd.concat([ds.interactions, InteractionDataset(ds.items, rows).interactions])
    late = ds.with_interactions(frame)
    warm_users = temporal_split(late, test_start=2.5, valid_start=2.5, drop_cold_users=True)
    assert "c" not in set(warm_users.test.interactions.user_id)
    assert sorted(warm_users.test.interactions.item_id) == ["2", "3"]


def test_temporal_split_refuses_missing_timestamps():
    with pytest.raises(ValueError, match=r"needs timestamps, but 5 of 5 interactions of 'tiny'"):
        temporal_split(_tiny(timestamps=False))


def test_ratio_split_holds_out_each_users_latest(synthetic_world):
    ds = synthetic_world.dataset
    split = ratio_split(ds, test=0.2, valid=0.1)
    _assert_partition(split, ds)
    train_last = split.train.interactions.groupby("user_id").timestamp.max()
    valid_first = split.valid.interactions.groupby("user_id").timestamp.min()
    test_first = split.test.interactions.groupby("user_id").timestamp.min()
    assert (train_last[valid_first.index] <= valid_first).all()
    assert (train_last[test_first.index] <= test_first).all()
    sizes = ds.interactions.groupby("user_id").size()
    n_test = split.test.interactions.groupby("user_id").size()
    expected = np.maximum(np.floor(sizes * 0.2), 1).astype(int)
    assert (n_test == expected[n_test.index]).all()


def test_ratio_split_random_is_seeded(synthetic_world):
    ds = synthetic_world.dataset
    a = ratio_split(ds, test=0.3, order="random", seed=1)
    b = ratio_split(ds, test=0.3, order="random", seed=1)
    c = ratio_split(ds, test=0.3, order="random", seed=2)
    _assert_partition(a, ds)
    assert _rows(a.test) == _rows(b.test) and _rows(a.test) != _rows(c.test)
    with pytest.raises(ValueError, match="order must be 'time' or 'random'"):
        ratio_split(ds, order="shuffle")


def test_splits_skip_users_without_history():
    ds = _tiny()
    for split in (leave_one_out(ds), ratio_split(ds, test=0.3)):
        assert "idle" in split.train.users and split.train.history("idle") == []
        assert "idle" not in set(split.test.interactions.user_id)
    # With min_train=1, "b" (2 interactions) cannot give up 2 for valid+test.
    loo = leave_one_out(ds)
    assert set(loo.test.interactions.user_id) == {"a"}
    assert [r.item_id for r in loo.train.history("b")] == ["1", "3"]


def test_train_never_contains_heldout_for_any_split(ml100k):
    for split in (leave_one_out(ml100k), temporal_split(ml100k), ratio_split(ml100k, 0.2, 0.1)):
        _assert_partition(split, ml100k)
        for uid in ("1", "405"):
            train_items = {(r.item_id, r.timestamp) for r in split.train.history(uid)}
            test_items = {(r.item_id, r.timestamp) for r in split.test.history(uid)}
            assert not train_items & test_items


def test_kcore_matches_hand_computed_core():
    # Items: x seen by u1,u2,u3; y by u1,u2; z by u3 only; u4 only saw z.
    rows = [
        ("u1", "x"),
        ("u1", "y"),
        ("u2", "x"),
        ("u2", "y"),
        ("u3", "x"),
        ("u3", "z"),
        ("u4", "z"),
    ]
    items = [Item(i, i) for i in ("x", "y", "z", "w")]
    ds = InteractionDataset(items, pd.DataFrame(rows, columns=["user_id", "item_id"]))
    core = kcore(ds, 2)
    # Round 1 drops u4 (1 interaction); then z has only u3; then u3 has only x -> dropped.
    assert sorted(map(tuple, core.interactions[["user_id", "item_id"]].to_numpy())) == [
        ("u1", "x"),
        ("u1", "y"),
        ("u2", "x"),
        ("u2", "y"),
    ]
    assert sorted(core.items) == ["x", "y"] and sorted(core.users) == ["u1", "u2"]
    assert len(ds) == 7  # input untouched
    assert len(kcore(ds, 1, item_k=3)) == 3  # only x has 3 users


def test_kcore_on_ml100k_is_a_fixed_point(ml100k):
    core = kcore(ml100k, 10)
    assert core.interactions.groupby("user_id").size().min() >= 10
    assert core.interactions.groupby("item_id").size().min() >= 10
    assert len(kcore(core, 10)) == len(core)


def test_windows_on_histories_and_datasets():
    hist = [Interaction("u", str(i), timestamp=i * DAY) for i in range(10)]
    assert [r.item_id for r in last_n(hist, 3)] == ["7", "8", "9"]
    assert last_n(hist, 0) == [] and len(last_n(hist, 50)) == 10
    assert [r.item_id for r in last_days(hist, 2)] == ["7", "8", "9"]
    assert [r.item_id for r in last_days(hist, 1, now=5 * DAY)] == ["4", "5"]
    with pytest.raises(ValueError, match="needs timestamps"):
        last_days([Interaction("u", "1")], 3)
    ds = _tiny()
    assert [r.item_id for r in window(ds, last=2).history("a")] == ["1", "2"]
    assert len(window(ds, last=2).history("b")) == 2
    by_days = window(ds, days=1.0 / DAY)  # one second before each user's last event
    assert [r.item_id for r in by_days.history("a")] == ["1", "2"]
    global_now = window(ds, days=1.0 / DAY, now=2.0)
    assert [r.item_id for r in global_now.history("a")] == ["0", "1"]
    assert [r.item_id for r in global_now.history("b")] == ["1"]
    with pytest.raises(ValueError, match="needs timestamps"):
        window(_tiny(timestamps=False), days=3)


def test_uniform_negatives_exclude_positives_and_are_seeded(synthetic_world):
    ds = synthetic_world.dataset
    negs = sample_negatives(ds, 50, seed=0)
    assert negs.shape == (len(ds.user_ids), 50)
    assert negs.min() >= 0 and negs.max() < len(ds.item_ids)
    for row, uid in enumerate(ds.user_ids):
        seen = {ds.item_index[r.item_id] for r in ds.history(uid)}
        assert len(set(negs[row])) == 50 and not seen & set(negs[row])
    assert np.array_equal(negs, sample_negatives(ds, 50, seed=0))
    assert not np.array_equal(negs, sample_negatives(ds, 50, seed=1))
    chunked = sample_negatives(ds, 50, seed=0, chunk_cells=len(ds.item_ids) * 7)
    assert chunked.shape == negs.shape
    for row, uid in enumerate(ds.user_ids):
        assert not {ds.item_index[r.item_id] for r in ds.history(uid)} & set(chunked[row])


def test_negatives_exclude_heldout_positives_when_asked(ml100k_split, ml100k):
    train = ml100k_split.train
    users = ml100k.user_ids[:100]
    negs = sample_negatives(train, 200, users, seed=3, exclude=[ml100k])
    for row, uid in enumerate(users):
        test_item = train.item_index[ml100k_split.test.history(uid)[0].item_id]
        assert test_item not in set(negs[row])


def test_popularity_negatives_follow_popularity(synthetic_world):
    ds = synthetic_world.dataset
    pop = ds.item_popularity()
    uniform = np.bincount(sample_negatives(ds, 30, seed=0).ravel(), minlength=len(pop))
    weighted = np.bincount(
        sample_negatives(ds, 30, seed=0, strategy="popularity").ravel(), minlength=len(pop)
    )
    top, bottom = np.argsort(pop)[-30:], np.argsort(pop)[:30]
    assert weighted[top].sum() > 2 * uniform[top].sum()
    assert weighted[bottom].sum() < uniform[bottom].sum()
    with pytest.raises(ValueError, match="strategy must be one of"):
        sample_negatives(ds, 5, strategy="hard")


def test_too_many_negatives_names_the_user():
    with pytest.raises(ValueError, match="user 'a' has 3 items left to sample, fewer than n=4"):
        sample_negatives(_tiny(), 4, ["a"])


def test_pair_negatives_never_hit_a_positive(synthetic_world):
    ds = synthetic_world.dataset
    negs = sample_pair_negatives(ds, k=3, seed=0, strategy="popularity")
    assert negs.shape == (len(ds), 3)
    users = ds.interactions.user_id.to_numpy()
    positives = ds.interactions.groupby("user_id").item_id.apply(set).to_dict()
    ids = np.array(ds.item_ids)
    for row in range(0, len(ds), 7):
        assert not set(ids[negs[row]]) & positives[users[row]]
    assert np.array_equal(negs, sample_pair_negatives(ds, k=3, seed=0, strategy="popularity"))


@st.composite
def _datasets(draw):
    n = draw(st.integers(0, 40))
    users = draw(st.lists(st.sampled_from("abcde"), min_size=n, max_size=n))
    items = draw(st.lists(st.sampled_from("pqrstuvw"), min_size=n, max_size=n))
    times = draw(st.lists(st.integers(0, 20).map(float), min_size=n, max_size=n))
    frame = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": times})
    return InteractionDataset([Item(i, i) for i in "pqrstuvw"], frame, [User("idle")])


@settings(max_examples=30, deadline=None)
@given(_datasets(), st.sampled_from(["loo", "temporal", "ratio", "ratio_random"]))
def test_every_split_is_an_exact_leak_free_partition(ds, kind):
    split = {
        "loo": lambda: leave_one_out(ds),
        "temporal": lambda: temporal_split(ds, test=0.25, valid=0.25),
        "ratio": lambda: ratio_split(ds, test=0.3, valid=0.2),
        "ratio_random": lambda: ratio_split(ds, test=0.3, order="random", seed=1),
    }[kind]()
    _assert_partition(split, ds)
    train = split.train.interactions
    for part in (split.valid.interactions, split.test.interactions):
        if kind == "temporal" and len(part) and len(train):
            assert train.timestamp.max() < part.timestamp.min()
        if kind in ("loo", "ratio"):  # per user, held-out events are the latest ones
            for uid, held in part.groupby("user_id"):
                mine = train[train.user_id == uid]
                assert mine.empty or mine.timestamp.max() <= held.timestamp.min()
