"""Reliability diagrams of the judge's probability of "relevant"."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np

from llmrec.metrics.stats import expected_calibration_error, reliability_bins


def reliability_diagram(
    panels: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[int]]]],
    path: str | os.PathLike,
    n_bins: int = 10,
    title: str = "Judge calibration",
) -> str:
    """Write a PNG with one panel per judge view, one curve per probability variant.

    Args:
        panels: ``{panel title: {curve label: (probabilities, labels)}}``, e.g.
            ``{"profile": {"raw": (p, y), "isotonic": (p_cal, y)}}``.
        path: Output PNG.
        n_bins: Equal-width bins.
        title: Figure title.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(1, len(panels))
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.2), squeeze=False)
    for ax, (name, curves) in zip(axes[0], panels.items(), strict=False):
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfect")
        for label, (p, y) in curves.items():
            bins = reliability_bins(p, y, n_bins)
            filled = bins["count"] > 0
            ece = expected_calibration_error(p, y, n_bins)
            ax.plot(
                bins["confidence"][filled],
                bins["frequency"][filled],
                marker="o",
                label=f"{label} (ECE {ece:.3f})",
            )
        base = float(np.mean(next(iter(curves.values()))[1])) if curves else float("nan")
        ax.axhline(base, color="lightgrey", linewidth=0.8)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_xlabel("judge P(relevant)")
        ax.set_ylabel("observed frequency")
        ax.set_title(name)
        ax.legend(fontsize=8, loc="upper left")
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return str(path)
