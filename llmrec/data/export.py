"""Writing a dataset as plain tables that :func:`llmrec.data.load_dataset` reads back.

A folder with ``interactions.jsonl``, ``items.jsonl`` and ``users.jsonl`` (or ``.csv`` /
``.parquet``): one row per interaction / item / user, item and user attributes as their own
columns. ``load_dataset(folder)`` recognises the layout.

Example:
    >>> from llmrec.data.export import write_tables
    >>> write_tables(world.dataset, "world/")  # doctest: +SKIP
    >>> load_dataset("world/").stats() == world.dataset.stats()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from llmrec.data.records import INTERACTION_COLUMNS, InteractionDataset

TABLE_NAMES = ("interactions", "items", "users")
FORMATS = ("jsonl", "csv", "parquet")
ITEM_COLUMNS = ("item_id", "title", "genres", "year", "description")


def _write(frame: pd.DataFrame, path: Path, fmt: str) -> None:
    if fmt == "jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)


def write_tables(
    dataset: InteractionDataset, folder: str | os.PathLike, fmt: str = "jsonl"
) -> dict[str, Path]:
    """Write interactions, items and users of ``dataset`` into ``folder``.

    Args:
        dataset: The dataset.
        folder: Created if needed.
        fmt: ``"jsonl"`` (default; keeps genre lists), ``"csv"`` (genres joined with ``|``)
            or ``"parquet"``.

    Returns:
        ``{"interactions": path, "items": path, "users": path}``.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    items = []
    for it in dataset.items.values():
        row = {k: v for k, v in it.attributes.items() if k not in ITEM_COLUMNS}
        row.update(
            item_id=it.item_id,
            title=it.title,
            genres="|".join(it.genres) if fmt == "csv" else list(it.genres),
            year=it.year,
            description=it.description,
        )
        items.append(row)
    users = [{**dict(u.attributes), "user_id": u.user_id} for u in dataset.users.values()]
    frames = {
        "interactions": dataset.interactions[INTERACTION_COLUMNS],
        "items": pd.DataFrame(items).astype({"year": "Int64"}),
        "users": pd.DataFrame(users, columns=sorted({k for u in users for k in u})),
    }
    out = {}
    for name in TABLE_NAMES:
        path = folder / f"{name}.{fmt}"
        _write(frames[name], path, fmt)
        out[name] = path
    return out


def find_tables(folder: Path) -> dict[str, Path] | None:
    """The ``interactions``/``items``/``users`` files of a folder written by :func:`write_tables`."""
    found = {}
    for name in TABLE_NAMES:
        for fmt in FORMATS:
            path = folder / f"{name}.{fmt}"
            if path.is_file():
                found[name] = path
                break
    return found if "interactions" in found else None
