"""How an item is shown to a language model: a block, a line, or a short title.

Every template that shows an item gets it from here, with every text field passed through the
``untrusted`` prompt filter by the templates ``judge/item`` (a block) and ``judge/item_line`` (one
line). :func:`item_title` is the plain ``Title (year)`` used where the item is itself the answer
(a next-item completion, a candidate a yes/no scorer asks about).

Example:
    >>> from llmrec.data.records import Item
    >>> item_title(Item("1", "Toy Story", year=1995))
    'Toy Story (1995)'
    >>> render_item_line(Item("1", "Toy Story", genres=("Animation",), year=1995))
    '<<<Toy Story>>> (1995) [<<<Animation>>>]'
"""

from __future__ import annotations

from typing import Any

from llmrec.data.records import Item
from llmrec.prompts import render

ItemLike = Item | str
ITEM_BLOCK = "judge/item"
ITEM_LINE = "judge/item_line"


def as_item(item: ItemLike) -> Item:
    """An :class:`Item`; a bare string (a generated recommendation, say) becomes a title."""
    if isinstance(item, Item):
        return item
    if isinstance(item, str):
        return Item(item_id=item, title=item)
    raise TypeError(f"expected an Item or a title string, got {type(item).__name__}: {item!r}")


def item_fields(item: ItemLike) -> dict[str, Any]:
    """Template variables of an item: ``title``, ``year``, ``genres`` (a list), ``description``."""
    it = as_item(item)
    return {
        "title": it.title,
        "year": it.year,
        "genres": list(it.genres),
        "description": it.description,
    }


def item_title(item: ItemLike) -> str:
    """The item's title with its year when known: ``Toy Story (1995)``."""
    it = as_item(item)
    return f"{it.title} ({it.year})" if it.year else it.title


def render_item(item: ItemLike, prompt: str = ITEM_BLOCK) -> str:
    """The item as a block (title, genres, description), every text field delimited."""
    return render(prompt, item=item_fields(item))


def render_item_line(item: ItemLike, prompt: str = ITEM_LINE) -> str:
    """The item on one line, for lists."""
    return render(prompt, item=item_fields(item))
