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

from pathlib import Path
from typing import Any

from llmrec.data.errors import DataFormatError
from llmrec.data.loaders.common import assemble, check_policies, no_gc, parse_columns, parse_number
from llmrec.data.loaders.jsonl import read_jsonl
from llmrec.data.records import InteractionDataset, Item

REVIEW_COLUMNS = {
    "user_id": "user_id",
    "item_id": "parent_asin",
    "timestamp": "timestamp",
    "rating": "rating",
}
META_SKIP = ("parent_asin", "title", "categories", "description", "images", "videos")


def is_amazon_review(record: dict[str, Any] | None) -> bool:
    return bool(record) and {"user_id", "parent_asin", "rating"} <= set(record)


def meta_path_for(reviews: Path) -> Path | None:
    """``meta_<name>`` next to a reviews file, trying the same and the other compression."""
    base = reviews.name.removesuffix(".gz")
    for candidate in (f"meta_{base}", f"meta_{base}.gz"):
        path = reviews.with_name(candidate)
        if path.is_file():
            return path
    return None


def _item(record: dict[str, Any], path: Path, line: int) -> Item:
    iid = record.get("parent_asin")
    if not iid:
        raise DataFormatError(path, line, "parent_asin", "expected a non-empty item id")
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
        try:
            attrs["price"] = parse_number(attrs["price"], path, line, "price")
        except DataFormatError:
            attrs.pop("price")  # prices like "from $3" are common; they are not an error
    title = str(record.get("title") or iid)
    return Item(str(iid), title, tuple(str(c) for c in categories), year, description, attrs)


def load_amazon(
    reviews: str | Path,
    meta: str | Path | None = None,
    name: str | None = None,
    on_error: str = "raise",
    unknown_items: str = "raise",
    dedupe: bool = False,
) -> InteractionDataset:
    """Load an Amazon Reviews 2023 category.

    Args:
        reviews: The reviews JSON Lines file (optionally ``.gz``).
        meta: The metadata file; default ``meta_<reviews name>`` next to it if present, else the
            catalogue is made of bare items.
        name: Dataset name; default the reviews file's stem.
        on_error: ``"raise"`` or ``"skip"`` for malformed lines.
        unknown_items: ``"raise"``, ``"skip"`` or ``"add"`` for reviews of items with no
            metadata (common in the real dumps: ``"add"`` keeps them).
        dedupe: Drop exact duplicate reviews.
    """
    reviews = Path(reviews).expanduser()
    meta = Path(meta).expanduser() if meta is not None else meta_path_for(reviews)
    bad = check_policies(on_error, unknown_items)
    items: dict[str, Item] = {}
    if meta is not None:
        for line_no, record in read_jsonl(meta, bad):
            try:
                item = _item(record, meta, line_no)
            except DataFormatError as err:
                bad.handle(err, "bad value")
                continue
            items[item.item_id] = item
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
        {},
        bad,
        unknown_items=unknown_items,
        dedupe=dedupe,
        name=name or stem,
        items_path=meta,
    )
