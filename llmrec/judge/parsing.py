"""Reading scores, choices and permutations out of generated judge replies.

Parsing is strict first (the format the prompt asked for), then lenient (common variants), and
callers may add a bounded repair round (:func:`llmrec.judge.repair.repair_replies`). Each parse
reports *how* it succeeded so that failure and repair rates can be counted.

Example:
    >>> parse_score("Matches the sci-fi taste.\\nScore: 4")
    ParseResult(value=4, how='strict')
    >>> parse_score("I'd say 2/5.")
    ParseResult(value=2, how='lenient')
    >>> parse_score("No idea.")
    ParseResult(value=None, how='failed')
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
HOW = ("strict", "lenient", "repair", "failed")


@dataclass(frozen=True)
class ParseResult:
    """A parsed value (``None`` when parsing failed) and how it was found (one of :data:`HOW`)."""

    value: int | None
    how: str

    @property
    def ok(self) -> bool:
        return self.value is not None


def _round(raw: str) -> int:
    """Integer of a numeric string, halves rounded up (``"4.5"`` -> 5)."""
    return int(math.floor(float(raw) + 0.5))


def _in_range(value: int, lo: int, hi: int) -> bool:
    return lo <= value <= hi


def parse_labelled(text: str, label: str, lo: int, hi: int) -> ParseResult:
    """Parse ``<label>: N`` (strict) or looser forms of an integer answer in ``[lo, hi]``.

    Strict: the last ``label: N`` (case-insensitive, markdown stars allowed). Lenient, in
    order: ``label: 4.5`` (halves round up); ``label`` followed by a number word; ``N/hi`` or ``N out of hi``; a reply that is
    just the number; a single distinct in-range number standing alone in the reply.

    Args:
        text: The generated reply.
        label: ``"Score"``, ``"Choice"``, ...
        lo: Smallest allowed value.
        hi: Largest allowed value.
    """
    if text is None:
        return ParseResult(None, "failed")
    strict = re.findall(rf"{label}\s*\**\s*[:=]\s*\**\s*\[?(\d+(?:\.\d+)?)\]?", text, flags=re.I)
    for raw in reversed(strict):
        value = _round(raw)
        if _in_range(value, lo, hi):
            return ParseResult(value, "strict" if raw.isdigit() else "lenient")
    words = "|".join(WORDS)
    worded = re.findall(rf"{label}\s*\**\s*[:=]?\s*\**\s*({words})\b", text, flags=re.I)
    for raw in reversed(worded):
        if _in_range(WORDS[raw.lower()], lo, hi):
            return ParseResult(WORDS[raw.lower()], "lenient")
    fraction = re.findall(rf"\b(\d+(?:\.\d+)?)\s*(?:/|out of)\s*{hi}\b", text, flags=re.I)
    for raw in reversed(fraction):
        if _in_range(_round(raw), lo, hi):
            return ParseResult(_round(raw), "lenient")
    bare = text.strip().strip(".*[]()\"' ")
    if bare.isdigit() and _in_range(int(bare), lo, hi):
        return ParseResult(int(bare), "lenient")
    # Whole numbers only: not part of "3.5", "3,000", "3/5" or "30%".
    standalone = re.findall(r"(?<!\d[.,])(?<![\d/])\b(\d+)\b(?![.,]\d|[\d/%])", text)
    standalone = {int(d) for d in standalone}
    standalone = {v for v in standalone if _in_range(v, lo, hi)}
    if len(standalone) == 1:
        return ParseResult(standalone.pop(), "lenient")
    return ParseResult(None, "failed")


def parse_score(text: str, lo: int = 1, hi: int = 5) -> ParseResult:
    """A rubric score ``Score: N`` in ``[lo, hi]`` (see :func:`parse_labelled`)."""
    return parse_labelled(text, "Score", lo, hi)


def parse_choice(text: str) -> ParseResult:
    """A pairwise choice ``Choice: 1`` or ``Choice: 2`` (see :func:`parse_labelled`)."""
    return parse_labelled(text, "Choice", 1, 2)


@dataclass(frozen=True)
class PermutationResult:
    """A full ranking (0-based candidate indices, best first) and how it was obtained.

    ``how`` is ``"strict"`` (every candidate exactly once), ``"completed"`` (duplicates or
    out-of-range numbers dropped and missing candidates appended in input order), ``"repair"``
    (after a repair round) or ``"failed"`` (no usable number: the input order is returned).
    """

    order: tuple[int, ...]
    how: str
    parsed: int

    @property
    def ok(self) -> bool:
        return self.how != "failed"


def parse_permutation(text: str, n: int) -> PermutationResult:
    """Parse ``[2] > [1] > [3]`` (or any sequence of 1-based numbers) into a full ranking.

    Args:
        text: The generated reply.
        n: Number of candidates.

    Example:
        >>> parse_permutation("[2] > [3] > [2] > [9]", 3)
        PermutationResult(order=(1, 2, 0), how='completed', parsed=2)
    """
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    seen: list[int] = []
    clean = True
    for raw in re.findall(r"\d+", text or ""):
        k = int(raw) - 1
        if 0 <= k < n and k not in seen:
            seen.append(k)
        else:
            clean = False
    if not seen:
        return PermutationResult(tuple(range(n)), "failed", 0)
    parsed = len(seen)
    missing = [k for k in range(n) if k not in seen]
    how = "strict" if clean and not missing else "completed"
    return PermutationResult(tuple(seen + missing), how, parsed)
