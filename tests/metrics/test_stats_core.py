"""The one interval type and bootstrap core, cross-checked against slow reference loops."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from llmrec.metrics.ranking import rank_targets
from llmrec.metrics.stats import (
    Interval,
    bootstrap_ci,
    paired_bootstrap_ci,
    paired_difference_ci,
    resample_indices,
    roc_auc,
    roc_auc_by_group,
)


def _reference_percentile_ci(units, statistic, n_resamples, seed, level=0.95):
    """A slow loop: draw user indices with the documented stream, recompute, take percentiles."""
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_resamples):
        pick = rng.integers(0, len(units), size=len(units))
        draws.append(statistic(np.concatenate([units[k] for k in pick])))
    tail = (1 - level) / 2 * 100
    return np.percentile(draws, [tail, 100 - tail])


def test_interval_shape_and_text():
    ci = Interval(0.1234, 0.1, 0.15, n=40, level=0.95, n_resamples=200)
    assert str(ci) == "0.123 [0.100, 0.150]"
    assert ci.to_dict() == {
        "value": 0.1234, "low": 0.1, "high": 0.15, "n": 40, "level": 0.95, "n_resamples": 200
    }  # fmt: skip


def test_resampling_stream_does_not_depend_on_block_size():
    a = np.concatenate(list(resample_indices(37, 300, seed=3, block=7)))
    b = np.concatenate(list(resample_indices(37, 300, seed=3, block=256)))
    np.testing.assert_array_equal(a, b)


def test_vectorised_mean_ci_equals_the_reference_loop():
    rng = np.random.default_rng(0)
    values = rng.random(83)
    ci = paired_bootstrap_ci(values, n_resamples=400, level=0.9, seed=11)
    low, high = _reference_percentile_ci([np.array([v]) for v in values], np.mean, 400, 11, 0.9)
    assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-12)
    assert ci.value == pytest.approx(values.mean())
    assert (ci.n, ci.level, ci.n_resamples) == (83, 0.9, 400)
    # One number per unit through bootstrap_ci takes the same (vectorised) path.
    assert bootstrap_ci(values, n_resamples=400, level=0.9, seed=11) == ci


def test_grouped_statistic_ci_equals_the_reference_loop():
    rng = np.random.default_rng(1)
    units = [rng.random((int(rng.integers(1, 6)), 2)) for _ in range(25)]  # rows per user

    def stat(rows):
        return float(rows[:, 0].sum() / rows[:, 1].sum())  # a ratio: not a mean of user means

    ci = bootstrap_ci(units, stat, n_resamples=300, seed=4)
    low, high = _reference_percentile_ci(units, stat, 300, 4)
    assert (ci.low, ci.high) == pytest.approx((low, high), abs=1e-12)
    assert ci.value == pytest.approx(stat(np.concatenate(units)))
    assert ci.n == 25


def test_paired_difference_ci_is_the_ci_of_per_user_differences():
    rng = np.random.default_rng(2)
    a, b = rng.random(120), rng.random(120)
    diff = paired_difference_ci(a, b, n_resamples=500, seed=7)
    direct = paired_bootstrap_ci(a - b, n_resamples=500, seed=7)
    assert diff == direct
    # And equals the difference of the two systems' means on the same resamples.
    both = paired_bootstrap_ci({"a": a, "b": b}, n_resamples=500, seed=7)
    assert diff.value == pytest.approx(both["a"].value - both["b"].value)
    ab = np.stack([a, b])  # (2, n_users)
    means = np.concatenate([ab[:, idx].mean(axis=2) for idx in resample_indices(120, 500, 7)], 1)
    assert diff.low == pytest.approx(np.percentile(means[0] - means[1], 2.5))


def test_pooled_auc_ci_over_users_and_nan_resamples():
    rng = np.random.default_rng(3)
    units = []
    for _ in range(30):
        y = rng.integers(0, 2, 4)
        units.append(np.column_stack([y, y + rng.normal(0, 1.0, 4)]))
    ci = bootstrap_ci(units, lambda r: roc_auc(r[:, 0], r[:, 1]), n_resamples=200, seed=0)
    rows = np.concatenate(units)
    assert ci.value == pytest.approx(roc_auc_score(rows[:, 0], rows[:, 1]))
    assert ci.low < ci.value < ci.high
    one_class = bootstrap_ci([np.array([[1.0, 0.3]])], lambda r: roc_auc(r[:, 0], r[:, 1]), 20)
    assert np.isnan(one_class.value) and np.isnan(one_class.low)


def test_roc_auc_with_ties_matches_sklearn():
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 500)
    s = rng.integers(0, 6, 500).astype(float)  # heavy ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))


def test_per_group_auc_matches_sklearn_per_user():
    rng = np.random.default_rng(5)
    groups = rng.integers(0, 40, 800)
    y = rng.integers(0, 2, 800)
    s = rng.integers(0, 5, 800).astype(float)
    ids, per = roc_auc_by_group(y, s, groups)
    for g, value in zip(ids, per, strict=True):
        yy, ss = y[groups == g], s[groups == g]
        if len(set(yy)) < 2:
            assert np.isnan(value)
        else:
            assert value == pytest.approx(roc_auc_score(yy, ss))


@pytest.mark.parametrize("tie", ["pessimistic", "optimistic"])
def test_rank_targets_equals_a_loop(tie):
    rng = np.random.default_rng(6)
    scores = rng.integers(0, 4, (50, 12)).astype(float)  # many ties
    targets = rng.integers(0, 12, 50)
    ranks = rank_targets(scores, targets, tie)[:, 0]
    for u in range(50):
        t = scores[u, targets[u]]
        others = np.delete(scores[u], targets[u])
        expected = 1 + (others > t).sum() + ((others == t).sum() if tie == "pessimistic" else 0)
        assert ranks[u] == expected


def test_no_function_mutates_its_input():
    rng = np.random.default_rng(7)
    a, b = rng.random(30), rng.random(30)
    units = [rng.random((2, 2)) for _ in range(10)]
    scores = rng.random((5, 8))
    copies = [a.copy(), b.copy(), [u.copy() for u in units], scores.copy()]
    paired_bootstrap_ci({"a": a, "b": b}, 50)
    paired_difference_ci(a, b, 50)
    bootstrap_ci(units, lambda r: float(r.sum()), 50)
    roc_auc((a > 0.5).astype(int), b)
    roc_auc_by_group((a > 0.5).astype(int), b, np.arange(30) % 3)
    rank_targets(scores, np.array([0, 1, 2, 3, 4]), "pessimistic", scores > 0.9)
    np.testing.assert_array_equal(a, copies[0])
    np.testing.assert_array_equal(b, copies[1])
    for u, c in zip(units, copies[2], strict=True):
        np.testing.assert_array_equal(u, c)
    np.testing.assert_array_equal(scores, copies[3])
