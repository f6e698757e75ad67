"""Getting a :class:`StructuredProfile` out of a model's reply: extract, validate, repair.

A reply is searched for its JSON object (inside a code fence or the first balanced ``{...}``);
small syntax slips are fixed locally (trailing commas, single quotes, Python literals, missing
closing brackets). What still fails is sent back to the model with the error, a bounded number
of times, by the profile builder; a profile that never validates is recorded as failed.

Example:
    >>> result = parse_structured('Sure! {"liked_genres": ["Drama",], "summary": "x"}')
    >>> result.profile.liked_genres, result.error
    (['Drama'], None)
"""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from pydantic import ValidationError

from llmrec.profiles.schema import StructuredProfile

FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


def extract_json_object(text: str) -> str | None:
    """The JSON object text in a reply: a fenced block, else from the first ``{`` on.

    The object is cut at its balanced closing brace when there is one; an object left open
    (a reply cut by the token limit) is returned to its end for :func:`close_brackets`.
    """
    fenced = FENCE.search(text)
    if fenced and "{" in fenced.group(1):
        text = fenced.group(1)
    start = text.find("{")
    if start == -1:
        return None
    depth, in_string, escaped = 0, False, False
    for pos in range(start, len(text)):
        char = text[pos]
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "{[":
            depth += 1
        elif char in "}]":
            depth -= 1
            if depth == 0:
                return text[start : pos + 1]
    return text[start:]


def close_brackets(text: str) -> str:
    """Close the brackets a cut-off reply left open, dropping a value cut in the middle.

    A string cut by the token limit is removed rather than kept as a fragment (``"Com`` is
    not a genre), and so is a key left without its value.
    """
    stack: list[str] = []
    in_string, escaped, string_start = False, False, 0
    for pos, char in enumerate(text):
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string, string_start = True, pos
        elif char in "{[":
            stack.append("}" if char == "{" else "]")
        elif char in "}]" and stack:
            stack.pop()
    body = text[:string_start] if in_string else text
    while True:  # drop what the cut left dangling: separators, a key without its value
        trimmed = body.rstrip().rstrip(",").rstrip()
        key = re.search(r'"[^"]*"\s*:\s*$', trimmed)
        if key:
            trimmed = trimmed[: key.start()]
        if trimmed == body:
            break
        body = trimmed
    return body + "".join(reversed(stack))


def _local_fixes(text: str) -> str:
    text = re.sub(r",\s*([}\]])", r"\1", text)  # trailing commas
    text = re.sub(r"\bNone\b", "null", text)
    text = re.sub(r"\bTrue\b", "true", text)
    text = re.sub(r"\bFalse\b", "false", text)
    if '"' not in text and "'" in text:
        text = text.replace("'", '"')
    return text


class ParseResult(NamedTuple):
    """A parsed profile, or why there is none; ``note`` says what was fixed locally."""

    profile: StructuredProfile | None
    error: str | None
    note: str | None = None


def parse_structured(reply: str) -> ParseResult:
    """Validate a reply as a :class:`StructuredProfile`.

    Returns:
        ``ParseResult(profile, None, note)`` on success (``note`` names a local fix, if one
        was needed), else ``ParseResult(None, error)`` with a short reason that the repair
        prompt shows the model.
    """
    candidate = extract_json_object(reply)
    if candidate is None:
        return ParseResult(None, "no JSON object found (expected one {...} object)")
    attempts = [
        (candidate, None),
        (_local_fixes(candidate), "fixed JSON syntax locally"),
        (close_brackets(_local_fixes(candidate)), "closed a reply cut off mid-object"),
    ]
    error = ""
    for text, note in attempts:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            error = f"invalid JSON: {err.msg} at line {err.lineno} column {err.colno}"
            continue
        if not isinstance(data, dict):
            return ParseResult(None, f"expected a JSON object, got {type(data).__name__}")
        try:
            return ParseResult(StructuredProfile.model_validate(data), None, note)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first.get("loc", ())) or "profile"
            return ParseResult(None, f"{field}: {first.get('msg', 'invalid')}")
    return ParseResult(None, error)
