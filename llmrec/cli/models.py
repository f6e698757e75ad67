"""``llmrec models``: fetch and list the embedded models."""

from __future__ import annotations

import argparse

NAME = "models"
HELP = "fetch, convert and list the embedded models"


def register(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = sub.add_parser("fetch", help="fetch and cache models (default: all aliases)")
    fetch.add_argument("names", nargs="*", help="aliases to fetch (default: the shipped ones)")
    fetch.add_argument("--force", action="store_true", help="rebuild even if cached")
    fetch.set_defaults(func=_fetch)
    lst = sub.add_parser("list", help="show cached models")
    lst.add_argument("--json", action="store_true", help="print JSON")
    lst.set_defaults(func=_list)


def _fetch(args: argparse.Namespace) -> int:
    from llmrec import models

    names = args.names or ["smollm2-135m-instruct", "all-minilm-l6-v2", "tiny-random-llama"]
    for name in names:
        path = models.fetch(name, force=args.force)
        print(f"{name}: {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import json

    from llmrec import models

    rows = models.list_models()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        print(f"{r['name']:<{width}}  {r['state']:<8} {r['size_mb']:>8.1f} MB  {r['description']}")
    print("Any other name is a Hugging Face id or a local path.")
    return 0
