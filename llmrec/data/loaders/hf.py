"""Conversion to and from Hugging Face ``datasets``.

``to_hf(ds)`` gives the interactions as a ``datasets.Dataset`` (columns ``user_id``, ``item_id``,
``timestamp``, ``rating``, ``review``); ``to_hf(ds, "items")`` / ``"users"`` the catalogue and
the users (``attributes`` as a JSON string, since attribute keys vary between rows);
``to_hf_dict(ds)`` all three as a ``DatasetDict``. ``from_hf`` reverses either form, with an
optional column mapping for foreign datasets.

Example:
    >>> from llmrec.data.loaders.hf import from_hf, to_hf_dict
    >>> dd = to_hf_dict(ds)  # doctest: +SKIP
    >>> dd.save_to_disk("ml100k-hf")  # doctest: +SKIP
    >>> from_hf(dd).stats() == ds.stats()  # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import assemble, make_report, parse_columns, parse_id
from llmrec.data.loaders.table import resolve_columns
from llmrec.data.records import INTERACTION_COLUMNS, InteractionDataset, Item, User
from llmrec.data.validation import Catalogue, ValidationPolicy

TABLES = ("interactions", "items", "users")


def to_hf(dataset: InteractionDataset, table: str = "interactions"):
    """One table of ``dataset`` as a ``datasets.Dataset``.

    Args:
        dataset: The dataset.
        table: ``"interactions"``, ``"items"`` or ``"users"``.
    """
    import datasets

    if table == "interactions":
        frame = dataset.interactions[INTERACTION_COLUMNS]
        return datasets.Dataset.from_pandas(frame, preserve_index=False)
    if table == "items":
        rows = [
            {
                "item_id": it.item_id,
                "title": it.title,
                "genres": list(it.genres),
                "year": it.year,
                "description": it.description,
                "attributes": json.dumps(dict(it.attributes), ensure_ascii=False, default=str),
            }
            for it in dataset.items.values()
        ]
        features = datasets.Features(
            {
                "item_id": datasets.Value("string"),
                "title": datasets.Value("string"),
                "genres": datasets.List(datasets.Value("string")),
                "year": datasets.Value("int64"),
                "description": datasets.Value("string"),
                "attributes": datasets.Value("string"),
            }
        )
        return datasets.Dataset.from_list(rows, features=features)
    if table == "users":
        rows = [
            {
                "user_id": u.user_id,
                "attributes": json.dumps(dict(u.attributes), ensure_ascii=False, default=str),
            }
            for u in dataset.users.values()
        ]
        return datasets.Dataset.from_list(rows)
    raise ValueError(f"table must be one of {TABLES}, got {table!r}")


def to_hf_dict(dataset: InteractionDataset):
    """Interactions, items and users as one ``datasets.DatasetDict``."""
    import datasets

    return datasets.DatasetDict({t: to_hf(dataset, t) for t in TABLES})


def _attributes(value: Any, where: Path, row: int) -> dict:
    if value is None or value == "":
        return {}
    try:
        parsed = json.loads(value) if isinstance(value, str) else value
        return dict(parsed)
    except (ValueError, TypeError) as err:
        raise DataFormatError(
            where, row, "attributes", f"expected a JSON object or a mapping ({err})", "schema"
        ) from None


def from_hf(
    interactions,
    items=None,
    users=None,
    columns: Mapping[str, str] | None = None,
    name: str = "hf",
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    *,
    policy: ValidationPolicy | Mapping[str, str] | None = None,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
) -> InteractionDataset:
    """Build a dataset from ``datasets`` objects (or a ``DatasetDict`` made by :func:`to_hf_dict`).

    Args:
        interactions: A ``Dataset`` of interactions, or a ``DatasetDict`` with the three tables.
        items: A ``Dataset`` with ``item_id`` (and optional ``title``, ``genres``, ``year``,
            ``description``, ``attributes``; other columns become attributes).
        users: A ``Dataset`` with ``user_id`` (and ``attributes`` or other columns).
        columns: Mapping llmrec name -> column for the interactions (as in ``load_table``).
        name: Dataset name.
        on_error: ``"raise"`` or ``"skip"``; "line" in messages is the 1-based row.
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"``.
        dedupe: Drop exact duplicate rows.
        policy: Finding class -> action (:class:`~llmrec.data.validation.ValidationPolicy`).
        rating_scale: ``(low, high[, step])``; without it ratings only need to be finite.
        collect_errors: Record every error in the report instead of raising at the first.
    """
    if hasattr(interactions, "keys") and "interactions" in interactions:
        bundle = interactions
        interactions = bundle["interactions"]
        items = bundle["items"] if items is None and "items" in bundle else items
        users = bundle["users"] if users is None and "users" in bundle else users
    where = Path(f"<datasets:{name}>")
    bad = make_report(policy, on_error, unknown_items, dedupe, rating_scale, collect_errors)
    cols = resolve_columns(
        columns,
        tuple(INTERACTION_COLUMNS),
        ("user_id", "item_id"),
        interactions.column_names,
        where,
    )
    table = interactions.select_columns(sorted(set(cols.values()))).to_pandas()
    lines = np.arange(1, len(table) + 1)
    frame, lines = parse_columns({c: table[c] for c in table.columns}, lines, where, cols, bad)
    catalogue = None if items is None else _hf_items(items, Path(f"<datasets:{name}/items>"), bad)
    people = None if users is None else _hf_users(users, Path(f"<datasets:{name}/users>"), bad)
    return assemble(
        where,
        frame,
        lines,
        catalogue,
        people,
        bad,
        name=name,
        items_path=Path(f"<datasets:{name}/items>"),
        users_path=Path(f"<datasets:{name}/users>"),
        fields=cols,
    )


def _hf_items(items, where: Path, bad) -> dict[str, Item]:
    if "item_id" not in items.column_names:
        raise DataFormatError(where, None, "item_id", f"no such column in {items.column_names}")
    known = {"item_id", "title", "genres", "year", "description", "attributes"}
    catalogue = Catalogue("item", where, bad)
    for row, rec in enumerate(items, start=1):
        try:
            iid = parse_id(rec["item_id"], where, row, "item_id")
            attrs = _attributes(rec.get("attributes"), where, row)
            genres = rec.get("genres") or ()
            if isinstance(genres, str) or not isinstance(genres, (list, tuple)):
                raise DataFormatError(where, row, "genres", "expected a list of strings")
            year = rec.get("year")
            if isinstance(year, float) and year.is_integer():
                year = int(year)  # a year column with gaps arrives as floats
            elif isinstance(year, float) and year != year:
                year = None
            if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
                raise DataFormatError(where, row, "year", f"expected an integer, got {year!r}")
        except DataFormatError as err:
            bad.handle(err)
            continue
        attrs.update({k: v for k, v in rec.items() if k not in known})
        item = Item(
            iid,
            rec.get("title") or iid,
            tuple(str(g) for g in genres),
            year,
            rec.get("description"),
            attrs,
        )
        catalogue.add(iid, item, row, "item_id")
    return catalogue.rows


def _hf_users(users, where: Path, bad) -> dict[str, User]:
    if "user_id" not in users.column_names:
        raise DataFormatError(where, None, "user_id", f"no such column in {users.column_names}")
    people = Catalogue("user", where, bad)
    for row, rec in enumerate(users, start=1):
        try:
            uid = parse_id(rec["user_id"], where, row, "user_id")
            attrs = _attributes(rec.get("attributes"), where, row)
        except DataFormatError as err:
            bad.handle(err)
            continue
        attrs.update({k: v for k, v in rec.items() if k not in ("user_id", "attributes")})
        people.add(uid, User(uid, attrs), row, "user_id")
    return people.rows
