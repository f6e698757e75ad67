"""Calibrators fitted on a dev split: temperature recovers a known temperature, ECE drops."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.judge.calibration import make_calibrator, p_relevant_from_logprobs
from llmrec.metrics.stats import expected_calibration_error


def _overconfident(n: int, seed: int, true_t: float = 3.0):
    """Logprobs whose tempered (T = true_t) p_relevant is the true label probability."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.5, size=(n, 5))
    lp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    p_true = p_relevant_from_logprobs(lp, true_t)
    y = (rng.random(n) < p_true).astype(int)
    return lp, p_relevant_from_logprobs(lp, 1.0), y


def test_temperature_recovers_the_generating_temperature():
    lp, p, y = _overconfident(4000, seed=0)
    cal = make_calibrator("temperature").fit(lp, p, y)
    assert cal.temperature == pytest.approx(3.0, rel=0.15)
    lp2, p2, y2 = _overconfident(4000, seed=1)
    assert expected_calibration_error(
        cal.transform(lp2, p2), y2
    ) < 0.5 * expected_calibration_error(p2, y2)


@pytest.mark.parametrize("kind", ["platt", "isotonic"])
def test_fitted_on_dev_reduces_ece_on_eval(kind):
    lp, p, y = _overconfident(3000, seed=2)
    cal = make_calibrator(kind).fit(lp, p, y)
    lp2, p2, y2 = _overconfident(3000, seed=3)
    out = cal.transform(lp2, p2)
    assert out.shape == p2.shape and np.all((out >= 0) & (out <= 1))
    assert expected_calibration_error(out, y2) < 0.5 * expected_calibration_error(p2, y2)
    if kind == "isotonic":
        order = np.argsort(p2)
        assert np.all(np.diff(out[order]) >= -1e-12)  # monotone in p


def test_unknown_calibrator_lists_the_known_ones():
    with pytest.raises(ValueError, match="isotonic"):
        make_calibrator("beta")
