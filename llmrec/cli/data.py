"""``llmrec data``: fetch named datasets and print statistics."""

from __future__ import annotations

import argparse

NAME = "data"
HELP = "fetch datasets and show their statistics"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help="place a named dataset (ml-100k) in the cache")
    fetch.add_argument("name")
    fetch.add_argument("--force", action="store_true")
    fetch.set_defaults(func=_fetch)
    stats = sub.add_parser("stats", help="users, items, interactions, density, history lengths")
    stats.add_argument("name_or_path")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=_stats)


def _fetch(args: argparse.Namespace) -> int:
    from llmrec.data import fetch_dataset

    print(fetch_dataset(args.name, force=args.force))
    return 0


def _stats(args: argparse.Namespace) -> int:
    import json

    from llmrec.data import load_dataset

    stats = load_dataset(args.name_or_path).stats().to_dict()
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    for key, value in stats.items():
        print(f"{key:>26}: {value}")
    return 0
