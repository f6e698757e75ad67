"""Full and sampled ranking: tie policies, masking, chunking and the Krichene-Rendle correction."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from llmrec.data.sampling import sample_masked_negatives
from llmrec.evaluation.protocols import (
    FullRanking,
    SampledRanking,
    full_ranking,
    krichene_rendle_correction,
    sampled_ranking,
    topk_items,
)
from llmrec.metrics import pad_relevant
from llmrec.metrics.ranking import rank_targets


def test_tie_policies_by_hand():
    # Target item 1 scores 0.5, tied with items 0 and 3; item 2 is above.
    scores = np.array([[0.5, 0.5, 0.9, 0.5, 0.1]])
    t = np.array([[1]])
    assert rank_targets(scores, t, "pessimistic")[0, 0] == 4  # two ties + one above
    assert rank_targets(scores, t, "optimistic")[0, 0] == 2
    seen = {
        rank_targets(scores, t, "random", rng=np.random.default_rng(s))[0, 0] for s in range(40)
    }
    assert seen == {2.0, 3.0, 4.0}


def test_random_ties_average_to_the_middle():
    scores = np.zeros((2000, 11))  # everything tied: uniform rank 1..11, mean 6
    ranks = rank_targets(scores, np.zeros((2000, 1), int), "random", rng=np.random.default_rng(0))
    assert abs(ranks.mean() - 6.0) < 0.15


def test_tied_targets_get_distinct_ranks():
    scores = np.array([[1.0, 1.0, 1.0, 0.0]])
    targets = np.array([[0, 2]])  # two relevant items tied with one negative
    np.testing.assert_array_equal(rank_targets(scores, targets, "pessimistic"), [[2.0, 3.0]])
    np.testing.assert_array_equal(rank_targets(scores, targets, "optimistic"), [[1.0, 2.0]])
    r = rank_targets(scores, targets, "random", rng=np.random.default_rng(1))
    assert len(set(r[0])) == 2


def test_masking_excludes_training_items_but_never_targets():
    scores = np.array([[0.9, 0.8, 0.7, 0.6]])
    excluded = np.array([[True, False, True, False]])
    # Item 0 is masked, item 2 is the target even though it is also a training item.
    ranks = rank_targets(scores, np.array([[2]]), "pessimistic", excluded)
    assert ranks[0, 0] == 2  # only item 1 (0.8) is a candidate above it
    assert excluded.tolist() == [[True, False, True, False]]  # not mutated


def _brute_force_pessimistic(scores, rel, excluded):
    out = []
    for s, r, ex in zip(scores, rel, excluded):
        row = []
        for j, t in enumerate(r):
            if t < 0:
                row.append(np.nan)
                continue
            cand = ~ex.copy()
            cand[r[r >= 0]] = True
            others = cand.copy()
            others[t] = False
            later_targets = r[j + 1 :][r[j + 1 :] >= 0]
            above = (s > s[t]) & others
            tied = (s == s[t]) & others
            tied[later_targets] = False
            row.append(1 + above.sum() + tied.sum())
        out.append(row)
    return np.array(out, dtype=float)


def test_full_ranking_chunked_equals_brute_force():
    rng = np.random.default_rng(0)
    n_users, n_items = 57, 40
    all_scores = rng.integers(0, 6, (n_users, n_items)).astype(float)  # many ties
    train = csr_matrix((rng.random((n_users, n_items)) < 0.2).astype(np.float32))
    rel = pad_relevant(
        [rng.choice(n_items, rng.integers(1, 4), replace=False) for _ in range(n_users)]
    )
    users = np.arange(n_users)
    seen_chunks = []

    def score_fn(u):
        seen_chunks.append(len(u))
        return all_scores[u]

    out = full_ranking(score_fn, users, rel, n_items, FullRanking(chunk_size=8), train, k_max=5)
    assert max(seen_chunks) == 8  # never more than one chunk of scores at a time
    expected = _brute_force_pessimistic(all_scores, rel, train.toarray() > 0)
    np.testing.assert_array_equal(out.ranks, expected)
    whole = full_ranking(
        lambda u: all_scores[u], users, rel, n_items, FullRanking(chunk_size=100), train, 5
    )
    np.testing.assert_array_equal(whole.ranks, out.ranks)
    np.testing.assert_array_equal(whole.topk, out.topk)
    # Candidates = catalogue minus training items that are not held out.
    excl = train.toarray() > 0
    for i in range(n_users):
        excl[i, rel[i][rel[i] >= 0]] = False
    np.testing.assert_array_equal(out.n_candidates, n_items - excl.sum(axis=1))


def test_topk_items_orders_and_masks():
    scores = np.array([[0.1, 0.9, 0.5, 0.9, 0.3]])
    excluded = np.array([[False, False, False, True, False]])
    np.testing.assert_array_equal(topk_items(scores, 3), [[1, 3, 2]])  # tie: lower index first
    np.testing.assert_array_equal(topk_items(scores, 3, excluded), [[1, 2, 4]])
    np.testing.assert_array_equal(topk_items(scores, 7, excluded), [[1, 2, 4, 0, -1, -1, -1]])


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        rank_targets(np.array([[0.1, np.nan]]), np.array([[0]]))


def test_sampled_negatives_are_valid_and_deterministic():
    rng = np.random.default_rng(0)
    forbidden = rng.random((6, 50)) < 0.3
    users = np.arange(10, 16)
    neg = sample_masked_negatives(users, forbidden, 10, "uniform", None, seed=7)
    for row, f in zip(neg, forbidden):
        assert len(set(row)) == 10 and not f[row].any()
    again = sample_masked_negatives(users[::-1], forbidden[::-1], 10, "uniform", None, seed=7)
    np.testing.assert_array_equal(again[::-1], neg)  # per-user streams: order-independent
    pop = np.arange(50, dtype=float) ** 2
    popular = sample_masked_negatives(
        np.arange(200), np.zeros((200, 50), bool), 5, "popularity", pop, 0
    )
    assert popular.mean() > 35  # popular (high-index) items dominate


def test_sampled_ranking_counts_negatives_above():
    n_items = 30
    scores = np.tile(np.arange(n_items, dtype=float), (4, 1))  # item i scores i
    targets = np.array([[29], [0], [15], [20]])
    proto = SampledRanking(n_negatives=29, seed=0)  # every other item sampled
    out = sampled_ranking(lambda u: scores[u], np.arange(4), targets, n_items, proto)
    np.testing.assert_array_equal(out.ranks[:, 0], [1, 30, 15, 10])


def test_kr_correction_recovers_uniform_full_ranks():
    # Under the binomial sampling model with uniformly distributed full ranks (the setting the
    # estimator is fitted for) the corrected mean matches the full-ranking HR@10 = 10 / n.
    rng = np.random.default_rng(1)
    n, m, users = 300, 30, 20000
    full = rng.integers(1, n + 1, users).astype(float)
    sampled = 1 + rng.binomial(m, (full - 1) / (n - 1))
    raw = float((sampled <= 10).mean())
    corrected = float(krichene_rendle_correction("hr@10", sampled, n, m).mean())
    assert raw > 0.25  # sampled HR@10 is hugely inflated (about 10 / 31)
    assert corrected == pytest.approx(10 / n, abs=0.01)


def test_kr_correction_reduces_sampling_bias():
    rng = np.random.default_rng(0)
    n, m, users = 500, 50, 3000
    full = rng.integers(1, 60, users).astype(float)  # a good model: ranks mostly small
    # Sampled rank: 1 + number of m uniform negatives (of n - 1) ranked above the target.
    sampled = 1 + rng.binomial(m, (full - 1) / (n - 1))
    truth = float((full <= 10).mean())
    raw = float((sampled <= 10).mean())
    corrected = float(krichene_rendle_correction("hr@10", sampled, n, m).mean())
    assert abs(corrected - truth) < 0.5 * abs(raw - truth)


def test_topk_ties_at_the_cutoff_take_lowest_indices():
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 3, (200, 50)).astype(np.float32)  # heavy ties everywhere
    top = topk_items(scores, 7)
    expected = np.lexsort((np.tile(np.arange(50), (200, 1)), -scores), axis=1)[:, :7]
    np.testing.assert_array_equal(top, expected)
