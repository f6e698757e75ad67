"""User data as text, one string per source: profile, serialised history, tabular attributes.

A user's heterogeneous data (InstructUE's ``X``) is turned into a few short texts that a sentence
encoder reads. Each source is a separate string so that a multi-source encoder can embed them
separately and fuse them (:mod:`llmrec.embeddings.fusion`); :func:`join_sources` concatenates
them for the single-text encoder.

- ``profile``: free text from :mod:`llmrec.profiles` (any ``dict[user_id, str]``).
- ``history``: the user's items with their attributes, most recent first, cut to fit a token
  budget measured with the encoder's own tokenizer (the oldest items are dropped, never half
  an item).
- ``attributes``: the user's tabular fields (``age``, ``gender``, ``occupation``, ...).
- ``facts``: counts over the WHOLE history (:func:`history_facts`: number of items, the top
  genres and their shares, the median release year, the mean rating), so a text encoder that
  reads only the most recent items still sees the long-run picture. Computed here from the
  interactions; grounded profile facts from :mod:`llmrec.profiles` can be passed as the
  ``profile`` source instead.

Example:
    >>> from llmrec.embeddings.sources import item_text
    >>> from llmrec.data.records import Item
    >>> item_text(Item("1", "Toy Story", genres=("Animation", "Comedy"), year=1995))
    'Toy Story (1995; Animation, Comedy)'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from llmrec.data.records import InteractionDataset, Item

SOURCES = ("profile", "facts", "attributes", "history")
DEFAULT_ATTRIBUTES = ("age", "gender", "occupation")
_GENDER = {"M": "male", "F": "female"}


def item_text(item: Item) -> str:
    """One item as a short line: ``Title (year; genre, genre)``."""
    facts = []
    if item.year is not None:
        facts.append(str(item.year))
    if item.genres:
        facts.append(", ".join(item.genres))
    return f"{item.title} ({'; '.join(facts)})" if facts else item.title


def attributes_text(attributes: Mapping[str, Any], keys: Sequence[str] = DEFAULT_ATTRIBUTES) -> str:
    """Tabular user fields as ``age: 24; gender: male; occupation: technician``.

    Missing fields are left out; an empty string means the user has none of ``keys``.
    """
    parts = []
    for key in keys:
        value = attributes.get(key)
        if value is None or value == "":
            continue
        if key == "gender":
            value = _GENDER.get(str(value), value)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


@dataclass(frozen=True)
class HistoryFitter:
    """Serialises histories, most recent first, within ``max_tokens`` of a tokenizer.

    Item lines are tokenised once per item (cached), so fitting 10k histories costs one pass of
    integer sums, not 10k tokeniser calls.

    Args:
        tokenizer: A Hugging Face tokenizer (the encoder's own), or ``None`` to count words.
        max_tokens: Token budget of the history text, separators included.
        with_ratings: Append ``rated R`` to each item when the interaction has a rating.
    """

    tokenizer: Any = None
    max_tokens: int = 192
    with_ratings: bool = True

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        object.__setattr__(self, "_cache", {})

    def _length(self, line: str) -> int:
        cache: dict[str, int] = self._cache  # type: ignore[attr-defined]
        if line not in cache:
            if self.tokenizer is None:
                cache[line] = len(line.split()) + 1
            else:
                # +1 for the "; " separator, which is one token for word-piece and BPE tokenizers.
                ids = self.tokenizer(line, add_special_tokens=False)["input_ids"]
                cache[line] = len(ids) + 1
        return cache[line]

    def prime(self, lines: Sequence[str]) -> None:
        """Tokenise many distinct lines in one batched call (fills the length cache)."""
        cache: dict[str, int] = self._cache  # type: ignore[attr-defined]
        todo = sorted({line for line in lines if line not in cache})
        if not todo or self.tokenizer is None:
            return
        encoded = self.tokenizer(todo, add_special_tokens=False)["input_ids"]
        for line, ids in zip(todo, encoded):
            cache[line] = len(ids) + 1

    def fit(self, lines_recent_first: Sequence[str]) -> str:
        """Join as many lines as fit in the budget, most recent first."""
        kept, used = [], 0
        for line in lines_recent_first:
            n = self._length(line)
            if used + n > self.max_tokens:
                break
            kept.append(line)
            used += n
        return "; ".join(kept)


def history_facts(dataset: InteractionDataset, user_id: str, top_genres: int = 3) -> str:
    """Counts over the user's whole history as one short line.

    Example: ``"127 movies; genres Drama 35%, Comedy 22%, Thriller 12%; median year 1994;
    mean rating 3.6"``. Genre shares are over the user's items (an item counts for each of
    its genres); ``""`` for a user without history.
    """
    records = dataset.history(user_id)
    if not records:
        return ""
    genres: dict[str, int] = {}
    years, ratings = [], []
    for record in records:
        item = dataset.items[record.item_id]
        for genre in item.genres:
            if genre != "unknown":
                genres[genre] = genres.get(genre, 0) + 1
        if item.year is not None:
            years.append(item.year)
        if record.rating is not None and record.rating == record.rating:  # not NaN
            ratings.append(float(record.rating))
    parts = [f"{len(records)} movies"]
    ranked = sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))[:top_genres]
    if ranked:
        shares = ", ".join(f"{g} {round(100 * c / len(records))}%" for g, c in ranked)
        parts.append(f"genres {shares}")
    if years:
        parts.append(f"median year {int(sorted(years)[len(years) // 2])}")
    if ratings:
        parts.append(f"mean rating {sum(ratings) / len(ratings):.1f}")
    return "; ".join(parts)


def history_lines(
    dataset: InteractionDataset, user_id: str, with_ratings: bool = True
) -> list[str]:
    """The user's items as text lines, most recent first."""
    lines = []
    for record in reversed(dataset.history(user_id)):
        line = item_text(dataset.items[record.item_id])
        if with_ratings and record.rating is not None:
            line = f"{line} rated {record.rating:g}"
        lines.append(line)
    return lines


