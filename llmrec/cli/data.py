"""``llmrec data``: fetch named datasets, print statistics, generate a synthetic world.

Examples::

    llmrec data fetch ml-100k
    llmrec data stats ml-100k --json
    llmrec data stats ratings.csv --column user_id=uid --column item_id=movie --on-error skip
    llmrec data synth --users 1000 --items 500 --seed 0 --out world/
"""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "fetch datasets, show their statistics, generate a synthetic world"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help="place a named dataset (ml-100k) in the cache")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true", help="rebuild even if the copy is intact")
    fetch.set_defaults(func=_fetch)

    stats = sub.add_parser(
        "stats",
        help="users, items, interactions, density, history lengths",
        description="Statistics of a named dataset or of any path load_dataset accepts.",
    )
    stats.add_argument("name_or_path")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column mapping for tables, e.g. user_id=uid (repeatable)",
    )
    stats.add_argument("--on-error", choices=("raise", "skip"), help="malformed rows")
    stats.add_argument("--unknown-items", choices=("raise", "skip", "add"))
    stats.add_argument("--dedupe", action="store_true", help="drop exact duplicate rows")
    stats.add_argument("--encoding", help="text encoding of a table (default utf-8)")
    stats.set_defaults(func=_stats)

    synth = sub.add_parser("synth", help="generate a synthetic world with gold profiles")
    synth.add_argument("--users", type=int, default=1000)
    synth.add_argument("--items", type=int, default=500)
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--mean-history", type=float, default=30.0)
    synth.add_argument("--drift", type=float, default=0.2, help="drift probability")
    synth.add_argument("--out", required=True, help="folder for the tables and gold profiles")
    synth.set_defaults(func=_synth)


def _fetch(args: argparse.Namespace) -> int:
    from llmrec.data import fetch_dataset

    print(fetch_dataset(args.name, force=args.force))
    return 0


def _loader_options(args: argparse.Namespace) -> dict:
    options: dict = {}
    if args.column:
        columns = {}
        for pair in args.column:
            field, sep, column = pair.partition("=")
            if not sep or not field or not column:
                raise ValueError(f"--column expects FIELD=COLUMN, got {pair!r}")
            columns[field] = column
        options["columns"] = columns
    if args.on_error:
        options["on_error"] = args.on_error
    if args.unknown_items:
        options["unknown_items"] = args.unknown_items
    if args.dedupe:
        options["dedupe"] = True
    if args.encoding:
        options["encoding"] = args.encoding
    return options


def _stats(args: argparse.Namespace) -> int:
    import json
    import sys

    from llmrec.data import load_dataset

    options = _loader_options(args)
    try:
        dataset = load_dataset(args.name_or_path, **options)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        raise ValueError(f"an option does not apply to this format ({err})") from err
    stats = dataset.stats().to_dict()
    report = getattr(dataset, "load_report", None)
    if report is not None and (report.count or report.notes):
        stats["load_report"] = report.to_dict()
        print(f"{args.name_or_path}: {report.report()}", file=sys.stderr)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    for key, value in stats.items():
        print(f"{key:>26}: {value}")
    return 0


def _synth(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from llmrec.data.export import write_tables
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    config = SyntheticConfig(
        n_users=args.users,
        n_items=args.items,
        seed=args.seed,
        mean_history=args.mean_history,
        drift_probability=args.drift,
    )
    world = generate_world(config)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_tables(world.dataset, out)
    world.gold_profiles_jsonl(out / "gold_profiles.jsonl")
    # generate_world(SyntheticConfig(**json.load(open("config.json")))) rebuilds the same world.
    (out / "config.json").write_text(json.dumps(config.to_dict(), indent=2))
    print(
        f"{world.dataset!r} -> {out} (interactions, items, users, gold_profiles .jsonl; config.json)"
    )
    return 0
