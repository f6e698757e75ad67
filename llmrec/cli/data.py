"""``llmrec data``: fetch named datasets, print statistics, check files, generate a world.

Examples::

    llmrec data fetch ml-100k
    llmrec data stats ml-100k --json
    llmrec data stats ratings.csv --column user_id=uid --column item_id=movie --on-error skip
    llmrec data check ratings.csv --rating-scale 1,5 --policy duplicate_item=fix
    llmrec data synth --users 1000 --items 500 --seed 0 --out world/
"""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "fetch datasets, show their statistics, check files, generate a synthetic world"


def _add_loader_flags(command: argparse.ArgumentParser) -> None:
    """Format detection and column mapping flags shared by ``stats`` and ``check``."""
    command.add_argument("name_or_path")
    command.add_argument("--json", action="store_true", help="print JSON")
    command.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="column mapping for tables, e.g. user_id=uid (repeatable)",
    )
    command.add_argument("--on-error", choices=("raise", "skip"), help="malformed rows")
    command.add_argument("--unknown-items", choices=("raise", "skip", "add"))
    command.add_argument("--dedupe", action="store_true", help="drop exact duplicate rows")
    command.add_argument("--encoding", help="text encoding of a table (default utf-8)")
    command.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="CLASS=ACTION",
        help="what to do with a class of finding, e.g. duplicate_item=fix (repeatable; "
        "actions: error, skip, fix, keep; classes: see llmrec.data.validation.FINDINGS)",
    )
    command.add_argument(
        "--rating-scale",
        metavar="LOW,HIGH[,STEP]",
        help="the ratings' scale, e.g. 1,5 or 0.5,5,0.5",
    )
    command.add_argument(
        "--timestamp-unit", choices=("s", "ms"), help="unit of numeric timestamps in a table"
    )


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
    _add_loader_flags(stats)
    stats.set_defaults(func=_stats)

    check = sub.add_parser(
        "check",
        help="validate a dataset and print the load report; exit 1 on errors",
        description="Load a dataset through the validation layer, listing every error instead "
        "of stopping at the first; prints counts by class of finding with the first examples "
        "(file:line). Exit status: 0 clean or only fixed/skipped findings, 1 errors, 2 usage.",
    )
    _add_loader_flags(check)
    check.set_defaults(func=_check)

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


def _pairs(values: list[str], flag: str, what: str) -> dict[str, str]:
    out = {}
    for pair in values:
        key, sep, value = pair.partition("=")
        if not sep or not key or not value:
            raise ValueError(f"{flag} expects {what}, got {pair!r}")
        out[key] = value
    return out


def _loader_options(args: argparse.Namespace) -> dict:
    options: dict = {}
    if args.column:
        options["columns"] = _pairs(args.column, "--column", "FIELD=COLUMN")
    if args.policy:
        options["policy"] = _pairs(args.policy, "--policy", "CLASS=ACTION")
    if args.rating_scale:
        try:
            options["rating_scale"] = tuple(float(v) for v in args.rating_scale.split(","))
        except ValueError:
            raise ValueError(
                f"--rating-scale expects LOW,HIGH[,STEP], got {args.rating_scale!r}"
            ) from None
        if len(options["rating_scale"]) not in (2, 3):
            raise ValueError(f"--rating-scale expects LOW,HIGH[,STEP], got {args.rating_scale!r}")
    if args.on_error:
        options["on_error"] = args.on_error
    if args.unknown_items:
        options["unknown_items"] = args.unknown_items
    if args.dedupe:
        options["dedupe"] = True
    if args.encoding:
        options["encoding"] = args.encoding
    if args.timestamp_unit:
        options["timestamp_unit"] = args.timestamp_unit
    return options


def _load(args: argparse.Namespace, **extra):
    from llmrec.data import load_dataset

    try:
        return load_dataset(args.name_or_path, **_loader_options(args), **extra)
    except TypeError as err:
        if "unexpected keyword argument" not in str(err):
            raise
        raise ValueError(f"an option does not apply to this format ({err})") from err


def _stats(args: argparse.Namespace) -> int:
    import json
    import sys

    dataset = _load(args)
    stats = dataset.stats().to_dict()
    report = getattr(dataset, "load_report", None)
    if report is not None:
        stats["load_report"] = report.to_dict()
        if report.counts:
            print(f"{args.name_or_path}: {report.summary()}", file=sys.stderr)
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    for key, value in stats.items():
        print(f"{key:>26}: {value}")
    return 0


def _check(args: argparse.Namespace) -> int:
    """Print the load report; 1 when any finding is an error (or the load cannot finish)."""
    import json

    from llmrec.data.errors import DataFormatError

    try:
        dataset = _load(args, collect_errors=True)
    except DataFormatError as err:
        report = err.report
        if args.json:
            out = {"ok": False, "error": str(err), "class": err.finding}
            out["load_report"] = report.to_dict() if report is not None else None
            print(json.dumps(out, indent=2))
        else:
            if report is not None and report.counts:
                print(report.format())
            print(f"error ({err.finding or 'format'}): {err}")
        return 1
    report = dataset.load_report
    stats = dataset.stats()
    ok = report.errors == 0
    if args.json:
        out = {"ok": ok, "load_report": report.to_dict(), "stats": stats.to_dict()}
        print(json.dumps(out, indent=2))
    else:
        print(report.format())
        print(
            f"{'ok' if ok else 'errors'}: {stats.users} users, {stats.items} items, "
            f"{stats.interactions} interactions loaded; {report.errors} errors"
        )
    return 0 if ok else 1


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
