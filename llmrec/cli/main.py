"""Entry point of the ``llmrec`` command; subcommands are discovered from :mod:`llmrec.cli`."""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
import sys

import llmrec
import llmrec.cli as cli_pkg


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmrec",
        description="LLM-centric user profiling, judging, embeddings and offline evaluation.",
    )
    parser.add_argument("--version", action="version", version=f"llmrec {llmrec.__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = []
    for info in pkgutil.iter_modules(cli_pkg.__path__):
        if info.name.startswith("_") or info.name == "main":
            continue
        module = importlib.import_module(f"llmrec.cli.{info.name}")
        modules.append(module)
    for module in sorted(modules, key=lambda m: m.NAME):
        module.register(sub.add_parser(module.NAME, help=module.HELP, description=module.HELP))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    # The CLI is an application, so it may configure logging; the library never does.
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        model = getattr(args, "model", None)
        if isinstance(model, str):  # a mistyped name fails before any data or model loads
            from llmrec.backends import check_spec

            check_spec(model)
        return int(func(args) or 0)
    except (ValueError, OSError) as err:  # OSError: a full disk or read-only folder, path named
        print(f"llmrec {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
