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


def hygiene_report(records: Iterable[Any]) -> dict[str, float]:
    """Loop shares of raw replies and of final texts, and the empty-field share, of records.

    ``records`` are :class:`~llmrec.profiles.schema.ProfileRecord`; the empty-field share counts
    structured records only (``nan`` when there are none).
    """
    records = list(records)
    structured = [r.structured if r.ok else None for r in records if r.format == "structured"]
    return {
        "profiles": len(records),
        "failed": sum(not r.ok for r in records),
        "loop_share_raw": loop_share(r.raw for r in records),
        "loop_share_final": loop_share(r.text for r in records if r.ok),
        "empty_field_share": empty_field_share(structured) if structured else float("nan"),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Hygiene of default (grounded) profiles on the demo's users; prints one JSON line."""
    import argparse
    import json
    from dataclasses import replace

    parser = argparse.ArgumentParser(description="Loop and empty-field shares of profiles.")
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--model", default="smollm2-135m-instruct")
    parser.add_argument("--users", type=int, default=24, help="the demo samples 24")
    parser.add_argument("--seed", type=int, default=0, help="the demo's seed")
    parser.add_argument("--formats", default="free,structured")
    parser.add_argument("--strategy", default="grounded")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--repetition-penalty",
        default=None,
        help="comma-separated penalties to compare, e.g. 1.0,1.1 (default: the builder's)",
    )
    parser.add_argument("--cache", default=None)
    args = parser.parse_args(argv)

    from llmrec.backends import load_backend
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.data.sampling import sample_users
    from llmrec.profiles.builder import ProfileBuilder

    split = leave_one_out(load_dataset(args.data))
    eligible = sorted(
        set(split.test.interactions["user_id"]), key=split.train.user_index.get
    )  # the demo pipeline's draw (llmrec.pipeline.steps.sample_users)
    users = sample_users(eligible, args.users, args.seed)
    backend = load_backend(args.model, cache=args.cache, batch_size=args.batch_size)
    out: dict[str, Any] = {"data": args.data, "users": len(users), "strategy": args.strategy}
    penalties = [float(p) for p in (args.repetition_penalty or "").split(",") if p.strip()]
    for penalty in penalties or [None]:
        into = out if penalty is None else out.setdefault(f"repetition_penalty={penalty}", {})
        for fmt in [f.strip() for f in args.formats.split(",") if f.strip()]:
            builder = ProfileBuilder(backend, strategy=args.strategy, format=fmt)
            if penalty is not None:
                builder.params = replace(builder.params, repetition_penalty=penalty)
            into[fmt] = hygiene_report(builder.build(split.train, users))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
