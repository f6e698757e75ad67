"""User sampling and negative sampling: seeded, exclusive of seen items, popularity-matched."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data import leave_one_out
from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.data.sampling import (
    negatives_for_user,
    popularity_bins,
    popularity_matched_negatives,
    sample_users,
)
from llmrec.data.synthetic import SyntheticConfig, generate_world


@pytest.fixture(scope="module")
def world():
    ds = generate_world(SyntheticConfig(n_users=150, n_items=200, seed=3)).dataset
    return ds, leave_one_out(ds, validation=False)


def test_sample_users_is_a_seeded_permutation_prefix():
    pool = [f"u{i}" for i in range(30)]
    before = list(pool)
    got = sample_users(pool, 10, seed=5)
    perm = np.random.default_rng(5).permutation(30)[:10]
    assert got == [pool[k] for k in sorted(perm)]  # in input order
    assert sample_users(pool, 10, seed=5, keep_order=False) == [pool[k] for k in perm]
    assert set(sample_users(pool, 12, seed=5)) > set(got)  # a larger n extends the sample
    assert sample_users(pool, 100, seed=5) == pool
    assert pool == before
    with pytest.raises(ValueError, match="n must be"):
        sample_users(pool, -1, seed=0)


def test_popularity_bins_are_deciles_of_training_counts(world):
    _, split = world
    bins = popularity_bins(split.train)
    counts = split.train.item_popularity()
    # A more popular item is never in a lower bin; equal counts share a bin.
    order = np.argsort(counts, kind="stable")
    assert np.all(np.diff(bins[order]) >= 0)
    for c in np.unique(counts):
        assert len(set(bins[counts == c])) == 1
    assert bins.min() == 0 and bins.max() == 9


def test_matched_negatives_keep_the_decile_and_exclude_seen_items(world):
    ds, split = world
    test = split.test.interactions
    users, items = test["user_id"].tolist(), test["item_id"].tolist()
    out = popularity_matched_negatives(split.train, users, items, 5, seed=0, exclude=[ds])
    bins = popularity_bins(split.train)
    assert out.items.shape == (len(users), 5)
    ids = split.train.item_ids
    for k, (u, i) in enumerate(zip(users, items, strict=True)):
        seen = {r.item_id for r in ds.history(u)}
        negs = [ids[j] for j in out.items[k]]
        assert len(set(negs)) == 5 and i not in negs and not seen & set(negs)
        same = bins[out.items[k]] == bins[split.train.item_index[i]]
        assert same.sum() == 5 - out.fallback[k]
    assert out.fallback.sum() == 0  # 20 items per decile: enough for 5 negatives each
    np.testing.assert_array_equal(out.bins, bins[[split.train.item_index[i] for i in items]])
    again = popularity_matched_negatives(split.train, users, items, 5, seed=0, exclude=[ds])
    np.testing.assert_array_equal(again.items, out.items)
    chunked = popularity_matched_negatives(
        split.train, users, items, 5, seed=0, exclude=[ds], chunk_cells=200 * 7
    )
    assert chunked.fallback.sum() == 0  # another chunking, same guarantees


def test_a_decile_that_runs_out_falls_back_to_the_nearest_and_counts_it():
    # 10 items with counts 0..9 -> one item per decile; the user has seen nothing.
    items = [Item(str(i), f"t{i}") for i in range(10)]
    rows = [Interaction(f"v{i}", str(i)) for i in range(10) for _ in range(i)]
    rows.append(Interaction("u", "0"))
    ds = InteractionDataset(items, rows)
    bins = popularity_bins(ds)
    pos = "5"
    out = popularity_matched_negatives(ds, ["u"], [pos], 3, seed=1)
    picked = out.items[0]
    # Decile of "5" holds only "5" itself: all 3 come from the nearest bins, 1 or 2 away.
    assert out.fallback.tolist() == [3]
    d = np.abs(bins[picked] - bins[ds.item_index[pos]])
    assert sorted(d.tolist())[:2] == [1, 1] and d.max() <= 2
    assert ds.item_index["0"] not in picked  # seen by "u"
    with pytest.raises(ValueError, match="fewer than n=9"):
        popularity_matched_negatives(ds, ["u"], [pos], 9, seed=1)


def test_matched_negatives_reject_unknown_ids(world):
    _, split = world
    with pytest.raises(ValueError, match="unknown"):
        popularity_matched_negatives(split.train, ["nobody"], ["1"], 2)
    with pytest.raises(ValueError, match="differ in length"):
        popularity_matched_negatives(split.train, ["1", "2"], ["1"], 2)


def test_negatives_for_user_excludes_and_follows_the_stream(world):
    ds, _ = world
    exclude = set(ds.item_ids[:150])
    before = set(exclude)
    rng = np.random.default_rng(0)
    negs = negatives_for_user(ds, exclude, 20, rng)
    assert len(set(negs)) == 20 and not exclude & set(negs)
    assert exclude == before
    with pytest.raises(ValueError, match="only 50 items"):
        negatives_for_user(ds, exclude, 51, rng)
