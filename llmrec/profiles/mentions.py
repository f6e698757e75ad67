"""Which values of a categorical attribute (genres, categories, ...) a text names, and how.

Matching is word-bounded and case-insensitive, with common inflections ("comedies",
"romantic", "science fiction"). :func:`polar_mentions` also reads the polarity of each clause
(a clause with "dislike", "avoid", "not", "rarely", ... names values as disliked), so that a
profile saying "avoids Horror" is not scored as liking Horror.

Example:
    >>> genre_mentions("Loves comedies and sci fi; avoids horror.", ["Comedy", "Sci-Fi", "Drama"])
    ['Comedy', 'Sci-Fi']
    >>> polar_mentions("Loves comedies. Avoids horror.", ["Comedy", "Horror"])
    (['Comedy'], ['Horror'])
"""

from __future__ import annotations

import re
from collections.abc import Sequence

INFLECTIONS: dict[str, tuple[str, ...]] = {
    "comedy": ("comedies", "comedic"),
    "drama": ("dramas", "dramatic"),
    "romance": ("romances", "romantic"),
    "animation": ("animated",),
    "documentary": ("documentaries",),
    "thriller": ("thrillers",),
    "musical": ("musicals",),
    "western": ("westerns",),
    "mystery": ("mysteries",),
    "sci fi": ("science fiction", "scifi"),
    "adventure": ("adventures", "adventurous"),
    "fantasy": ("fantasies",),
    "war": ("war films", "war movies"),
    "crime": ("criminal",),
    "horror": ("horrors",),
}


def _norm(text: str) -> str:
    return re.sub(r"[\s\-_/]+", " ", text.lower()).strip()


def genre_mentions(text: str, genres: Sequence[str]) -> list[str]:
    """Genres (from ``genres``) that ``text`` names, in ``genres`` order."""
    body = f" {_norm(text)} "
    named = []
    for genre in genres:
        key = _norm(genre)
        forms = (key, *INFLECTIONS.get(key, ()))
        if any(re.search(rf"(?<![a-z]){re.escape(f)}(?![a-z])", body) for f in forms):
            named.append(genre)
    return named


NEGATIVE = re.compile(
    r"\b(dislike[sd]?|avoid(s|ed)?|not|n't|never|rarely|hate[sd]?|less|low|poor(ly)?|"
    r"fading|stopped|no longer|used to|instead of|except|but not|away from|dislikes or avoids)\b"
)
CLAUSE = re.compile(r"[.;!?\n]+|\bbut\b|\bwhile\b|\bwhereas\b|\bhowever\b")


def polar_mentions(text: str, values: Sequence[str]) -> tuple[list[str], list[str]]:
    """``(named as liked, named as disliked)``: mentions split by the polarity of their clause.

    A value named in both kinds of clause counts as disliked only (the cautious reading).
    """
    liked: list[str] = []
    disliked: list[str] = []
    for clause in CLAUSE.split(text):
        if not clause or not clause.strip():
            continue
        named = genre_mentions(clause, values)
        target = disliked if NEGATIVE.search(clause.lower()) else liked
        target.extend(v for v in named if v not in target)
    liked = [v for v in values if v in liked and v not in disliked]
    disliked = [v for v in values if v in disliked]
    return liked, disliked
