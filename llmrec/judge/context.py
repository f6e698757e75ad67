"""What the judge sees about a user (profile, raw recent history, or both) and about items.

The Spotify study (arXiv 2508.08777) judges from a natural-language profile and ablates it
against the raw history; :class:`UserContext` holds both sources and renders whichever view a
judge asks for. All item and profile text goes through the ``untrusted`` prompt filter
(delimited, length-limited) in the templates ``judge/user_context``, ``judge/item`` and
``judge/item_line``.

Example:
    >>> ctx = UserContext(profiles={"u1": "Loves space operas, avoids horror."})
    >>> "space operas" in ctx.render("u1", "profile")
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmrec.data.records import Item
from llmrec.prompts import render

if TYPE_CHECKING:
    from llmrec.data.records import InteractionDataset

SEES = ("profile", "history", "both")
ItemLike = Item | str


def as_item(item: ItemLike) -> Item:
    """An :class:`Item`; a bare string (a generated recommendation, say) becomes a title."""
    if isinstance(item, Item):
        return item
    if isinstance(item, str):
        return Item(item_id=item, title=item)
    raise TypeError(f"expected an Item or a title string, got {type(item).__name__}: {item!r}")


def item_fields(item: ItemLike) -> dict[str, Any]:
    """Template variables of an item (title, year, genres, description)."""
    it = as_item(item)
    return {
        "title": it.title,
        "year": it.year,
        "genres": list(it.genres),
        "description": it.description,
    }


def render_item(item: ItemLike, prompt: str = "judge/item") -> str:
    """The item block shown to a judge, every text field delimited."""
    return render(prompt, item=item_fields(item))


def render_item_line(item: ItemLike, prompt: str = "judge/item_line") -> str:
    """One line per item, for lists."""
    return render(prompt, item=item_fields(item))


@dataclass(frozen=True)
class UserContext:
    """The sources a judge may draw on for each user.

    Args:
        profiles: Natural-language profile per user id (built from training history only).
        history: Dataset of past interactions (pass ``split.train``, never held-out data).
        max_history: Most recent interactions shown in the raw-history view.
        show_ratings: Show the user's rating next to each history item when known.
        prompt: Template of the user block.
    """

    profiles: Mapping[str, str] = field(default_factory=dict)
    history: InteractionDataset | None = None
    max_history: int = 20
    show_ratings: bool = True
    prompt: str = "judge/user_context"

    def __post_init__(self) -> None:
        if self.max_history < 1:
            raise ValueError(f"max_history must be >= 1, got {self.max_history}")

    def check(self, sees: str) -> None:
        """Raise ``ValueError`` when ``sees`` is unknown or its source was not given."""
        if sees not in SEES:
            raise ValueError(f"sees must be one of {SEES}, got {sees!r}")
        if sees in ("profile", "both") and not self.profiles:
            raise ValueError(f"sees={sees!r} needs profiles; none were given to UserContext")
        if sees in ("history", "both") and self.history is None:
            raise ValueError(f"sees={sees!r} needs a history dataset; none was given")

    def profile(self, user_id: str) -> str:
        if user_id not in self.profiles:
            raise ValueError(f"no profile for user {user_id!r} ({len(self.profiles)} profiles)")
        return self.profiles[user_id]

    def recent(self, user_id: str) -> list[dict[str, Any]]:
        """The last ``max_history`` interactions as template rows, oldest first."""
        if self.history is None:
            raise ValueError("UserContext has no history dataset")
        rows = []
        for event in self.history.history(user_id)[-self.max_history :]:
            item = self.history.items[event.item_id]
            rating = event.rating if self.show_ratings else None
            if rating is not None and float(rating).is_integer():
                rating = int(rating)
            rows.append({**item_fields(item), "rating": rating})
        return rows

    def render(self, user_id: str, sees: str) -> str:
        """The user block for one user under one view (``profile``, ``history`` or ``both``)."""
        self.check(sees)
        profile = self.profile(user_id) if sees in ("profile", "both") else None
        history = self.recent(user_id) if sees in ("history", "both") else None
        return render(self.prompt, profile=profile, history=history)
