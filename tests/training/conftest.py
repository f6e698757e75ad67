"""Fixtures of the training tests: run a recipe in-process from its YAML config."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_recipe(name: str):
    """The recipe ``recipes/<name>.py``, imported as ``llmrec.recipes.<name>`` (how the wheel and
    the pipeline run it; ``llmrec/recipes`` links to ``recipes/``)."""
    return importlib.import_module(f"llmrec.recipes.{name}")


@pytest.fixture(scope="session")
def run_recipe(tiny_llama_path):
    """``run_recipe(name, config, *overrides) -> dict`` runs ``recipes/<name>.py`` in-process.

    ``config`` is relative to the repository root; overrides are command-line style
    (``"--max_steps", "5"``). Returns what the recipe's ``main`` returns.
    """

    def run(name: str, config: str, *overrides: str) -> dict:
        module = load_recipe(name)
        parser = module.make_parser()
        args = parser.parse_args_and_config(["--config", str(ROOT / config), *overrides])
        return module.main(*args)

    return run
