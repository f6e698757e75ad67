"""Bounded repair of judge replies that did not parse.

A failed reply is shown back to the model (as delimited data) with a short request for the
answer alone, at most ``max_repairs`` times; what still fails is returned as failed, never
guessed. Peers needed up to 18 retries (PAPERS.md section 1); we cap repair and count it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from llmrec.backends.base import Backend, GenerationParams
from llmrec.prompts import render_chat

REPAIR_PROMPT = "judge/repair"


def repair_replies(
    backend: Backend,
    replies: Sequence[str],
    results: Sequence[Any],
    parse: Callable[[str], Any] | Sequence[Callable[[str], Any]],
    ask: str,
    max_repairs: int = 1,
    max_new_tokens: int = 16,
    prompt: str = REPAIR_PROMPT,
) -> list[Any]:
    """Re-ask for the failed results, up to ``max_repairs`` rounds; successes keep their parse.

    Args:
        backend: Generates the repair replies (greedy).
        replies: The original replies, one per result.
        results: Parse results with an ``ok`` property and a ``how`` field.
        parse: Parser applied to each repair reply, or one parser per result.
        ask: The one-line request (``"Reply with only the score, one digit from 1 to 5."``).
        max_repairs: Repair rounds; 0 disables repair.
        max_new_tokens: Length of a repair reply.
        prompt: Template of the repair chat (variables ``reply`` and ``ask``).

    Returns:
        One result per input; repaired ones carry ``how="repair"``, the rest are unchanged.
    """
    if max_repairs < 0:
        raise ValueError(f"max_repairs must be >= 0, got {max_repairs}")
    out = list(results)
    parsers = list(parse) if isinstance(parse, Sequence) else [parse] * len(out)
    if len(parsers) != len(out):
        raise ValueError(f"got {len(parsers)} parsers for {len(out)} results")
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0)
    for _ in range(max_repairs):
        todo = [i for i, r in enumerate(out) if not r.ok]
        if not todo:
            break
        chats = [render_chat(prompt, reply=replies[i] or "", ask=ask) for i in todo]
        for i, text in zip(todo, backend.generate(chats, params), strict=True):
            parsed = parsers[i](text)
            if parsed.ok:
                out[i] = replace(parsed, how="repair")
    return out
