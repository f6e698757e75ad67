"""Render evaluation results: Markdown tables, PNG plots, a self-contained HTML page.

Functions take the plain ``results`` dict that :func:`llmrec.evaluation.suite.run_suite` writes
to ``results.json`` (so a report can be rebuilt from the JSON alone), and can be reused for any
table of ``{system: {metric: {"value", "low", "high"}}}``.

Example:
    >>> import json
    >>> from llmrec.evaluation.report import write_report
    >>> results = json.load(open("out/results.json"))  # doctest: +SKIP
    >>> write_report(results, "out")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def format_cell(entry: Mapping[str, Any] | float | None, digits: int = 4) -> str:
    """``0.0737 [0.0601, 0.0881]`` from ``{"value", "low", "high"}``; a bare float as is."""
    if entry is None:
        return "-"
    if not isinstance(entry, Mapping):
        return f"{float(entry):.{digits}f}"
    text = f"{entry['value']:.{digits}f}"
    if entry.get("low") is not None and entry.get("high") is not None:
        text += f" [{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"
    return text


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub Markdown table."""
    lines = ["| " + " | ".join(map(str, headers)) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """An HTML table with escaped cells."""
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def metric_rows(
    systems: Mapping[str, Mapping[str, Any]], metrics: Sequence[str], key: str = "metrics"
) -> tuple[list[str], list[list[str]]]:
    """Headers and rows (one per system) of ``value [low, high]`` cells."""
    headers = ["system", *metrics]
    rows = [
        [name, *(format_cell(sys_.get(key, {}).get(m)) for m in metrics)]
        for name, sys_ in systems.items()
    ]
    return headers, rows


def test_rows(tests: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Headers and rows of paired tests (system vs baseline, per metric)."""
    headers = ["metric", "system", "baseline", "mean diff", "test", "p", "p (Holm)", "effect"]
    rows = [
        [
            t["metric"], t["system"], t["baseline"], f"{t['mean_diff']:+.4f}", t["test"],
            f"{t['p_value']:.2e}", f"{t['p_holm']:.2e}",
            f"{t['effect_size']:+.3f} ({t['effect_size_name']})",
        ]
        for t in tests
    ]  # fmt: skip
    return headers, rows


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


def plot_metric_curves(curves: Mapping[str, Mapping[str, Mapping[str, float]]]) -> bytes:
    """PNG of metric@K against K, one panel per metric, one line per system.

    Args:
        curves: ``{system: {metric: {k: value}}}`` (``k`` as str or int).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = sorted({m for per in curves.values() for m in per})
    fig, axes = plt.subplots(1, max(len(metrics), 1), figsize=(4.2 * max(len(metrics), 1), 3.4))
    axes = [axes] if len(metrics) <= 1 else list(axes)
    for ax, metric in zip(axes, metrics):
        for system, per in curves.items():
            points = sorted((int(k), v) for k, v in per.get(metric, {}).items())
            if points:
                ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=system)
        ax.set_xscale("log")
        ax.set_xlabel("K")
        ax.set_ylabel(f"{metric}@K")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Accuracy at cut-off K")
    fig.tight_layout()
    return _png(fig)


def plot_popularity_bias(
    systems: Mapping[str, Mapping[str, Any]], arp_metric: str, tail_metric: str | None = None,
    history_arp: float | None = None,
) -> bytes:  # fmt: skip
    """PNG of average recommended popularity (with CIs) and long-tail share per system.

    Args:
        systems: ``results["systems"]``.
        arp_metric: Name of the ARP metric (``"arp@10"``).
        tail_metric: Name of the long-tail share metric (``"long_tail@10"``), optional.
        history_arp: Mean popularity of the users' training items, drawn as a reference line.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(systems)
    panels = [arp_metric] + ([tail_metric] if tail_metric else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4))
    axes = [axes] if len(panels) == 1 else list(axes)
    for ax, metric in zip(axes, panels):
        entries = [systems[n]["metrics"].get(metric) for n in names]
        values = [e["value"] if e else 0.0 for e in entries]
        low = [e["value"] - e["low"] if e and e.get("low") is not None else 0 for e in entries]
        high = [e["high"] - e["value"] if e and e.get("high") is not None else 0 for e in entries]
        ax.bar(names, values, yerr=[low, high], capsize=3, color="#4c72b0")
        if metric == arp_metric and history_arp is not None:
            ax.axhline(history_arp, color="#c44e52", ls="--", label="users' training items")
            ax.legend(fontsize=8)
        ax.set_ylabel(metric)
        ax.tick_params(axis="x", rotation=30)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Popularity bias")
    fig.tight_layout()
    return _png(fig)


def build_plots(results: Mapping[str, Any]) -> dict[str, bytes]:
    """The standard plots of a suite's results: ``{"metric_curves": png, "popularity": png}``."""
    plots: dict[str, bytes] = {}
    curves = {name: s.get("curves", {}) for name, s in results["systems"].items()}
    if any(curves.values()):
        plots["metric_curves"] = plot_metric_curves(curves)
    metric_names = {m for s in results["systems"].values() for m in s.get("metrics", {})}
    arp = next((m for m in sorted(metric_names) if m.startswith("arp@")), None)
    tail = next((m for m in sorted(metric_names) if m.startswith("long_tail@")), None)
    if arp:
        plots["popularity"] = plot_popularity_bias(
            results["systems"], arp, tail, results.get("history_arp")
        )
    return plots


def _header_lines(results: Mapping[str, Any]) -> list[tuple[str, str]]:
    return [
        ("data", str(results.get("data", {}))),
        ("split", str(results.get("split", {}))),
        ("protocol", str(results.get("protocol", {}))),
        ("users evaluated", str(results.get("n_users", "?"))),
        ("confidence intervals", str(results.get("statistics", {}))),
    ]


def render_markdown(results: Mapping[str, Any], images: Mapping[str, str] | None = None) -> str:
    """Markdown report; ``images`` maps plot names to file names written beside it."""
    metrics = results.get("metrics", [])
    out = [f"# Evaluation: {results.get('suite', 'suite')}", ""]
    out += [f"- **{k}**: `{v}`" for k, v in _header_lines(results)]
    out += ["", "## Results (mean over users, 95% bootstrap CI)", ""]
    out.append(markdown_table(*metric_rows(results["systems"], metrics)))
    if any(s.get("corrected") for s in results["systems"].values()):
        corrected = [
            m
            for m in metrics
            if any(m in s.get("corrected", {}) for s in results["systems"].values())
        ]
        out += ["", "## Krichene-Rendle corrected estimates of full-ranking values", ""]
        out.append(markdown_table(*metric_rows(results["systems"], corrected, key="corrected")))
    if results.get("tests"):
        out += ["", "## Paired tests against the baseline", ""]
        out.append(markdown_table(*test_rows(results["tests"])))
    for name, file in (images or {}).items():
        out += ["", f"## {name.replace('_', ' ').capitalize()}", "", f"![{name}]({file})"]
    timing = [[n, f"{s['seconds'].get('fit', 0):.1f}", f"{s['seconds'].get('evaluate', 0):.1f}"]
              for n, s in results["systems"].items()]  # fmt: skip
    out += ["", "## Time (seconds)", "", markdown_table(["system", "fit", "evaluate"], timing)]
    return "\n".join(out) + "\n"


def render_html(results: Mapping[str, Any], plots: Mapping[str, bytes] | None = None) -> str:
    """A self-contained HTML report: tables and base64-embedded PNG plots."""
    metrics = results.get("metrics", [])
    title = html.escape(f"Evaluation: {results.get('suite', 'suite')}")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{title}</title><style>body{{font-family:sans-serif;max-width:1200px;margin:auto}}"
        "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;"
        "padding:3px 6px;text-align:right}th:first-child,td:first-child{text-align:left}"
        "img{max-width:100%}</style></head><body>",
        f"<h1>{title}</h1><ul>",
        *(f"<li><b>{html.escape(k)}</b>: <code>{html.escape(v)}</code></li>" for k, v in _header_lines(results)),
        "</ul><h2>Results (mean over users, 95% bootstrap CI)</h2>",
        html_table(*metric_rows(results["systems"], metrics)),
    ]  # fmt: skip
    if any(s.get("corrected") for s in results["systems"].values()):
        parts += ["<h2>Krichene-Rendle corrected estimates</h2>"]
        parts.append(html_table(*metric_rows(results["systems"], metrics, key="corrected")))
    if results.get("tests"):
        parts += [
            "<h2>Paired tests against the baseline</h2>",
            html_table(*test_rows(results["tests"])),
        ]
    for name, png in (plots or {}).items():
        data = base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(name.replace('_', ' ').capitalize())}</h2>")
        parts.append(f"<img alt='{html.escape(name)}' src='data:image/png;base64,{data}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(results: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.md`` (with PNG files beside it) and self-contained ``report.html``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plots = build_plots(results)
    images = {}
    for name, png in plots.items():
        (out / f"{name}.png").write_bytes(png)
        images[name] = f"{name}.png"
    paths = {"markdown": out / "report.md", "html": out / "report.html"}
    paths["markdown"].write_text(render_markdown(results, images), encoding="utf-8")
    paths["html"].write_text(render_html(results, plots), encoding="utf-8")
    return paths
