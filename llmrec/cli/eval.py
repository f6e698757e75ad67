"""``llmrec eval``: run an evaluation suite and write results.json plus a report."""

from __future__ import annotations

import argparse

from llmrec.cli._engine import add_engine_args, ray_engine

NAME = "eval"
HELP = "run an offline evaluation suite (metrics with CIs, paired tests, Markdown/HTML report)"


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True, help="suite YAML (e.g. eval/suites/ml100k.yaml)")
    parser.add_argument("--out", required=True, help="output folder for results.json and report")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="evaluate only these recommenders of the suite (by name)",
    )
    parser.add_argument("--max-users", type=int, help="evaluate a seeded sample of users")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    add_engine_args(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from llmrec.evaluation.report import format_cell
    from llmrec.evaluation.suite import load_suite, run_suite

    config = load_suite(args.suite)
    if args.only:
        names = [r.label for r in config.recommenders]
        unknown = sorted(set(args.only) - set(names))
        if unknown:
            raise ValueError(f"--only names unknown recommenders {unknown}; the suite has {names}")
        config.recommenders = [r for r in config.recommenders if r.label in args.only]
    if args.max_users:
        config.protocol.max_users = args.max_users
    evaluate_fn = None
    if args.engine == "ray":
        from llmrec.engines.ranking import ray_evaluate_fn

        evaluate_fn = ray_evaluate_fn(ray_engine(args, progress=False))
    out = run_suite(config, out_dir=args.out, progress=not args.quiet, evaluate_fn=evaluate_fn)
    res = out.results
    width = max(len(n) for n in res["systems"])
    print(f"{'system':<{width}}  " + "  ".join(f"{m:>26}" for m in res["metrics"]))
    for name, system in res["systems"].items():
        cells = [format_cell(system["metrics"].get(m)) for m in res["metrics"]]
        print(f"{name:<{width}}  " + "  ".join(f"{c:>26}" for c in cells))
    print(f"wrote {args.out}/results.json, report.md, report.html")
    return 0
