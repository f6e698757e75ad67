"""Confidence intervals in a recipe's flat metrics (``metrics.json``, trainer logs)."""

from __future__ import annotations

import numpy as np

from llmrec.metrics.stats import Interval, paired_bootstrap_ci, paired_difference_ci


def interval_metrics(key: str, interval: Interval) -> dict[str, float]:
    """An :class:`~llmrec.metrics.stats.Interval` as flat trainer metrics.

    Trainer logs and ``metrics.json`` hold flat ``{name: float}`` rows, so the interval is
    ``{key: value, key_ci_low: low, key_ci_high: high}``.
    """
    return {key: interval.value, f"{key}_ci_low": interval.low, f"{key}_ci_high": interval.high}


def before_after_metrics(
    before: np.ndarray, after: np.ndarray, name: str, seed: int = 0
) -> dict[str, float]:
    """``before_<name>``, ``after_<name>`` and ``diff_<name>`` (paired), each with a 95% CI.

    All three use the same user resamples (one seed), so the difference is paired.
    """
    cis = paired_bootstrap_ci({"before": before, "after": after}, seed=seed)
    out: dict[str, float] = {}
    for label, interval in (
        ("before", cis["before"]),
        ("after", cis["after"]),
        ("diff", paired_difference_ci(after, before, seed=seed)),
    ):
        out.update(interval_metrics(f"{label}_{name}", interval))
    return out
