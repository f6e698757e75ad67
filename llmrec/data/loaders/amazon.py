"""Amazon Reviews 2023 (McAuley Lab) JSON Lines: a reviews file and a metadata file.

* reviews (``<Category>.jsonl[.gz]``): ``user_id``, ``parent_asin`` (the item), ``rating``,
  ``title``, ``text``, ``timestamp`` (milliseconds), ``asin``, ``helpful_vote``,
  ``verified_purchase``, ``images``.
* metadata (``meta_<Category>.jsonl[.gz]``): ``parent_asin``, ``title``, ``main_category``,
  ``categories`` (list), ``description`` (list of paragraphs), ``features``, ``store``,
  ``price``, ``average_rating``, ``rating_number``, ``details`` (dict), ...

Items are keyed by ``parent_asin``; ``categories`` (or ``[main_category]`` when empty) become
genres; ``description`` paragraphs are joined; other metadata fields go to ``attributes``.
Interactions carry the review text (``"title: text"`` when both exist) and time in seconds.

Example:
    >>> from llmrec.data.loaders.amazon import load_amazon
    >>> ds = load_amazon("All_Beauty.jsonl.gz", "meta_All_Beauty.jsonl.gz")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import (
    assemble,
    make_report,
    no_gc,
    parse_columns,
    parse_id,
    parse_number,
    present,
    require_file,
)
from llmrec.data.loaders.jsonl import read_jsonl
from llmrec.data.records import InteractionDataset, Item
from llmrec.data.validation import Catalogue, RatingScale, ValidationPolicy

REVIEW_COLUMNS = {
    "user_id": "user_id",
    "item_id": "parent_asin",
    "timestamp": "timestamp",
    "rating": "rating",
}
META_SKIP = ("parent_asin", "title", "categories", "description", "images", "videos")
STARS = RatingScale(1, 5, 1)  # Amazon reviews are 1 to 5 whole stars


def is_amazon_review(record: dict[str, Any] | None) -> bool:
    return bool(record) and {"user_id", "parent_asin", "rating"} <= set(record)


def meta_path_for(reviews: Path) -> Path | None:
    """``meta_<name>`` next to a reviews file, trying the same and the other compression."""
    base = reviews.name.removesuffix(".gz")
    for candidate in (f"meta_{base}", f"meta_{base}.gz"):
        path = reviews.with_name(candidate)
        if present(path):
            return path
    return None


def _item(record: dict[str, Any], path: Path, line: int) -> Item:
    iid = parse_id(record.get("parent_asin"), path, line, "parent_asin")
    categories = record.get("categories") or []
    if not isinstance(categories, list):
        raise DataFormatError(path, line, "categories", "expected a list of strings")
    if not categories and record.get("main_category"):
        categories = [record["main_category"]]
    description = record.get("description") or None
    if isinstance(description, list):
        description = "\n".join(str(p) for p in description) or None
    year = None
    details = record.get("details")
    if isinstance(details, dict):
        date = str(details.get("Date First Available", ""))
        if date[-4:].isdigit():
            year = int(date[-4:])
    attrs = {k: v for k, v in record.items() if k not in META_SKIP and v not in (None, [], "")}
    if "price" in attrs:
        # Prices like "from $3" are common: kept as given (text), and counted by the loader.
        with contextlib.suppress(DataFormatError):
            attrs["price"] = parse_number(attrs["price"], path, line, "price")
    title = str(record.get("title") or iid)
    return Item(str(iid), title, tuple(str(c) for c in categories), year, description, attrs)


def load_amazon(
    reviews: str | Path,
    meta: str | Path | None = None,
    name: str | None = None,
    on_error: str | None = None,
    unknown_items: str | None = None,
    dedupe: bool = False,
    *,
    policy: ValidationPolicy | Mapping[str, str] | None = None,
    rating_scale: tuple[float, ...] | None = None,
    collect_errors: bool = False,
) -> InteractionDataset:
    """Load an Amazon Reviews 2023 category.

    Reviews need a rating (1 to 5 stars) and a timestamp (milliseconds); the metadata file is
    required unless the policy says ``missing_item_file=fix`` (bare items). A ``price`` that is
    not a number ("from $3") is kept as given, as text, and counted in the report.

    Args:
        reviews: The reviews JSON Lines file (optionally ``.gz``).
        meta: The metadata file; default ``meta_<reviews name>`` next to it.
        name: Dataset name; default the reviews file's stem.
        on_error: ``"raise"`` or ``"skip"`` for malformed lines.
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"`` for reviews of items with no
            metadata (common in the real dumps: ``"add"`` keeps them).
        dedupe: Drop exact duplicate reviews.
        policy: Finding class -> action (:class:`~llmrec.data.validation.ValidationPolicy`).
        rating_scale: Replace the 1..5 scale, ``(low, high[, step])``.
        collect_errors: Record every error in the report instead of raising at the first.
    """
    reviews = require_file(Path(reviews).expanduser(), "reviews")
    bad = make_report(policy, on_error, unknown_items, dedupe, rating_scale, collect_errors)
    meta = Path(meta).expanduser() if meta is not None else meta_path_for(reviews)
    items: dict[str, Item] | None = None
    if meta is not None:
        catalogue = Catalogue("item", require_file(meta, "metadata"), bad)
        text_prices = 0
        for line_no, record in read_jsonl(meta, bad):
            try:
                item = _item(record, meta, line_no)
            except DataFormatError as err:
                bad.handle(err)
                continue
            text_prices += isinstance(item.attributes.get("price"), str)
            catalogue.add(item.item_id, item, line_no, "parent_asin")
        if text_prices:
            bad.note(f"{meta.name}: {text_prices} prices are not numbers; kept as given (text)")
        items = catalogue.rows
    fields = ("user_id", "parent_asin", "timestamp", "rating", "title", "text")
    lines, cols = [], {f: [] for f in fields}
    with no_gc():
        for line_no, record in read_jsonl(reviews, bad):
            lines.append(line_no)
            for f in fields:
                cols[f].append(record.get(f))
        cols["review"] = [
            f"{title}: {text}" if title and text else (text or title or None)
            for title, text in zip(cols.pop("title"), cols.pop("text"))
        ]
    columns = {**REVIEW_COLUMNS, "review": "review"}
    frame, lines = parse_columns(cols, lines, reviews, columns, bad, timestamp_unit="ms")
    stem = reviews.name.removesuffix(".gz").removesuffix(".jsonl").removesuffix(".json")
    return assemble(
        reviews,
        frame,
        lines,
        items,
        None,
        bad,
        name=name or stem,
        items_path=meta,
        expected_items=reviews.with_name(f"meta_{reviews.name}"),
        fields=columns,
        rating_scale=STARS,
        required=("rating", "timestamp"),
        timestamp_unit="ms",
    )
