"""Fixtures of the embeddings tests: a tiny random sentence encoder and a tiny trained run."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tiny_st(minilm_path):
    """A 2-layer random BERT (hidden 64) with MiniLM's tokenizer and mean pooling."""
    from llmrec.embeddings.train import random_sentence_transformer

    return random_sentence_transformer(minilm_path, layers=2, hidden=64, seed=0)


def _recipe():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("embed_recipe", root / "recipes" / "embed.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    return recipe, root


@pytest.fixture(scope="session")
def residual_run(tmp_path_factory, ml100k):
    """The tiny residual recipe trained once (random BERT, 24 users); its output folder."""
    recipe, root = _recipe()
    out = tmp_path_factory.mktemp("embed-residual-tiny")
    config = root / "recipes" / "tiny-random" / "embed" / "config_residual_tiny.yaml"
    args = recipe.make_parser().parse_args_and_config(
        ["--config", str(config), "--output_dir", str(out)]
    )
    return recipe.main(*args)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, ml100k):
    """The tiny recipe config trained once (fusion + autoregressive term); its output folder."""
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    spec = importlib.util.spec_from_file_location("embed_recipe", root / "recipes" / "embed.py")
    recipe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(recipe)
    out = tmp_path_factory.mktemp("embed-tiny")
    config = root / "recipes" / "tiny-random" / "embed" / "config_tiny.yaml"
    args = recipe.make_parser().parse_args_and_config(
        ["--config", str(config), "--output_dir", str(out)]
    )
    return recipe.main(*args)
