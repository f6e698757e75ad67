"""Agreement statistics against hand-computed values and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr
from sklearn.metrics import cohen_kappa_score, roc_auc_score

from llmrec.metrics.stats import (
    bootstrap_ci,
    cohen_kappa,
    expected_calibration_error,
    kendall_tau,
    pairwise_accuracy,
    reliability_bins,
    roc_auc,
    spearman,
)


def test_auc_hand_computed_with_ties():
    # positives 0.8, 0.4; negatives 0.4, 0.1, 0.9.
    # pairs (pos > neg): 0.8 beats 0.4 and 0.1 (2), loses to 0.9; 0.4 ties 0.4 (0.5), beats 0.1 (1)
    # AUC = (2 + 1.5) / 6
    labels = [1, 1, 0, 0, 0]
    scores = [0.8, 0.4, 0.4, 0.1, 0.9]
    assert roc_auc(labels, scores) == pytest.approx(3.5 / 6)
    assert roc_auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores))


def test_auc_random_matches_sklearn_and_handles_one_class():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.normal(size=200) + y, 1)  # rounding makes ties
    assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s))
    assert np.isnan(roc_auc([1, 1], [0.2, 0.3]))


def test_pairwise_accuracy_counts_ties_half():
    assert pairwise_accuracy([3, 2, 1], [1, 2, 3]) == pytest.approx((1 + 0.5 + 0) / 3)


def test_cohen_kappa_hand_computed():
    # 2x2 table: both yes 20, a yes b no 5, a no b yes 10, both no 15 (n = 50)
    # p_o = 35/50 = 0.7; p_yes = 25/50 * 30/50 = 0.3, p_no = 25/50 * 20/50 = 0.2, p_e = 0.5
    # kappa = (0.7 - 0.5) / (1 - 0.5) = 0.4
    a = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    b = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(a, b) == pytest.approx(0.4)


@pytest.mark.parametrize("weights", [None, "linear", "quadratic"])
def test_cohen_kappa_matches_sklearn(weights):
    rng = np.random.default_rng(1)
    a = rng.integers(1, 6, 300)
    b = np.clip(a + rng.integers(-1, 2, 300), 1, 5)
    assert cohen_kappa(a, b, weights) == pytest.approx(cohen_kappa_score(a, b, weights=weights))


def test_cohen_kappa_fixed_labels_and_errors():
    # a label set larger than the observed one leaves kappa unchanged
    assert cohen_kappa([1, 2, 2], [1, 2, 1], labels=[0, 1, 2, 3]) == pytest.approx(
        cohen_kappa([1, 2, 2], [1, 2, 1])
    )
    assert cohen_kappa([3, 3], [3, 3]) == 1.0
    with pytest.raises(ValueError, match="weights must be one of"):
        cohen_kappa([1], [1], weights="cubic")


def test_rank_correlations_match_scipy():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 5, 50)
    y = x + rng.normal(size=50)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic)
    assert kendall_tau(x, y) == pytest.approx(kendalltau(x, y).statistic)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_ece_hand_computed():
    # bins of width 0.5: [0.2, 0.4] -> conf 0.3, freq 0.5; [0.9, 0.7] -> conf 0.8, freq 0.5
    # ECE = 0.5 * |0.5 - 0.3| + 0.5 * |0.5 - 0.8| = 0.1 + 0.15
    p, y = [0.2, 0.4, 0.9, 0.7], [1, 0, 1, 0]
    assert expected_calibration_error(p, y, n_bins=2) == pytest.approx(0.25)
    bins = reliability_bins(p, y, n_bins=2)
    assert bins["count"].tolist() == [2, 2]
    assert bins["confidence"] == pytest.approx([0.3, 0.8])


def test_bootstrap_resamples_groups_and_is_seeded():
    groups = [np.array([1.0, 1.0]), np.array([0.0]), np.array([1.0, 0.0, 1.0])]
    a = bootstrap_ci(groups, n_resamples=300, seed=3)
    b = bootstrap_ci(groups, n_resamples=300, seed=3)
    assert a == b
    assert a.value == pytest.approx(4 / 6)  # mean of the concatenated rows
    assert a.n == 3 and a.low <= a.value <= a.high
    assert a.low >= 0.0 and a.high <= 1.0
    # a constant statistic has a zero-width interval
    c = bootstrap_ci(np.ones(10), n_resamples=50)
    assert (c.low, c.value, c.high) == (1.0, 1.0, 1.0)
