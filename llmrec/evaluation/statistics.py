"""Confidence intervals and paired significance tests on per-user metric values.

All systems are evaluated on the same users, so comparisons are paired: the bootstrap resamples
users once and applies the same resamples to every system, and the tests work on per-user
differences.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random(500), rng.random(500) * 0.9
    >>> ci = paired_bootstrap_ci({"a": a, "b": b}, n_resamples=200, seed=0)
    >>> bool(ci["a"].low < a.mean() < ci["a"].high)
    True
    >>> bool(paired_test(a, b, test="t").p_value < 0.05)
    True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass

import numpy as np

TESTS = ("wilcoxon", "t")


@dataclass(frozen=True)
class ConfidenceInterval:
    """A point estimate (mean over users) with a percentile bootstrap interval."""

    mean: float
    low: float
    high: float
    level: float
    n_resamples: int

    def to_dict(self) -> dict:
        return asdict(self)


def _resample_blocks(n: int, n_resamples: int, seed: int, block: int) -> Iterator[np.ndarray]:
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        yield rng.integers(0, n, size=(size, n))  # (size, n) user indices


def _check(n_resamples: int, level: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def paired_bootstrap_ci(
    values: Mapping[str, np.ndarray] | np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, ConfidenceInterval] | ConfidenceInterval:
    """Percentile bootstrap CIs of the mean, with the same user resamples for every system.

    Args:
        values: One ``(n_users,)`` array, or ``{system: (n_users,) array}`` on the same users.
        n_resamples: Bootstrap resamples ``B``.
        level: Coverage (0.95 gives the 2.5 and 97.5 percentiles).
        seed: Resampling seed.

    Returns:
        A :class:`ConfidenceInterval`, or one per system for a mapping.
    """
    _check(n_resamples, level)
    single = not isinstance(values, Mapping)
    data = {"_": np.asarray(values, dtype=np.float64)} if single else {
        k: np.asarray(v, dtype=np.float64) for k, v in values.items()
    }  # fmt: skip
    lengths = {len(v) for v in data.values()}
    if len(lengths) != 1:
        raise ValueError(f"paired systems need equal user counts, got {sorted(lengths)}")
    n = lengths.pop()
    if n == 0:
        raise ValueError("no users to bootstrap")
    stacked = np.stack(list(data.values()))  # (n_systems, n)
    block = max(1, int(2e7 // (n * len(data))))  # keeps each block of resamples ~160 MB
    means = np.concatenate(
        [stacked[:, idx].mean(axis=2).T for idx in _resample_blocks(n, n_resamples, seed, block)]
    )  # (B, n_systems)
    tail = (1 - level) / 2 * 100
    lows, highs = np.percentile(means, [tail, 100 - tail], axis=0)
    out = {
        name: ConfidenceInterval(
            float(stacked[i].mean()), float(lows[i]), float(highs[i]), level, n_resamples
        )
        for i, name in enumerate(data)
    }
    return out["_"] if single else out


def bootstrap_statistic_ci(
    statistic: Callable[[np.ndarray], float],
    n: int,
    n_resamples: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> ConfidenceInterval:
    """Bootstrap CI of any statistic of a user sample (catalogue coverage, Gini, ...).

    Args:
        statistic: ``statistic(user_rows) -> float``; ``user_rows`` indexes the evaluated users
            (``np.arange(n)`` gives the point estimate).
        n: Number of users.
        n_resamples: Resamples (each calls ``statistic`` once).
        level: Coverage.
        seed: Resampling seed (use the same one across systems for paired intervals).
    """
    _check(n_resamples, level)
    values = np.array(
        [statistic(idx) for block in _resample_blocks(n, n_resamples, seed, 64) for idx in block]
    )
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return ConfidenceInterval(
        float(statistic(np.arange(n))), float(low), float(high), level, n_resamples
    )


@dataclass(frozen=True)
class PairedTest:
    """A paired test of system A against system B on the same users.

    Attributes:
        test: ``"wilcoxon"`` (signed-rank) or ``"t"`` (paired t-test).
        statistic: The test statistic (W+ for Wilcoxon, t for the t-test).
        p_value: Two-sided p-value.
        effect_size: Rank-biserial correlation ``(W+ - W-) / (W+ + W-)`` for Wilcoxon, Cohen's
            ``d_z = mean(d) / sd(d)`` for the t-test.
        effect_size_name: ``"rank_biserial"`` or ``"cohens_dz"``.
        mean_diff: ``mean(a - b)``.
        n: Users (all of them; Wilcoxon drops zero differences internally).
    """

    test: str
    statistic: float
    p_value: float
    effect_size: float
    effect_size_name: str
    mean_diff: float
    n: int

    def to_dict(self) -> dict:
        return asdict(self)


def paired_test(a: np.ndarray, b: np.ndarray, test: str = "wilcoxon") -> PairedTest:
    """Paired test of per-user values ``a`` against ``b`` (same users, same order).

    Args:
        a: ``(n_users,)`` values of system A.
        b: ``(n_users,)`` values of system B.
        test: ``"wilcoxon"`` or ``"t"``.

    Example:
        >>> paired_test(np.array([1.0, 1, 1, 0]), np.array([0.0, 0, 0, 0])).effect_size
        1.0
    """
    from scipy import stats

    if test not in TESTS:
        raise ValueError(f"test {test!r} is not one of {TESTS}")
    x = np.asarray(a, dtype=np.float64)
    y = np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired values need equal 1-D shapes, got {x.shape} and {y.shape}")
    d = x - y
    mean_diff = float(d.mean()) if len(d) else 0.0
    if test == "t":
        sd = d.std(ddof=1) if len(d) > 1 else 0.0
        if sd == 0:
            return PairedTest("t", 0.0, 1.0 if mean_diff == 0 else 0.0,
                              0.0 if mean_diff == 0 else float(np.sign(mean_diff) * np.inf),
                              "cohens_dz", mean_diff, len(d))  # fmt: skip
        res = stats.ttest_rel(x, y)
        return PairedTest(
            "t", float(res.statistic), float(res.pvalue), float(mean_diff / sd), "cohens_dz",
            mean_diff, len(d),
        )  # fmt: skip
    nz = d[d != 0]
    if len(nz) == 0:
        return PairedTest("wilcoxon", 0.0, 1.0, 0.0, "rank_biserial", mean_diff, len(d))
    ranks = stats.rankdata(np.abs(nz))
    w_plus, w_minus = float(ranks[nz > 0].sum()), float(ranks[nz < 0].sum())
    res = stats.wilcoxon(nz, zero_method="wilcox")
    effect = (w_plus - w_minus) / (w_plus + w_minus)
    return PairedTest(
        "wilcoxon", w_plus, float(res.pvalue), effect, "rank_biserial", mean_diff, len(d)
    )


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (family-wise error control over several tests).

    Example:
        >>> holm_adjust(np.array([0.01, 0.04, 0.03])).tolist()
        [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p)
    m = len(p)
    adjusted = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adjusted, 1.0)
    return out
