"""Generation hygiene: finding and cutting repetition loops in generated profiles.

Small models decoding greedily fall into loops ("Comedy, Comedy, Comedy, ..." or the same
sentence six times). :func:`find_loop` finds where the first loop starts; :func:`cut_loop` keeps
the text before it; :func:`loop_share` and :func:`empty_field_share` are the two hygiene
measures reported for a profile run.

A loop is either

- the same run of ``n`` words repeated back to back: at least 4 times in all for ``n <= 2``,
  3 times for ``n <= 5``, twice for longer runs; or
- a sentence of at least 4 words that repeats an earlier sentence.

Words are compared case-insensitively without surrounding punctuation.

Example:
    >>> cut_loop("Likes comedy. Comedy, Comedy, Comedy, Comedy, Comedy")
    'Likes comedy.'
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

WORD = re.compile(r"\S+")
SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
MAX_RUN = 24
REQUIRED_FIELDS = ("liked_genres", "summary")


def _repeats_needed(n: int) -> int:
    return 4 if n <= 2 else 3 if n <= 5 else 2


def _key(word: str) -> str:
    return word.strip(".,;:!?\"'()[]").casefold()


def find_loop(text: str) -> int | None:
    """Character offset where the first repetition loop's first *repeat* starts, else ``None``."""
    spans = [(m.start(), _key(m.group())) for m in WORD.finditer(text)]
    words = [w for _, w in spans]
    best: int | None = None
    for n in range(1, MAX_RUN + 1):
        for i in range(0, len(words) - 2 * n + 1):
            if best is not None and spans[i][0] >= best:
                break
            run = words[i : i + n]
            if not any(run):
                continue
            reps, j = 1, i + n
            while words[j : j + n] == run:
                reps, j = reps + 1, j + n
            if reps >= _repeats_needed(n):
                start = spans[i + n][0]
                best = start if best is None else min(best, start)
                break
    offset = 0
    seen: set[tuple[str, ...]] = set()
    for sentence in SENTENCE_END.split(text):
        start = text.find(sentence, offset)
        offset = start + len(sentence)
        key = tuple(_key(w) for w in sentence.split())
        if len(key) >= 4:
            if key in seen:
                best = start if best is None else min(best, start)
                break
            seen.add(key)
    return best


def has_loop(text: str) -> bool:
    """Whether ``text`` contains a repetition loop (see the module docstring)."""
    return find_loop(text) is not None


def cut_loop(text: str) -> str:
    """``text`` up to its first loop (the looped phrase kept once), trailing separators dropped."""
    at = find_loop(text)
    if at is None:
        return text
    return text[:at].rstrip().rstrip(",;:-").rstrip()


def loop_share(texts: Iterable[str]) -> float:
    """Share of texts that contain a loop (0.0 for no texts)."""
    flags = [has_loop(t) for t in texts]
    return sum(flags) / len(flags) if flags else 0.0


def empty_field_share(
    structured: Sequence[Mapping[str, Any] | None], required: Sequence[str] = REQUIRED_FIELDS
) -> float:
    """Share of structured profiles (``None`` = failed) with a missing or empty required field."""
    if not structured:
        return 0.0
    bad = sum(p is None or any(not p.get(name) for name in required) for p in structured)
    return bad / len(structured)
