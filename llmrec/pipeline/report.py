"""The pipeline's report: one self-contained HTML page, with Markdown and JSON beside it.

The page is assembled from blocks (headings, text, tables, images, code) that render to both
HTML and Markdown, so the two never drift apart. Images are embedded as base64 in the HTML and
written as PNG files beside the Markdown. Tables and plots of evaluation results reuse
:mod:`llmrec.evaluation.report`.
"""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from llmrec.evaluation.report import (
    build_plots,
    format_cell,
    html_table,
    markdown_table,
    metric_rows,
)

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1180px;margin:0 auto;
padding:0 24px 48px;color:#1f2328;line-height:1.45}
h1{border-bottom:2px solid #4c72b0;padding-bottom:6px}h2{margin-top:36px;color:#2b4c7e}
nav{background:#f3f6fa;padding:8px 14px;border-radius:6px}nav a{margin-right:14px}
table{border-collapse:collapse;font-size:13px;margin:8px 0}
td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:right;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f6f8fa}th:first-child,td:first-child{text-align:left}
img{max-width:100%;border:1px solid #eee;margin:6px 0}
pre{background:#f6f8fa;padding:10px;overflow-x:auto;font-size:12px}
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:18px;
border:1px solid #d0d7de;border-radius:6px;padding:10px 14px;margin:12px 0}
.pair>div{min-width:0;overflow-wrap:anywhere}
.pair p,.pair pre{max-height:22em;overflow:auto;overflow-wrap:anywhere}
.pair pre{white-space:pre-wrap}
.pair h4{margin:4px 0}.pair ol{margin:0;padding-left:20px;font-size:13px}
.muted{color:#57606a;font-size:13px}
"""


@dataclass
class Doc:
    """An ordered list of blocks rendered to HTML and Markdown."""

    title: str
    blocks: list[tuple[str, Any]] = field(default_factory=list)
    images: dict[str, bytes] = field(default_factory=dict)

    def h2(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def h3(self, text: str) -> None:
        self.blocks.append(("h3", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.blocks.append(("table", (list(headers), [list(r) for r in rows])))

    def image(self, name: str, png: bytes, alt: str) -> None:
        self.images[name] = png
        self.blocks.append(("image", (name, alt)))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def raw(self, html_text: str, markdown: str) -> None:
        self.blocks.append(("raw", (html_text, markdown)))

    @staticmethod
    def anchor(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")

    def html(self) -> str:
        nav = " ".join(
            f"<a href='#{self.anchor(t)}'>{html.escape(t)}</a>" for k, t in self.blocks if k == "h2"
        )
        parts = [
            "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
            f"<meta name='viewport' content='width=device-width'><title>{html.escape(self.title)}"
            f"</title><style>{_CSS}</style></head><body>",
            f"<h1>{html.escape(self.title)}</h1><nav>{nav}</nav>",
        ]
        for kind, value in self.blocks:
            if kind == "h2":
                parts.append(f"<h2 id='{self.anchor(value)}'>{html.escape(value)}</h2>")
            elif kind == "h3":
                parts.append(f"<h3>{html.escape(value)}</h3>")
            elif kind == "p":
                parts.append(f"<p>{html.escape(value)}</p>")
            elif kind == "table":
                parts.append(html_table(*value))
            elif kind == "image":
                name, alt = value
                data = base64.b64encode(self.images[name]).decode("ascii")
                parts.append(f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>")
            elif kind == "code":
                parts.append(f"<pre>{html.escape(value)}</pre>")
            elif kind == "raw":
                parts.append(value[0])
        parts.append("</body></html>")
        return "\n".join(parts)

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h2":
                out += [f"## {value}", ""]
            elif kind == "h3":
                out += [f"### {value}", ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "table":
                out += [markdown_table(*value), ""]
            elif kind == "image":
                out += [f"![{value[1]}](report_files/{value[0]}.png)", ""]
            elif kind == "code":
                out += ["```", value, "```", ""]
            elif kind == "raw":
                out += [value[1], ""]
        return "\n".join(out)


def _profiles_section(doc: Doc, result: dict[str, Any]) -> None:
    doc.h2("Profiles")
    rows = [
        [fmt, f["ok"], f["failed"], f["prompt"], f["strategy"], f["completion_tokens"]]
        for fmt, f in result["formats"].items()
    ]
    doc.p(
        f"{len(result['users'])} users profiled from their training interactions only "
        "(held-out items never reach a prompt). Failed structured profiles are kept with their "
        "raw text, never dropped."
    )
    doc.table(["format", "ok", "failed", "prompt", "strategy", "tokens generated (this run)"], rows)
    for sample in result["samples"]:
        attrs = ", ".join(f"{k} {v}" for k, v in sample["attributes"].items() if k != "zip_code")
        items = "".join(
            f"<li>{html.escape(h['title'])} ({h['year'] or '?'}; {html.escape(', '.join(h['genres']))})"
            f"{' — rated ' + format(h['rating'], 'g') if h['rating'] is not None else ''}</li>"
            for h in sample["history"]
        )
        structured = sample["structured"]
        struct_text = (
            json.dumps(structured, indent=1, ensure_ascii=False)
            if structured
            else f"[{sample['structured_status']}] {sample['structured_raw'] or ''}"
        )
        free = sample["free"] or f"[{sample['free_status']}]"
        doc.raw(
            f"<div class='pair'><div><h4>User {html.escape(sample['user_id'])}"
            f" <span class='muted'>{html.escape(attrs)}</span></h4>"
            f"<p class='muted'>Recent training history, newest first</p><ol>{items}</ol></div>"
            f"<div><h4>Free-text profile</h4><p>{html.escape(free)}</p>"
            f"<h4>Structured profile</h4><pre>{html.escape(struct_text)}</pre></div></div>",
            f"**User {sample['user_id']}** ({attrs}). Recent history: "
            + "; ".join(h["title"] for h in sample["history"][:10])
            + f"\n\n> {free}\n\n```json\n{struct_text}\n```",
        )


def _evaluation_section(doc: Doc, results: dict[str, Any], title: str, note: str) -> None:
    doc.h2(title)
    doc.p(note)
    metrics = results.get("metrics", [])
    doc.table(*metric_rows(results["systems"], metrics))
    if results.get("tests"):
        rows = [
            [
                t["metric"],
                t["system"],
                t["baseline"],
                f"{t['mean_diff']:+.4f}",
                f"{t['p_holm']:.1e}",
            ]
            for t in results["tests"]
            if t["metric"] in metrics[:2]
        ]
        doc.p("Paired tests against the baseline (Holm-adjusted p-values):")
        doc.table(["metric", "system", "baseline", "mean diff", "p (Holm)"], rows)
    for name, png in build_plots(results).items():
        doc.image(f"{Doc.anchor(title)}-{name}", png, f"{title}: {name.replace('_', ' ')}")


def _judge_section(doc: Doc, result: dict[str, Any]) -> None:
    doc.h2("Judge")
    validation = result["validation"]
    doc.p(
        f"Pointwise judge ({validation['config']['mode']} mode) on {validation['users']} users: "
        "each user's real next item against negatives from its popularity decile, with the "
        "non-LLM baselines on the same pairs. AUC with 95% bootstrap CIs (resampling users); "
        "the last column is the judge's paired per-user AUC difference to the best baseline."
    )
    rows = []
    for name, block in validation.get("baselines", {}).items():
        rows.append(
            [f"baseline: {name}", format_cell(block["auc_pooled"], 3)]
            + [format_cell(block["auc_per_user"], 3), "-", "-", "-", "-"]
        )
    for view, block in validation["views"].items():
        calib = block.get("calibration", {})
        pairwise = block.get("pairwise", {})
        rows.append(
            [
                view,
                format_cell(block["auc_pooled"], 3),
                format_cell(block["auc_per_user"], 3),
                format_cell(pairwise.get("accuracy"), 3) if pairwise else "-",
                format_cell(calib.get("ece_raw"), 3) if calib else "-",
                format_cell(calib.get("ece_calibrated"), 3) if calib else "-",
                format_cell(block.get("vs_best_baseline", {}).get("auc_difference"), 3),
            ]
        )
    doc.table(
        ["judge sees", "AUC (pooled)", "AUC (per user)", "pairwise acc.", "ECE", "ECE calibrated"]
        + ["vs best baseline"],
        rows,
    )
    trained = [v for v in validation["views"] if v.endswith(", trained")]
    if trained:
        doc.p(
            f"Rows marked 'trained' are the LoRA judge of `judge.adapter` "
            f"({validation['config'].get('adapter') or 'recipes/judge.py'}) on the same pairs, "
            "seeing the history it was trained with (judge.adapter_max_history items)."
        )
    else:
        doc.p(
            "A judge trained on its own prompt and answer format (recipes/judge.py, LoRA SFT of "
            "the same model) is not trained in this run; set `judge.adapter` to its output folder "
            "to add its rows here, or run `llmrec judge validate --adapter <dir>`. "
            "docs/judge.md reports a documented CPU run."
        )
    png = Path(validation.get("reliability_png", ""))
    if png.is_file():
        doc.image("judge-reliability", png.read_bytes(), "Judge reliability diagram")
    comp = result["comparison"]
    doc.h3(f"{comp['a']} vs {comp['b']}, judged pairwise")
    doc.p(
        f"Top-{comp['k']} lists of both systems for {comp['users']} users, judged in both orders; "
        "a win counts only when both orders agree."
    )
    doc.table(
        ["win rate of " + comp["a"], "wins", "losses", "ties", "position-bias rate"],
        [
            [
                format_cell(comp["win_rate_a"], 3),
                comp["wins_a"],
                comp["wins_b"],
                comp["ties"],
                f"{comp['position_bias_rate']:.3f}",
            ]
        ],
    )


def _embeddings_section(doc: Doc, result: dict[str, Any]) -> None:
    doc.h2("User embeddings")
    doc.p(
        "Instruction-aware user embeddings: linear probes, next-item retrieval and instruction "
        "sensitivity, with 95% bootstrap CIs."
    )
    table = result.get("table")
    if table:
        lines = [ln for ln in table.strip().splitlines() if ln.startswith("|")]
        if len(lines) > 2:
            headers = [c.strip() for c in lines[0].strip("|").split("|")]
            rows = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines[2:]]
            doc.table(headers, rows)
    png = result.get("plot_png")
    if png and Path(png).is_file():
        doc.image("embeddings", Path(png).read_bytes(), "User-embedding results")


def _ci(result: dict[str, Any], key: str) -> str:
    if key not in result:
        return "n/a"
    low, high = result.get(f"{key}_ci_low"), result.get(f"{key}_ci_high")
    if low is None or high is None:
        return f"{result[key]:.3f}"
    return f"{result[key]:.3f} [{low:.3f}, {high:.3f}]"


def _sft_section(doc: Doc, result: dict[str, Any]) -> None:
    doc.h2("LoRA SFT")
    doc.p(
        f"The LLM fine-tuned with LoRA for next-item prediction ({result.get('config', '?')}), "
        f"{result.get('train_examples', '?')} training examples; "
        f"{int(result.get('eval_users', 0))} held-out users rank their held-out item among "
        "sampled candidates by title log-probability, before (adapter off) and after tuning. "
        "Means with 95% bootstrap CIs; the difference is paired per user."
    )
    names = sorted(
        k.removeprefix("tuned_")
        for k in result
        if k.startswith("tuned_") and not k.endswith(("_ci_low", "_ci_high"))
    )
    doc.table(
        ["metric", "untuned", "tuned", "difference (paired)"],
        [
            [n, _ci(result, f"untuned_{n}"), _ci(result, f"tuned_{n}"), _ci(result, f"diff_{n}")]
            for n in names
        ],
    )


def build_report(records: dict[str, dict[str, Any]], config: dict[str, Any], out: Path) -> dict:
    """Write ``report.html``, ``report.md`` (+ ``report_files/``) and ``results.json``."""
    doc = Doc("llmrec report")
    data = records["data"]["result"]
    stats = data["stats"]
    doc.h2("Dataset")
    doc.table(
        ["dataset", "users", "items", "interactions", "density", "median history", "split"],
        [
            [
                stats["name"],
                stats["users"],
                stats["items"],
                stats["interactions"],
                f"{stats['density']:.4f}",
                stats["history_length_quantiles"].get("p50", "-"),
                data["split"]["strategy"],
            ]
        ],
    )
    doc.p(
        "Most interacted items: "
        + "; ".join(f"{m['title']} ({m['interactions']})" for m in data["most_popular"])
    )
    if "profiles" in records:
        _profiles_section(doc, records["profiles"]["result"])
    if "evaluation" in records:
        _evaluation_section(
            doc,
            records["evaluation"]["result"],
            "Recommenders under full ranking",
            "Every item ranked for every user, training items masked, ties counted "
            "pessimistically; means over users with 95% paired bootstrap CIs.",
        )
    if "rerank" in records:
        res = records["rerank"]["result"]
        _evaluation_section(
            doc,
            res,
            "LLM reranker",
            f"The base recommender's top candidates rescored by the LLM through log P(Yes) - "
            f"log P(No), with the user's profile or with their raw recent history, on the "
            f"{res.get('n_users', '?')} profiled users (full ranking).",
        )
    if "judge" in records:
        _judge_section(doc, records["judge"]["result"])
    if "embeddings" in records:
        _embeddings_section(doc, records["embeddings"]["result"])
    if "sft" in records:
        _sft_section(doc, records["sft"]["result"])
    doc.h2("Timings")
    doc.table(
        ["step", "seconds", "from cache"],
        [
            [name, f"{r['seconds']:.1f}", "yes" if r["cached"] else "no"]
            for name, r in records.items()
        ],
    )
    doc.h2("Configuration")
    import yaml

    doc.code(yaml.safe_dump(config, sort_keys=False))

    out.mkdir(parents=True, exist_ok=True)
    files = out / "report_files"
    files.mkdir(exist_ok=True)
    for name, png in doc.images.items():
        (files / f"{name}.png").write_bytes(png)
    paths = {
        "html": out / "report.html",
        "markdown": out / "report.md",
        "json": out / "results.json",
    }
    paths["html"].write_text(doc.html(), encoding="utf-8")
    paths["markdown"].write_text(doc.markdown(), encoding="utf-8")
    summary = {
        "config": config,
        "steps": {
            name: {"seconds": r["seconds"], "cached": r["cached"]} for name, r in records.items()
        },
        "results": {name: r["result"] for name, r in records.items()},
    }
    paths["json"].write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    return paths