def user_sources(
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    profiles: Mapping[str, str] | None = None,
    sources: Sequence[str] = ("attributes", "history"),
    tokenizer: Any = None,
    max_history_tokens: int = 192,
    attribute_keys: Sequence[str] = DEFAULT_ATTRIBUTES,
    with_ratings: bool = True,
) -> dict[str, list[str]]:
    """The text of each requested source for each user (``""`` where a user lacks a source).

    Args:
        dataset: Interactions to read histories from. Pass ``split.train`` so nothing held out
            reaches the encoder.
        user_ids: Users, in output order.
        profiles: ``{user_id: profile text}``; required when ``"profile"`` is in ``sources``.
        sources: Any of :data:`SOURCES`, in the order they are joined or fused.
        tokenizer: The encoder's tokenizer, used to fit histories to ``max_history_tokens``.
        max_history_tokens: Token budget of the history source.
        attribute_keys: User attribute fields to include.
        with_ratings: Include the rating of each history item.

    Returns:
        ``{source: [text per user]}``.

    Example:
        >>> texts = user_sources(split.train, ["1", "2"], tokenizer=model.tokenizer)  # doctest: +SKIP
        >>> texts["history"][0][:40]  # doctest: +SKIP
        'Star Kid (1997; Adventure, ...) rated 3; ...'
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown or not sources:
        raise ValueError(f"unknown sources {unknown or list(sources)}; allowed: {list(SOURCES)}")
    if "profile" in sources and profiles is None:
        raise ValueError("sources include 'profile' but no profiles were given")
    out: dict[str, list[str]] = {s: [] for s in sources}
    fitter = HistoryFitter(tokenizer, max_history_tokens, with_ratings)
    if "history" in sources:
        all_lines = [history_lines(dataset, str(u), with_ratings) for u in user_ids]
        fitter.prime([line for lines in all_lines for line in lines])
    for n, uid in enumerate(user_ids):
        uid = str(uid)
        if "profile" in sources:
            out["profile"].append(str((profiles or {}).get(uid, "") or ""))
        if "facts" in sources:
            out["facts"].append(history_facts(dataset, uid))
        if "attributes" in sources:
            user = dataset.users.get(uid)
            out["attributes"].append(
                attributes_text(user.attributes, attribute_keys) if user else ""
            )
        if "history" in sources:
            out["history"].append(fitter.fit(all_lines[n]))
    return out


_LABELS = {
    "profile": "Profile",
    "facts": "Facts",
    "attributes": "Attributes",
    "history": "History (most recent first)",
}


def join_sources(texts: Mapping[str, Sequence[str]]) -> list[str]:
    """One text per user: ``Profile: ...\\nAttributes: ...\\nHistory (most recent first): ...``.

    Empty sources are left out. The history comes last so that truncation by the encoder drops
    the oldest items first.
    """
    names = [s for s in SOURCES if s in texts]
    n = len(next(iter(texts.values()))) if texts else 0
    out = []
    for i in range(n):
        parts = [f"{_LABELS[s]}: {texts[s][i]}" for s in names if texts[s][i]]
        out.append("\n".join(parts))
    return out
