"""Readable tables of judge results (the JSON files hold everything)."""

from __future__ import annotations

from typing import Any


def _ci(d: dict[str, Any] | None) -> str:
    if not d:
        return "-"
    return f"{d['value']:.3f} [{d['low']:.3f}, {d['high']:.3f}]"


def _versus(block: dict[str, Any] | None) -> str:
    if not block or "auc_difference" not in block:
        return "-"
    return f"{_ci(block['auc_difference'])} vs {block['best_baseline']}"


def format_validation(result: dict[str, Any]) -> str:
    """One row per judge view: the study's headline metrics with 95% intervals."""
    if result["study"] in ("heldout", "rated"):
        cols = [("AUC pooled", "auc_pooled"), ("AUC per user", "auc_per_user")]
    else:
        cols = [
            ("Spearman", "spearman"),
            ("acc 1-5", "accuracy_exact"),
            ("kappa_w", "kappa_quadratic"),
            ("acc rel", "accuracy_relevant"),
            ("kappa rel", "kappa_relevant"),
        ]
    header = ["view", *[c for c, _ in cols], "pairwise acc", "pos. bias", "ECE raw", "ECE cal"]
    header += ["vs best baseline"] if "baselines" in result else []
    rows = [header]
    for name, block in result.get("baselines", {}).items():
        rows.append(
            [f"baseline: {name}", *[_ci(block.get(key)) for _, key in cols]]
            + ["-"] * (len(header) - 1 - len(cols))
        )
    for view, block in result["views"].items():
        pw = block.get("pairwise", {})
        cal = block.get("calibration", {})
        rows.append(
            [
                view,
                *[_ci(block.get(key)) for _, key in cols],
                _ci(pw.get("accuracy")),
                f"{pw['position_bias_rate']:.2f}" if pw else "-",
                f"{cal['ece_raw']:.3f}" if cal else "-",
                f"{cal['ece_calibrated']:.3f}" if cal.get("ece_calibrated") is not None else "-",
            ]
            + ([_versus(block.get("vs_best_baseline"))] if "baselines" in result else [])
        )
    widths = [max(len(str(r[k])) for r in rows) for k in range(len(header))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    title = f"{result['study']} validation on {result['dataset']}, {result['users']} users"
    if result["study"] == "heldout":
        title += f", {result['config']['negatives']} negatives"
    return "\n".join([title, *lines])


def format_injection(result: dict[str, Any]) -> str:
    """Per attack: pointwise mean score shift and pairwise win-rate shift, with intervals."""
    lines = [
        f"injection, {result['users']} users; clean mean score "
        f"{result['pointwise']['clean_mean_score']:.3f}, clean win rate "
        f"{result['pairwise']['clean_win_rate']:.3f}",
        f"{'attack':<20} {'score shift':<28} {'share up':<9} {'win-rate shift':<28}",
    ]
    for name, block in result["pointwise"].items():
        if not isinstance(block, dict):
            continue
        pair = result["pairwise"].get(name, {})
        lines.append(
            f"{name:<20} {_ci(block['mean_shift']):<28} {block['share_increased']:<9.2f} "
            f"{_ci(pair.get('shift')):<28}"
        )
    return "\n".join(lines)
