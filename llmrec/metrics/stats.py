"""Statistics floor: bootstrap intervals, paired tests, Holm, AUC and agreement statistics.

Small, pure, vectorised functions over per-unit (per-user) values; none changes its inputs.
Confidence intervals resample *users*, the independent units, from one stream
(:func:`resample_indices`) and come back as one type, :class:`Interval`. Every layer above
(judge, evaluation, embeddings, training) takes its statistics from here.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.random(500), rng.random(500) * 0.9
    >>> ci = paired_bootstrap_ci({"a": a, "b": b}, n_resamples=200, seed=0)
    >>> bool(ci["a"].low < a.mean() < ci["a"].high)
    True
    >>> bool(paired_test(a, b, test="t").p_value < 0.05)
    True
    >>> roc_auc([1, 0, 0], [0.9, 0.2, 0.4])
    1.0
    >>> round(cohen_kappa([1, 0, 1, 0], [1, 0, 0, 0]), 3)
    0.5
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import rankdata

TESTS = ("wilcoxon", "t")
KAPPA_WEIGHTS = (None, "linear", "quadratic")


@dataclass(frozen=True)
class Interval:
    """A point estimate with a percentile bootstrap confidence interval over users.

    The one interval type of llmrec: every confidence interval in a report has this shape
    (``to_dict()`` gives ``{"value", "low", "high", "n", "level", "n_resamples"}``).

    Attributes:
        value: The statistic on the full sample (not the bootstrap mean).
        low: Lower percentile bound, the ``(1 - level) / 2`` quantile of the resampled values.
        high: Upper percentile bound.
        n: Independent units (users) resampled.
        level: Coverage.
        n_resamples: Bootstrap resamples ``B`` (resamples giving ``nan`` are left out).
    """

    value: float
    low: float
    high: float
    n: int
    level: float = 0.95
    n_resamples: int = 0

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.value:.3f} [{self.low:.3f}, {self.high:.3f}]"


def _check(n_resamples: int, level: float) -> None:
    if n_resamples < 0:
        raise ValueError(f"n_resamples must be >= 0, got {n_resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")


def resample_indices(n: int, n_resamples: int, seed: int, block: int = 256) -> Iterator[np.ndarray]:
    """Bootstrap draws of unit (user) indices, in blocks of shape ``(block, n)``.

    The one resampling stream of llmrec: the same ``(n, n_resamples, seed)`` gives the same
    draws whatever the block size, so two systems evaluated with the same seed are paired.
    """
    rng = np.random.default_rng(seed)
    for start in range(0, n_resamples, block):
        size = min(block, n_resamples - start)
        yield rng.integers(0, n, size=(size, n))  # (size, n) user indices


def _percentiles(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds along axis 0, ignoring ``nan`` draws; ``nan`` where all are."""
    tail = (1 - level) / 2 * 100
    if draws.shape[0] == 0:
        shape = draws.shape[1:]
        return np.full(shape, np.nan), np.full(shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-nan columns give nan bounds
        low, high = np.nanpercentile(draws, [tail, 100 - tail], axis=0)
    return low, high


def paired_bootstrap_ci(
    values: Mapping[str, np.ndarray] | np.ndarray,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval] | Interval:
    """Percentile bootstrap CIs of the mean, with the same user resamples for every system.

    Vectorised: each block of resamples is one fancy-index and one mean over ``(B, n)``.

    Args:
        values: One ``(n_users,)`` array, or ``{system: (n_users,) array}`` on the same users.
        n_resamples: Bootstrap resamples ``B``.
        level: Coverage (0.95 gives the 2.5 and 97.5 percentiles).
        seed: Resampling seed.

    Returns:
        An :class:`Interval`, or one per system for a mapping.

    Example:
        >>> str(paired_bootstrap_ci(np.array([0.0, 1.0, 1.0, 1.0]), 200))
        '0.750 [0.250, 1.000]'
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
        [stacked[:, idx].mean(axis=2).T for idx in resample_indices(n, n_resamples, seed, block)]
        or [np.zeros((0, len(data)))]
    )  # (B, n_systems)
    lows, highs = _percentiles(means, level)
    out = {
        name: Interval(
            float(stacked[i].mean()), float(lows[i]), float(highs[i]), n, level, n_resamples
        )
        for i, name in enumerate(data)
    }
    return out["_"] if single else out


def paired_difference_ci(
    a: np.ndarray, b: np.ndarray, n_resamples: int = 1000, level: float = 0.95, seed: int = 0
) -> Interval:
    """CI of ``mean(a) - mean(b)`` over the same users, both systems on the same resamples.

    Equal to the CI of the mean of the per-user differences ``a - b``.

    Example:
        >>> paired_difference_ci(np.array([1.0, 1, 0]), np.array([0.0, 1, 0]), 100).value
        0.333...
    """
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired values need equal 1-D shapes, got {x.shape} and {y.shape}")
    return paired_bootstrap_ci(x - y, n_resamples, level, seed)


def bootstrap_ci(
    groups: Sequence[np.ndarray | Sequence[float]] | np.ndarray,
    statistic: Callable[[np.ndarray], float] | None = None,
    n_resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of any statistic, resampling whole groups (users).

    The mean of one number per user goes through the vectorised path of
    :func:`paired_bootstrap_ci`; any other statistic (pooled AUC over a user's labelled rows,
    catalogue coverage, macro-F1, ...) is computed once per resample on the concatenated rows
    of the resampled users, with the same resampling stream.

    Args:
        groups: One entry per independent unit; a number per unit (1-D array) or an array of
            rows per unit (rows of resampled units are concatenated along axis 0). Empty
            units are dropped.
        statistic: Function of the concatenated rows; default the mean.
        n_resamples: Resamples ``B``.
        level: Coverage of the interval.
        seed: Seed of the resampling generator.

    Returns:
        :class:`Interval` with the statistic on the full data and the percentile bounds
        (``nan`` bounds when every resample gives ``nan``; all ``nan`` with ``n = 0``).

    Example:
        >>> str(bootstrap_ci(np.array([0.5, 0.7, 0.9]), n_resamples=200))
        '0.700 [0.500, 0.900]'
    """
    _check(n_resamples, level)
    units = [np.atleast_1d(np.asarray(g)) for g in groups]
    units = [u for u in units if u.size]
    if not units:
        return Interval(float("nan"), float("nan"), float("nan"), 0, level, n_resamples)
    if statistic is None and all(u.shape == (1,) for u in units):
        return paired_bootstrap_ci(
            np.concatenate(units).astype(np.float64), n_resamples, level, seed
        )
    stat = statistic or (lambda rows: float(np.mean(rows)))
    rows = np.concatenate(units)
    sizes = np.array([len(u) for u in units])
    offsets = np.cumsum(sizes) - sizes  # first row of each unit
    draws = []
    for block in resample_indices(len(units), n_resamples, seed):
        for pick in block:
            # Row indices of the resampled units, in draw order, without a Python loop.
            lens = sizes[pick]
            shift = np.repeat(offsets[pick] - (np.cumsum(lens) - lens), lens)
            draws.append(stat(rows[np.arange(lens.sum()) + shift]))
    low, high = _percentiles(np.asarray(draws, dtype=np.float64).reshape(-1, 1), level)
    return Interval(
        float(stat(rows)), float(low[0]), float(high[0]), len(units), level, n_resamples
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


def roc_auc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float:
    """Area under the ROC curve: ``P(score(pos) > score(neg)) + 0.5 P(tie)``.

    Computed from mid-ranks (the Mann-Whitney U statistic), so ties count one half.

    Args:
        labels: 1 for positives, 0 for negatives, shape ``(n,)``.
        scores: Higher means more likely positive, shape ``(n,)``.

    Returns:
        AUC in [0, 1]; ``nan`` when one class is absent.
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    if y.shape != s.shape:
        raise ValueError(f"labels {y.shape} and scores {s.shape} differ in shape")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(s)  # mid-ranks for ties, 1-based
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def roc_auc_by_group(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    groups: Sequence[object] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-group (per-user) ROC AUC, the same mid-rank formula as :func:`roc_auc`, vectorised.

    Rows are ranked by score within their group (ties share the mid-rank); per group
    ``AUC_g = (sum of positives' mid-ranks - P_g (P_g + 1) / 2) / (P_g N_g)``.

    Args:
        labels: 1 for positives, 0 for negatives, shape ``(n,)``.
        scores: Higher means more likely positive, shape ``(n,)``.
        groups: Group (user) of each row, shape ``(n,)``.

    Returns:
        ``(group_ids, auc)``: the sorted distinct groups and their AUC (``nan`` for a group
        with one class only).

    Example:
        >>> roc_auc_by_group([1, 0, 1, 0], [0.9, 0.1, 0.2, 0.2], ["a", "a", "b", "b"])[1].tolist()
        [1.0, 0.5]
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=float)
    ids, g = np.unique(np.asarray(groups), return_inverse=True)
    if not (y.shape == s.shape == g.shape) or y.ndim != 1:
        raise ValueError(
            f"labels {y.shape}, scores {s.shape} and groups {g.shape} must be equal 1-D"
        )
    order = np.lexsort((s, g))  # by group, then score
    gs, ss = g[order], s[order]
    new_run = np.r_[True, (gs[1:] != gs[:-1]) | (ss[1:] != ss[:-1])]
    run = np.cumsum(new_run) - 1  # tie run of each sorted row
    group_start = np.searchsorted(gs, gs, side="left")
    position = np.arange(len(gs)) - group_start + 1.0  # 1-based rank within the group
    first = position[new_run]  # (n_runs,) first and last position of each tie run
    last = position[np.r_[new_run[1:], True]]
    midrank = np.empty(len(s))
    midrank[order] = (first[run] + last[run]) / 2
    n_pos = np.bincount(g, weights=y, minlength=len(ids))
    n_all = np.bincount(g, minlength=len(ids))
    n_neg = n_all - n_pos
    rank_sum = np.bincount(g, weights=np.where(y, midrank, 0.0), minlength=len(ids))
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return ids, np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def pairwise_accuracy(
    better: Sequence[float] | np.ndarray, worse: Sequence[float] | np.ndarray
) -> float:
    """Share of pairs ordered correctly: ``mean(1[b > w] + 0.5 * 1[b == w])``.

    Args:
        better: Score of the item that should win, one per pair, shape ``(n_pairs,)``.
        worse: Score of the item that should lose, shape ``(n_pairs,)``.
    """
    b, w = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    if b.shape != w.shape or b.size == 0:
        raise ValueError(f"better {b.shape} and worse {w.shape} must be equal, non-empty shapes")
    return float(np.mean((b > w) + 0.5 * (b == w)))


def cohen_kappa(
    a: Sequence[int] | np.ndarray,
    b: Sequence[int] | np.ndarray,
    weights: str | None = None,
    labels: Sequence[int] | None = None,
) -> float:
    """Cohen's kappa between two raters: ``1 - sum(W * O) / sum(W * E)``.

    ``O`` is the observed confusion matrix (as proportions), ``E`` the outer product of the
    marginals, and ``W`` the disagreement weights: 0/1 (unweighted), ``|i - j|`` (linear) or
    ``(i - j)^2`` (quadratic) over the label positions. Unweighted this is
    ``(p_o - p_e) / (1 - p_e)`` (Cohen 1960; weighted: Cohen 1968).

    Args:
        a: Labels of rater one, shape ``(n,)``.
        b: Labels of rater two, shape ``(n,)``.
        weights: ``None``, ``"linear"`` or ``"quadratic"``.
        labels: The ordered label set; default the sorted union of both raters' labels.

    Returns:
        Kappa; 1.0 when both raters agree perfectly on a single label (no chance term), ``nan``
        for empty input.
    """
    if weights not in KAPPA_WEIGHTS:
        raise ValueError(f"weights must be one of {KAPPA_WEIGHTS}, got {weights!r}")
    x, y = np.asarray(a), np.asarray(b)
    if x.shape != y.shape:
        raise ValueError(f"rater arrays differ in shape: {x.shape} vs {y.shape}")
    if x.size == 0:
        return float("nan")
    levels = np.asarray(sorted(set(x.tolist()) | set(y.tolist())) if labels is None else labels)
    index = {v: k for k, v in enumerate(levels.tolist())}
    k = len(levels)
    observed = np.zeros((k, k))
    for u, v in zip(x.tolist(), y.tolist(), strict=True):
        observed[index[u], index[v]] += 1
    observed /= observed.sum()
    expected = np.outer(observed.sum(1), observed.sum(0))
    i, j = np.indices((k, k))
    if weights is None:
        w = (i != j).astype(float)
    elif weights == "linear":
        w = np.abs(i - j).astype(float)
    else:
        w = ((i - j) ** 2).astype(float)
    denom = (w * expected).sum()
    if denom == 0:
        return 1.0 if (w * observed).sum() == 0 else float("nan")
    return float(1.0 - (w * observed).sum() / denom)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Spearman's rank correlation: Pearson correlation of mid-ranks; ``nan`` if one is constant."""
    rx, ry = rankdata(np.asarray(x, float)), rankdata(np.asarray(y, float))
    if rx.size < 2 or rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def kendall_tau(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> float:
    """Kendall's tau-b (tie-corrected), via scipy; ``nan`` if one input is constant."""
    from scipy.stats import kendalltau

    value = kendalltau(np.asarray(x, float), np.asarray(y, float)).statistic
    return float(value)


def reliability_bins(
    probs: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, n_bins: int = 10
) -> dict[str, np.ndarray]:
    """Equal-width bins of predicted probability: count, mean confidence, observed frequency.

    Returns:
        ``{"edges": (n_bins + 1,), "count": (n_bins,), "confidence": (n_bins,),
        "frequency": (n_bins,)}``; empty bins hold ``nan`` confidence and frequency.
    """
    p = np.clip(np.asarray(probs, float), 0.0, 1.0)
    y = np.asarray(labels, float)
    if p.shape != y.shape:
        raise ValueError(f"probs {p.shape} and labels {y.shape} differ in shape")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        confidence = np.bincount(which, weights=p, minlength=n_bins) / count
        frequency = np.bincount(which, weights=y, minlength=n_bins) / count
    return {"edges": edges, "count": count, "confidence": confidence, "frequency": frequency}


def expected_calibration_error(
    probs: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray, n_bins: int = 10
) -> float:
    """ECE: ``sum_b (n_b / n) * |freq_b - conf_b|`` over equal-width probability bins."""
    bins = reliability_bins(probs, labels, n_bins)
    n = bins["count"].sum()
    if n == 0:
        return float("nan")
    filled = bins["count"] > 0
    gaps = np.abs(bins["frequency"][filled] - bins["confidence"][filled])
    return float((bins["count"][filled] / n * gaps).sum())
