"""What a language model sees about a user: the profile, the recent history, or both.

The Spotify study (arXiv 2508.08777) judges from a natural-language profile and ablates it
against the raw history; :class:`UserContext` holds both sources and renders whichever view is
asked for, one way, through the ``judge/user_context`` template (all profile and item text goes
through the ``untrusted`` filter). The judge, the LLM reranker and anything else that shows a
user to a model render the user block here.

Example:
    >>> ctx = UserContext(profiles={"u1": "Loves space operas, avoids horror."})
    >>> "space operas" in ctx.render("u1", "profile")
    True
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llmrec.context.history import history_entries, history_rows
from llmrec.prompts import render

if TYPE_CHECKING:
    from llmrec.data.records import InteractionDataset

SEES = ("profile", "history", "both")
USER_BLOCK = "judge/user_context"


@dataclass(frozen=True)
class UserContext:
    """The sources a model may draw on for each user.

    Args:
        profiles: Natural-language profile per user id (built from training history only);
            :meth:`from_profile_file` reads any profile file the toolkit writes.
        history: Dataset of past interactions (pass ``split.train``, never held-out data).
        max_history: Most recent interactions shown in the history view.
        show_ratings: Show the user's rating next to each history item when known.
        prompt: Template of the user block (variables ``profile`` and ``history``).
    """

    profiles: Mapping[str, str] = field(default_factory=dict)
    history: InteractionDataset | None = None
    max_history: int = 20
    show_ratings: bool = True
    prompt: str = USER_BLOCK

    def __post_init__(self) -> None:
        if self.max_history < 1:
            raise ValueError(f"max_history must be >= 1, got {self.max_history}")

    @classmethod
    def from_profile_file(cls, path: str | os.PathLike, **options: Any) -> UserContext:
        """A context whose profiles come from a profile file (JSONL or Parquet, any shape
        :func:`llmrec.context.profile_files.read_profile_texts` reads); failed rows are left out.
        """
        from llmrec.context.profile_files import read_profile_texts

        return cls(profiles=read_profile_texts(path), **options)

    def check(self, sees: str) -> None:
        """Raise ``ValueError`` when ``sees`` is unknown or its source was not given."""
        if sees not in SEES:
            raise ValueError(f"sees must be one of {SEES}, got {sees!r}")
        if sees in ("profile", "both") and not self.profiles:
            raise ValueError(f"sees={sees!r} needs profiles; none were given to UserContext")
        if sees in ("history", "both") and self.history is None:
            raise ValueError(f"sees={sees!r} needs a history dataset; none was given")

    def profile(self, user_id: str) -> str:
        """The user's profile text; ``ValueError`` when there is none."""
        if user_id not in self.profiles:
            raise ValueError(f"no profile for user {user_id!r} ({len(self.profiles)} profiles)")
        return self.profiles[user_id]

    def recent(self, user_id: str) -> list[dict[str, Any]]:
        """The last ``max_history`` interactions as template rows, oldest first."""
        if self.history is None:
            raise ValueError("UserContext has no history dataset")
        entries = history_entries(self.history, user_id)[-self.max_history :]
        return history_rows(entries, self.show_ratings)

    def render(self, user_id: str, sees: str) -> str:
        """The user block for one user under one view (``profile``, ``history`` or ``both``)."""
        self.check(sees)
        profile = self.profile(user_id) if sees in ("profile", "both") else None
        history = self.recent(user_id) if sees in ("history", "both") else None
        return render(self.prompt, profile=profile, history=history)
