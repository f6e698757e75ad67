"""Profile strategies: which part of a history the prompt sees, and in which shape.

A strategy turns one user's training history into a :class:`UserView`: the history lines the
final prompt shows, chunks to summarise first (hierarchical), and an earlier profile to update
(incremental). The builder does the model calls, batched over users.

=================  ===================================================================
name               what the final prompt sees
=================  ===================================================================
``grounded``       facts computed from the whole history (:mod:`llmrec.context.facts`:
                   likes, dislikes, eras, rating style, pace, recent change) and the last
                   ``sample`` items; the model writes from these only (the default)
``whole``          the whole history, oldest items dropped until it fits a token budget
``recent``         the last ``last_n`` items and/or the last ``days`` days
``hierarchical``   notes on each chunk of ``chunk_size`` items (one model call per chunk,
                   batched), merged in the final prompt with the latest chunk's lines
``incremental``    an earlier profile plus the interactions since (``since``) or the last
                   ``last_n``; users without an earlier profile get a ``whole`` profile
=================  ===================================================================

Example:
    >>> from llmrec.profiles.strategies import make_strategy
    >>> make_strategy("recent", last_n=20).describe()
    'recent(last_n=20, days=None)'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from llmrec.context.facts import FactsConfig, ProfileFacts, base_shares, compute_facts
from llmrec.context.history import HistoryEntry, fit_recent
from llmrec.data.windows import last_days, last_n

if TYPE_CHECKING:
    from llmrec.data.records import InteractionDataset


@dataclass(frozen=True)
class UserView:
    """What the prompts for one user are built from.

    Args:
        user_id: The user.
        lines: History lines shown in the final prompt, oldest first.
        n_omitted: Older interactions left out of ``lines`` (and not summarised).
        chunks: Line groups to summarise first (hierarchical), oldest first.
        previous: An earlier profile to update (incremental).
        n_interactions: Interactions the profile draws on (lines plus chunks).
        facts: Facts computed from the history (grounded strategy).
    """

    user_id: str
    lines: list[str]
    n_omitted: int = 0
    chunks: list[list[str]] = field(default_factory=list)
    previous: str | None = None
    n_interactions: int = 0
    facts: ProfileFacts | None = None


Counter = Callable[[str], int]


class Strategy:
    """Base of the strategies: ``view`` builds a :class:`UserView`; ``describe`` names it."""

    name = "strategy"

    def view(
        self, user_id: str, entries: Sequence[HistoryEntry], lines: Sequence[str], count: Counter
    ) -> UserView:
        raise TypeError(f"{type(self).__name__} does not define view()")

    def bind(self, dataset: InteractionDataset) -> Strategy:
        """The strategy ready for users of ``dataset`` (``split.train``); most need nothing."""
        return self

    def describe(self) -> str:
        """Name and settings, recorded with every profile (e.g. ``whole(token_budget=768)``)."""
        settings = ", ".join(
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if f.name not in ("previous", "base")
        )
        return f"{self.name}({settings})"


@dataclass(frozen=True)
class WholeHistory(Strategy):
    """The whole history, oldest items dropped until the lines fit ``token_budget`` tokens."""

    token_budget: int = 768
    name = "whole"

    def view(self, user_id, entries, lines, count):
        kept = fit_recent(lines, self.token_budget, count) if lines else 0
        return UserView(
            user_id,
            list(lines[len(lines) - kept :]),
            n_omitted=len(lines) - kept,
            n_interactions=kept,
        )


@dataclass(frozen=True)
class RecentWindow(Strategy):
    """The last ``last_n`` items and/or those of the last ``days`` days (both: the smaller)."""

    last_n: int | None = 20
    days: float | None = None
    name = "recent"

    def __post_init__(self) -> None:
        if self.last_n is None and self.days is None:
            raise ValueError("recent strategy: give last_n, days or both")

    def view(self, user_id, entries, lines, count):
        index = {id(e.interaction): k for k, e in enumerate(entries)}
        window = [e.interaction for e in entries]
        if self.days is not None:
            window = last_days(window, self.days)
        if self.last_n is not None:
            window = last_n(window, self.last_n)
        keep = [index[id(r)] for r in window]
        return UserView(
            user_id,
            [lines[k] for k in keep],
            n_omitted=len(lines) - len(keep),
            n_interactions=len(keep),
        )


@dataclass(frozen=True)
class Hierarchical(Strategy):
    """Chunks of ``chunk_size`` items summarised one by one, then merged.

    The latest chunk is shown as lines in the final prompt, the earlier ones as notes; at most
    ``max_chunks`` chunks (the latest) are used. A history of one chunk is a plain profile.
    """

    chunk_size: int = 30
    max_chunks: int = 16
    name = "hierarchical"

    def __post_init__(self) -> None:
        if self.chunk_size < 1 or self.max_chunks < 1:
            raise ValueError(
                f"hierarchical strategy: chunk_size and max_chunks must be >= 1, got "
                f"{self.chunk_size} and {self.max_chunks}"
            )

    def view(self, user_id, entries, lines, count):
        chunks = [
            list(lines[k : k + self.chunk_size]) for k in range(0, len(lines), self.chunk_size)
        ]
        chunks = chunks[-self.max_chunks :]
        used = sum(len(c) for c in chunks)
        last = chunks.pop() if chunks else []
        return UserView(
            user_id, last, n_omitted=len(lines) - used, chunks=chunks, n_interactions=used
        )


@dataclass(frozen=True)
class Incremental(Strategy):
    """An earlier profile updated with new interactions.

    Args:
        previous: user id -> earlier profile text.
        since: New interactions are those after this timestamp; ``None`` takes the last
            ``last_n`` instead.
        last_n: Cap on new interactions shown.
        token_budget: Budget for users without an earlier profile (a ``whole`` profile).
    """

    previous: Mapping[str, str] = field(default_factory=dict)
    since: float | None = None
    last_n: int = 20
    token_budget: int = 768
    name = "incremental"

    def view(self, user_id, entries, lines, count):
        old = self.previous.get(user_id)
        if not old:
            return WholeHistory(self.token_budget).view(user_id, entries, lines, count)
        keep = list(range(len(entries)))
        if self.since is not None:
            keep = [
                k
                for k, e in enumerate(entries)
                if e.interaction.timestamp is not None and e.interaction.timestamp > self.since
            ]
        keep = keep[-self.last_n :] if self.last_n else keep
        return UserView(
            user_id,
            [lines[k] for k in keep],
            n_omitted=len(lines) - len(keep),
            previous=old,
            n_interactions=len(keep),
        )


@dataclass(frozen=True)
class Grounded(Strategy):
    """Facts computed from the whole history plus the last ``sample`` items as lines.

    Args:
        sample: Recent history lines shown for flavour (0 shows none).
        attribute: The categorical item attribute the facts are about (``"genres"``, or an
            attribute name such as ``"category"`` or ``"author"``).
        base: Catalogue share of each value; filled by :meth:`bind` from the training data.
    """

    sample: int = 5
    attribute: str = "genres"
    base: dict[str, float] | None = None
    name = "grounded"

    def __post_init__(self) -> None:
        if self.sample < 0:
            raise ValueError(f"grounded strategy: sample must be >= 0, got {self.sample}")

    def bind(self, dataset: InteractionDataset) -> Grounded:
        return replace(self, base=base_shares(dataset, self.attribute))

    def view(self, user_id, entries, lines, count):
        facts = compute_facts(user_id, entries, self.base, FactsConfig(attribute=self.attribute))
        shown = list(lines[len(lines) - self.sample :]) if self.sample else []
        return UserView(
            user_id,
            shown,
            n_omitted=len(lines) - len(shown),
            n_interactions=len(entries),
            facts=facts,
        )


STRATEGIES: dict[str, type[Strategy]] = {
    "grounded": Grounded,
    "whole": WholeHistory,
    "recent": RecentWindow,
    "hierarchical": Hierarchical,
    "incremental": Incremental,
}


def make_strategy(name: str, **settings) -> Strategy:
    """A strategy by name; settings not used by that strategy are ignored when ``None``.

    Raises:
        ValueError: for an unknown name (the valid names are listed) or a setting the strategy
            does not take.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown profile strategy {name!r}; choose one of {sorted(STRATEGIES)}")
    cls = STRATEGIES[name]
    allowed = {f.name for f in fields(cls)}
    given = {k: v for k, v in settings.items() if v is not None}
    unknown = sorted(set(given) - allowed)
    if unknown:
        raise ValueError(
            f"profile strategy {name!r} takes {sorted(allowed)}; got unexpected {unknown}"
        )
    return cls(**given)
