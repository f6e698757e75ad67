"""Where llmrec keeps its cache: ``$LLMREC_HOME``, default ``~/.cache/llmrec``."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Root of the llmrec cache (``$LLMREC_HOME`` or ``~/.cache/llmrec``), created on demand."""
    root = Path(os.environ.get("LLMREC_HOME") or Path.home() / ".cache" / "llmrec").expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def models_dir() -> Path:
    """Folder holding one sub-folder per cached model alias."""
    path = home() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    """Folder holding one sub-folder per cached dataset."""
    path = home() / "data"
    path.mkdir(parents=True, exist_ok=True)
    return path
