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

from llmrec.data.loaders.common import assemble, check_policies, parse_columns
from llmrec.data.loaders.table import resolve_columns
from llmrec.data.records import INTERACTION_COLUMNS, InteractionDataset, Item, User

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


def _attributes(value: Any) -> dict:
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        return json.loads(value)
    return dict(value)


def from_hf(
    interactions,
    items=None,
    users=None,
    columns: Mapping[str, str] | None = None,
    name: str = "hf",
    on_error: str = "raise",
    unknown_items: str = "raise",
    dedupe: bool = False,
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
    """
    if hasattr(interactions, "keys") and "interactions" in interactions:
        bundle = interactions
        interactions = bundle["interactions"]
        items = bundle["items"] if items is None and "items" in bundle else items
        users = bundle["users"] if users is None and "users" in bundle else users
    where = Path(f"<datasets:{name}>")
    bad = check_policies(on_error, unknown_items)
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
    catalogue: dict[str, Item] = {}
    for rec in items if items is not None else ():
        iid = str(rec["item_id"])
        known = {"item_id", "title", "genres", "year", "description", "attributes"}
        attrs = _attributes(rec.get("attributes"))
        attrs.update({k: v for k, v in rec.items() if k not in known})
        catalogue[iid] = Item(
            iid,
            rec.get("title") or iid,
            tuple(rec.get("genres") or ()),
            rec.get("year"),
            rec.get("description"),
            attrs,
        )
    people: dict[str, User] = {}
    for rec in users if users is not None else ():
        uid = str(rec["user_id"])
        attrs = _attributes(rec.get("attributes"))
        attrs.update({k: v for k, v in rec.items() if k not in ("user_id", "attributes")})
        people[uid] = User(uid, attrs)
    return assemble(
        where,
        frame,
        lines,
        catalogue,
        people,
        bad,
        unknown_items=unknown_items,
        dedupe=dedupe,
        name=name,
    )
