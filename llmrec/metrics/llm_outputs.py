"""Validity rates of LLM recommenders that name items in text.

Generated titles are first matched to catalogue items by a :class:`TitleMatcher` whose every
normalisation step is explicit and switchable; the rate functions then work on the matched ids
(``None`` = no catalogue item matched) and return one value per user.

Example:
    >>> from llmrec.metrics.llm_outputs import TitleMatcher, hallucination_rate
    >>> matcher = TitleMatcher.from_titles({"1": "Toy Story (1995)", "2": "Heat (1995)"})
    >>> matched = matcher.match_lists([["toy story", "Blade Runner", "Heat"]])
    >>> matched
    [['1', None, '2']]
    >>> hallucination_rate(matched).tolist()
    [0.3333333333333333]
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

_YEAR = re.compile(r"\s*\(\s*\d{4}\s*\)\s*$")
_PUNCT = re.compile(r"[^\w\s]")
_ARTICLE_SUFFIX = re.compile(r",\s*(the|a|an)\s*$", re.IGNORECASE)
_ARTICLE_PREFIX = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


@dataclass(frozen=True)
class TitleMatcher:
    """Maps free-text titles to catalogue item ids.

    Normalisation steps, applied in this order to both catalogue and generated titles:

    Args:
        titles: Catalogue ``item_id -> title`` (set through :meth:`from_titles`).
        strip_year: Drop a trailing ``"(1995)"``.
        move_article: Treat ``"Usual Suspects, The"`` as ``"The Usual Suspects"``.
        drop_article: Then drop a leading article (``"the"``, ``"a"``, ``"an"``).
        casefold: Compare case-insensitively.
        strip_accents: Compare without diacritics.
        strip_punctuation: Drop punctuation and collapse whitespace.
        fuzzy_cutoff: If set (0..1), a title without an exact normalised match takes the closest
            catalogue title whose ``difflib`` ratio is at least this; ``None`` means exact only.

    Titles that normalise identically map to the first such item in catalogue order.
    """

    titles: Mapping[str, str] = field(default_factory=dict, repr=False)
    strip_year: bool = True
    move_article: bool = True
    drop_article: bool = True
    casefold: bool = True
    strip_accents: bool = True
    strip_punctuation: bool = True
    fuzzy_cutoff: float | None = None

    @classmethod
    def from_titles(cls, titles: Mapping[str, str], **options) -> TitleMatcher:
        """A matcher over ``item_id -> title`` with the given normalisation options."""
        if options.get("fuzzy_cutoff") is not None and not 0 < options["fuzzy_cutoff"] <= 1:
            raise ValueError(f"fuzzy_cutoff must be in (0, 1], got {options['fuzzy_cutoff']}")
        return cls(titles=dict(titles), **options)

    def normalise(self, title: str) -> str:
        """The comparison key of a title under this matcher's options."""
        text = str(title).strip()
        if self.strip_year:
            text = _YEAR.sub("", text)
        if self.move_article:
            m = _ARTICLE_SUFFIX.search(text)
            if m:
                text = f"{m.group(1)} {text[: m.start()]}"
        if self.drop_article:
            text = _ARTICLE_PREFIX.sub("", text)
        if self.casefold:
            text = text.casefold()
        if self.strip_accents:
            text = "".join(
                c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c)
            )
        if self.strip_punctuation:
            text = _PUNCT.sub(" ", text)
        return " ".join(text.split())

    @property
    def _index(self) -> dict[str, str]:
        cached = self.__dict__.get("_cached_index")
        if cached is None:
            cached = {}
            for item_id, title in self.titles.items():
                cached.setdefault(self.normalise(title), item_id)
            object.__setattr__(self, "_cached_index", cached)
        return cached

    def match(self, title: str) -> str | None:
        """The catalogue id a generated title refers to, or ``None``."""
        key = self.normalise(title)
        index = self._index
        if key in index:
            return index[key]
        if self.fuzzy_cutoff is not None and key:
            close = difflib.get_close_matches(key, list(index), n=1, cutoff=self.fuzzy_cutoff)
            if close:
                return index[close[0]]
        return None

    def match_lists(self, generated: Iterable[Sequence[str]]) -> list[list[str | None]]:
        """Match every title of every user's generated list."""
        return [[self.match(t) for t in titles] for titles in generated]


def _rate(counts: list[int], totals: list[int]) -> np.ndarray:
    c = np.asarray(counts, dtype=np.float64)
    t = np.asarray(totals, dtype=np.float64)
    return np.divide(c, t, out=np.zeros(len(c)), where=t > 0)


def hallucination_rate(matched: Sequence[Sequence[str | None]]) -> np.ndarray:
    """Share of generated names that match no catalogue item: ``|{None}| / L`` per user."""
    return _rate([sum(m is None for m in row) for row in matched], [len(r) for r in matched])


def duplicate_rate(matched: Sequence[Sequence[str | None]]) -> np.ndarray:
    """Share of matched names repeating an item already named earlier in the same list."""
    counts, totals = [], []
    for row in matched:
        ids = [m for m in row if m is not None]
        counts.append(len(ids) - len(set(ids)))
        totals.append(len(ids))
    return _rate(counts, totals)


def in_history_rate(
    matched: Sequence[Sequence[str | None]], histories: Sequence[Iterable[str]]
) -> np.ndarray:
    """Share of matched names that are items the user already interacted with (in training)."""
    if len(matched) != len(histories):
        raise ValueError(f"{len(matched)} lists but {len(histories)} histories")
    counts, totals = [], []
    for row, hist in zip(matched, histories):
        seen = set(hist)
        ids = [m for m in row if m is not None]
        counts.append(sum(m in seen for m in ids))
        totals.append(len(ids))
    return _rate(counts, totals)


def out_of_candidate_rate(
    matched: Sequence[Sequence[str | None]], candidates: Sequence[Iterable[str]]
) -> np.ndarray:
    """Share of matched names outside the candidate set the model was asked to rank."""
    if len(matched) != len(candidates):
        raise ValueError(f"{len(matched)} lists but {len(candidates)} candidate sets")
    counts, totals = [], []
    for row, cands in zip(matched, candidates):
        allowed = set(cands)
        ids = [m for m in row if m is not None]
        counts.append(sum(m not in allowed for m in ids))
        totals.append(len(ids))
    return _rate(counts, totals)


def llm_output_rates(
    generated: Sequence[Sequence[str]],
    matcher: TitleMatcher,
    histories: Sequence[Iterable[str]] | None = None,
    candidates: Sequence[Iterable[str]] | None = None,
) -> dict[str, np.ndarray]:
    """All validity rates of generated title lists at once, one array per rate.

    Args:
        generated: Per user, the titles the model named, in order.
        matcher: How titles map to catalogue ids.
        histories: Per user, the training item ids (adds ``in_history_rate``).
        candidates: Per user, the candidate ids offered (adds ``out_of_candidate_rate``).

    Example:
        >>> m = TitleMatcher.from_titles({"1": "Heat (1995)"})
        >>> {k: v.tolist() for k, v in llm_output_rates([["Heat", "Heat", "Nope"]], m).items()}
        {'hallucination_rate': [0.3333333333333333], 'duplicate_rate': [0.5]}
    """
    matched = matcher.match_lists(generated)
    out = {
        "hallucination_rate": hallucination_rate(matched),
        "duplicate_rate": duplicate_rate(matched),
    }
    if histories is not None:
        out["in_history_rate"] = in_history_rate(matched, histories)
    if candidates is not None:
        out["out_of_candidate_rate"] = out_of_candidate_rate(matched, candidates)
    return out
