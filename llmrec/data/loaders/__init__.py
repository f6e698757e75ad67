"""Loaders, one module per format; :func:`load_path` picks one from what a path holds.

=====================================  ==========================================
What the path is                       Loader
=====================================  ==========================================
folder with ``NAME.inter``             :func:`.recbole.load_recbole`
folder with ``u.data`` / ``ratings.dat``  :func:`.movielens.load_movielens`
folder saved by ``datasets``           :func:`.hf.from_hf` (``load_from_disk``)
folder with ``interactions.jsonl``     :func:`.table.load_table` (+ ``items``/``users``)
``*.jsonl[.gz]`` with ``parent_asin``  :func:`.amazon.load_amazon` (``meta_*`` next to it)
``*.csv|tsv|jsonl|parquet[.gz]``       :func:`.table.load_table` (``columns=...``)
=====================================  ==========================================

A file inside a RecBole or MovieLens folder (``u.data``, ``x.inter``) loads its folder.

Example:
    >>> from llmrec.data import load_dataset
    >>> ds = load_dataset("ratings.csv", columns={"user_id": "uid"})  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

from llmrec.data.records import InteractionDataset


def detect_format(path: Path) -> str:
    """The loader name for ``path``: recbole, movielens, hf, tables, amazon or table."""
    from llmrec.data.export import find_tables
    from llmrec.data.loaders.amazon import is_amazon_review
    from llmrec.data.loaders.jsonl import peek_jsonl
    from llmrec.data.loaders.movielens import is_movielens
    from llmrec.data.loaders.table import TABLE_SUFFIXES, table_kind

    if path.is_file() and (path.suffix == ".inter" or path.name in ("u.data", "ratings.dat")):
        return detect_format(path.parent)
    if path.is_dir() and table_kind(path) is not None:
        from llmrec.data.errors import DataFormatError

        raise DataFormatError(path, None, None, "is a directory; expected a table file")
    if path.is_dir():
        if any(path.glob("*.inter")):
            return "recbole"
        if is_movielens(path):
            return "movielens"
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            return "hf"
        if find_tables(path):
            return "tables"
        raise ValueError(
            f"{path}: no loader recognises this folder (expected NAME.inter, u.data, ratings.dat, "
            "interactions.jsonl|csv|parquet or a folder saved by datasets.save_to_disk)"
        )
    kind = table_kind(path)
    if kind == "jsonl" and is_amazon_review(peek_jsonl(path)):
        return "amazon"
    if kind is not None:
        return "table"
    raise ValueError(
        f"{path}: no loader recognises this file; expected a folder or a table {TABLE_SUFFIXES}"
    )


def load_path(path: str | Path, **kwargs) -> InteractionDataset:
    """Load a dataset from a folder or file, choosing the loader by its contents.

    Args:
        path: See the table above.
        **kwargs: Passed to the loader (``policy``, ``on_error``, ``unknown_items``,
            ``dedupe``, ``rating_scale``, ``collect_errors``, ``columns`` for tables, ``meta``
            for Amazon, ...).
    """
    from llmrec.data.loaders.common import file_state, require_file

    path = Path(path).expanduser()
    state = file_state(path)
    if state == "missing":
        raise FileNotFoundError(f"{path} does not exist (expected a dataset name or a path)")
    if state != "dir":
        require_file(path, "dataset")  # a symlink loop or a dangling link says so
    kind = detect_format(path)
    if path.is_file() and kind in ("recbole", "movielens"):
        path = path.parent
    if kind == "recbole":
        from llmrec.data.loaders.recbole import load_recbole

        stem = next(path.glob("*.inter")).stem
        label = kwargs.pop("name", None)
        dataset = load_recbole(path, name=stem, **kwargs)
        dataset.name = label or stem
        return dataset
    if kind == "movielens":
        from llmrec.data.loaders.movielens import load_movielens

        return load_movielens(path, **kwargs)
    if kind == "hf":
        import datasets

        from llmrec.data.loaders.hf import from_hf

        kwargs.setdefault("name", path.name)
        return from_hf(datasets.load_from_disk(str(path)), **kwargs)
    if kind == "amazon":
        from llmrec.data.loaders.amazon import load_amazon

        return load_amazon(path, **kwargs)
    from llmrec.data.loaders.table import load_table

    if kind == "tables":
        from llmrec.data.export import find_tables

        tables = find_tables(path)
        kwargs.setdefault("name", path.name)
        return load_table(
            tables["interactions"], items=tables.get("items"), users=tables.get("users"), **kwargs
        )
    return load_table(path, **kwargs)
