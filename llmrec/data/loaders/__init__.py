"""Loaders, one module per format; :func:`load_path` picks one from what a path holds."""

from __future__ import annotations

from pathlib import Path

from llmrec.data.records import InteractionDataset


def load_path(path: Path, **kwargs) -> InteractionDataset:
    """Load a dataset from a folder or file, choosing the loader by its contents."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist (expected a dataset name or a path)")
    if path.is_dir() and any(path.glob("*.inter")):
        from llmrec.data.loaders.recbole import load_recbole

        stem = next(path.glob("*.inter")).stem
        return load_recbole(path, name=stem, **kwargs)
    raise ValueError(f"{path}: no loader recognises this path")
