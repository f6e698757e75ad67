"""Fixtures of the training tests: run a recipe in-process from its YAML config."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_recipe(name: str):
    """Import ``recipes/<name>.py`` as a module (recipes are scripts, not a package)."""
    path = ROOT / "recipes" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"recipe_{name}", path)
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve string annotations through sys.modules; register before executing.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


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
