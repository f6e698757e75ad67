"""A user's history as prompt material: entries, one line per interaction, a token budget.

Each interaction becomes one line rendered by the ``profile/history_line`` template (title,
year, genres, a few string attributes such as director or mood, the rating and a review, every
text field delimited and cut by the ``untrusted`` filter), or one template row
(:func:`history_rows`) for templates that lay out the history themselves. :func:`fit_recent`
is the one token-budget rule: keep the newest lines that fit.

Example:
    >>> from llmrec.context.history import history_entries, render_lines
    >>> lines = render_lines(history_entries(split.train, "1"))  # doctest: +SKIP
    >>> lines[0]  # doctest: +SKIP
    '- <<<Toy Story>>> (1995) | genres: <<<Animation, Children's, Comedy>>> | rated 5/5'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from llmrec.context.items import item_fields
from llmrec.data.records import Interaction, InteractionDataset, Item
from llmrec.prompts import render

LINE_TEMPLATE = "profile/history_line"
MAX_ATTRIBUTES = 4


@dataclass(frozen=True)
class HistoryEntry:
    """One interaction joined with its catalogue item."""

    interaction: Interaction
    item: Item


def history_entries(dataset: InteractionDataset, user_id: str) -> list[HistoryEntry]:
    """The user's interactions in ``dataset`` (pass ``split.train``), oldest first."""
    return [HistoryEntry(r, dataset.items[r.item_id]) for r in dataset.history(user_id)]


def display_rating(value: float | None) -> int | float | None:
    """A rating as shown in prompts: ``4`` for 4.0, ``3.5`` stays, ``None`` when unrated."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round(float(value), 1)


def history_rows(entries: Sequence[HistoryEntry], show_ratings: bool = True) -> list[dict]:
    """Template rows (``title``, ``year``, ``genres``, ``description``, ``rating``), in order."""
    return [
        {
            **item_fields(e.item),
            "rating": display_rating(e.interaction.rating) if show_ratings else None,
        }
        for e in entries
    ]


def render_line(
    entry: HistoryEntry, template: str = LINE_TEMPLATE, max_review_chars: int = 200
) -> str:
    """One history line; string attributes of the item (up to four) are shown too."""
    attributes = [
        (str(k), v) for k, v in entry.item.attributes.items() if isinstance(v, str) and v.strip()
    ][:MAX_ATTRIBUTES]
    return render(
        template,
        item=entry.item,
        attributes=attributes,
        rating=display_rating(entry.interaction.rating),
        review=entry.interaction.review,
        max_review_chars=max_review_chars,
    )


def render_lines(entries: Sequence[HistoryEntry], template: str = LINE_TEMPLATE) -> list[str]:
    """One line per entry, in order (see :func:`render_line`)."""
    return [render_line(e, template) for e in entries]


def token_counter(backend: Any) -> Callable[[str], int]:
    """The backend's ``count_tokens`` when it has one, else an estimate of 4 characters a token."""
    count = getattr(backend, "count_tokens", None)
    if callable(count):
        return count
    return lambda text: len(text) // 4 + 1


def fit_recent(lines: Sequence[str], budget: int, count: Callable[[str], int]) -> int:
    """How many of the most recent lines fit ``budget`` tokens (at least one line).

    A line costs its tokens plus one for the newline. Counting walks back from the newest line
    and stops at the first that does not fit, so the kept lines are always the latest ones.
    """
    if budget < 1:
        raise ValueError(f"token budget must be >= 1, got {budget}")
    used, kept = 0, 0
    for line in reversed(lines):
        cost = count(line) + 1
        if kept and used + cost > budget:
            break
        used += cost
        kept += 1
    return kept
