"""Bootstrap CIs and paired tests: hand-computed values and agreement with scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from llmrec.metrics.stats import holm_adjust, paired_bootstrap_ci, paired_test


def test_bootstrap_ci_covers_and_shrinks():
    rng = np.random.default_rng(0)
    small = rng.random(100)
    large = rng.random(10000)
    ci_small = paired_bootstrap_ci(small, n_resamples=500, seed=1)
    ci_large = paired_bootstrap_ci(large, n_resamples=500, seed=1)
    assert ci_small.low < small.mean() < ci_small.high
    assert (ci_large.high - ci_large.low) < (ci_small.high - ci_small.low) / 5
    # The percentile interval of a mean is close to mean +- 1.96 standard errors.
    se = large.std(ddof=1) / np.sqrt(len(large))
    assert ci_large.high - ci_large.low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_is_paired_and_deterministic():
    rng = np.random.default_rng(0)
    a = rng.random(300)
    out = paired_bootstrap_ci({"a": a, "b": a + 0.1}, n_resamples=300, seed=5)
    # Same resamples for both systems: the shifted system's bounds shift exactly.
    assert out["b"].low == pytest.approx(out["a"].low + 0.1)
    assert out["b"].high == pytest.approx(out["a"].high + 0.1)
    again = paired_bootstrap_ci({"a": a, "b": a + 0.1}, n_resamples=300, seed=5)
    assert again == out
    with pytest.raises(ValueError, match="equal user counts"):
        paired_bootstrap_ci({"a": a, "b": a[:10]})


def test_paired_t_matches_scipy_and_cohens_dz():
    a = np.array([0.2, 0.5, 0.9, 0.4, 0.7])
    b = np.array([0.1, 0.5, 0.6, 0.2, 0.5])
    res = paired_test(a, b, test="t")
    ref = stats.ttest_rel(a, b)
    d = a - b
    assert res.p_value == pytest.approx(ref.pvalue)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.effect_size == pytest.approx(d.mean() / d.std(ddof=1))
    assert res.mean_diff == pytest.approx(d.mean())


def test_wilcoxon_rank_biserial_by_hand():
    a = np.array([3.0, 1.0, 4.0, 2.0, 5.0, 7.0])
    b = np.array([1.0, 2.0, 1.0, 2.0, 1.0, 1.0])
    # Differences 2, -1, 3, 0, 4, 6: the zero is dropped; ranks of |d| = 2, 1, 3, 4, 5.
    res = paired_test(a, b, test="wilcoxon")
    w_plus, w_minus = 2 + 3 + 4 + 5, 1
    assert res.statistic == w_plus
    assert res.effect_size == pytest.approx((w_plus - w_minus) / (w_plus + w_minus))
    assert res.p_value == pytest.approx(stats.wilcoxon(a[a != b] - b[a != b]).pvalue)
    assert paired_test(a, a).p_value == 1.0


def test_holm():
    np.testing.assert_allclose(holm_adjust(np.array([0.01, 0.04, 0.03])), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(holm_adjust(np.array([0.5, 0.9])), [1.0, 1.0])
