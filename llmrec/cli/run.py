"""``llmrec run``: the end-to-end pipeline (what ``make demo`` runs)."""

from __future__ import annotations

import argparse

NAME = "run"
HELP = "run the end-to-end pipeline: data, profiles, evaluation, judge, embeddings, report"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="pipeline YAML (default: the embedded demo settings)")
    parser.add_argument("--out", help="output folder (overrides the config's `out`)")
    parser.add_argument("--llm", help="LLM: alias, hub id, path or openai:<url>#<model>")
    parser.add_argument("--data", help="dataset name or path")
    parser.add_argument("--fresh", action="store_true", help="ignore cached step results")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import logging

    from llmrec.pipeline import run_pipeline
    from llmrec.pipeline.config import load_config

    overrides: dict = {}
    if args.out:
        overrides["out"] = args.out
    if args.llm:
        overrides.setdefault("models", {})["llm"] = args.llm
    if args.data:
        overrides.setdefault("data", {})["name"] = args.data
    config = load_config(args.config, overrides)
    # The library only logs; the command shows each step's start and time (progress bars too).
    logging.getLogger("llmrec.pipeline").setLevel(logging.INFO)
    result = run_pipeline(config, fresh=args.fresh, progress=True)
    print(f"\nReport: {result.report_html}")
    print(f"        {result.report_md}")
    print(f"        {result.results_json}")
    return 0
