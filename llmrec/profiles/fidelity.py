"""Profile fidelity on synthetic users: does the profile name the genres the user likes?

For users of a synthetic world (:mod:`llmrec.data.synthetic`) the gold liked genres are known.
The measure is the share of a user's gold liked genres that the profile names (liked-genre
recall), averaged over users; a failed profile names nothing and counts as 0. Free-text
profiles are searched for genre names (word match, case-insensitive, common inflections such
as "comedies" or "romantic"); structured ones are read from ``liked_genres``.

Two baselines use no LLM: ``popular`` names the ``k`` globally most popular genres (by training
interactions), ``k`` = the user's number of gold liked genres; ``history`` names the ``k`` genres
most frequent in the user's own training history. Precision (share of named genres that are
gold liked) is reported too, since naming every genre gets full recall.

Reproduce (prints a table and ends with one JSON line)::

    python -m llmrec.profiles.fidelity --model smollm2-135m-instruct --users 64 --seed 0

Example:
    >>> from llmrec.profiles.fidelity import genre_mentions
    >>> genre_mentions("Loves comedies and sci fi; avoids horror.", ["Comedy", "Sci-Fi", "Drama"])
    ['Comedy', 'Sci-Fi']
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.profiles.schema import ProfileRecord

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


def named_liked_genres(record: ProfileRecord, genres: Sequence[str]) -> list[str]:
    """Genres a profile names as liked: the structured field, or mentions in free text."""
    if not record.ok:
        return []
    if record.structured is not None:
        return genre_mentions(" ; ".join(record.structured.get("liked_genres", [])), genres)
    return genre_mentions(record.text, genres)


def popular_genres(dataset: InteractionDataset) -> list[str]:
    """Genres by number of training interactions with items of that genre, most first."""
    counts: Counter[str] = Counter()
    per_item = dataset.interactions["item_id"].value_counts()
    for item_id, n in per_item.items():
        for genre in dataset.items[item_id].genres:
            counts[genre] += int(n)
    return [g for g, _ in counts.most_common()]


def history_genres(dataset: InteractionDataset, user_id: str) -> list[str]:
    """Genres of the user's own training history, most frequent first."""
    counts: Counter[str] = Counter()
    for item in dataset.history_items(user_id):
        counts.update(item.genres)
    return [g for g, _ in counts.most_common()]


@dataclass(frozen=True)
class FidelityReport:
    """Mean liked-genre recall and precision of the profiles and of the two baselines."""

    users: int
    failed: int
    recall: float
    precision: float
    genres_named: float
    popular_recall: float
    history_recall: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def liked_genre_fidelity(
    records: Mapping[str, ProfileRecord],
    gold: Mapping[str, Any],
    train: InteractionDataset,
    genres: Sequence[str],
) -> FidelityReport:
    """Score profiles against gold liked genres, with the ``popular`` and ``history`` baselines.

    Args:
        records: user id -> profile record (every user in ``gold`` that is scored must be here).
        gold: user id -> gold profile with ``liked_genres``.
        train: The training interactions the profiles were built from.
        genres: The genre vocabulary.

    Recall of user ``u``: ``|named(u) ∩ liked(u)| / |liked(u)|``; precision:
    ``|named(u) ∩ liked(u)| / |named(u)|`` (0 when nothing is named).
    """
    popular = popular_genres(train)
    recall, precision, named_counts, pop, hist = [], [], [], [], []
    failed = 0
    for uid, record in records.items():
        liked = set(gold[uid].liked_genres)
        if not liked:
            continue
        named = set(named_liked_genres(record, genres))
        failed += not record.ok
        hits = len(named & liked)
        recall.append(hits / len(liked))
        precision.append(hits / len(named) if named else 0.0)
        named_counts.append(len(named))
        k = len(liked)
        pop.append(len(set(popular[:k]) & liked) / k)
        hist.append(len(set(history_genres(train, uid)[:k]) & liked) / k)
    if not recall:
        raise ValueError("no user with gold liked genres among the records")
    return FidelityReport(
        users=len(recall),
        failed=failed,
        recall=float(np.mean(recall)),
        precision=float(np.mean(precision)),
        genres_named=float(np.mean(named_counts)),
        popular_recall=float(np.mean(pop)),
        history_recall=float(np.mean(hist)),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Liked-genre fidelity of profiles on synthetic users."
    )
    parser.add_argument("--model", default="smollm2-135m-instruct", help="backend spec")
    parser.add_argument("--users", type=int, default=64)
    parser.add_argument("--items", type=int, default=400, help="synthetic catalogue size")
    parser.add_argument("--mean-history", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--strategy", default="whole")
    parser.add_argument("--format", default="free", choices=["free", "structured"])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=None)
    parser.add_argument("--repetition-penalty", type=float, default=1.0)
    parser.add_argument("--cache", default=None, help="SQLite response cache (default none)")
    parser.add_argument("--out", default=None, help="also write the profile records (JSONL)")
    args = parser.parse_args(argv)

    from llmrec.backends import load_backend
    from llmrec.backends.base import GenerationParams
    from llmrec.data.splits import leave_one_out
    from llmrec.data.synthetic import SyntheticConfig, generate_world
    from llmrec.profiles.builder import DEFAULT_MAX_NEW_TOKENS, ProfileBuilder

    config = SyntheticConfig(
        n_users=args.users, n_items=args.items, mean_history=args.mean_history, seed=args.seed
    )
    world = generate_world(config)
    train = leave_one_out(world.dataset).train
    backend = load_backend(args.model, cache=args.cache, batch_size=args.batch_size)
    params = GenerationParams(
        max_new_tokens=args.max_new_tokens or DEFAULT_MAX_NEW_TOKENS[args.format],
        repetition_penalty=args.repetition_penalty,
    )
    builder = ProfileBuilder(backend, strategy=args.strategy, format=args.format, params=params)
    users = train.active_users()
    records: dict[str, ProfileRecord] = {}
    for start in range(0, len(users), args.batch_size):
        chunk = users[start : start + args.batch_size]
        records.update({r.user_id: r for r in builder.build(train, chunk)})
    if args.out:
        from llmrec.profiles.store import write_records

        write_records(args.out, records.values())
    report = liked_genre_fidelity(records, world.gold, train, config.genre_names)
    print(f"{'profiles':>22}: {args.model} ({args.format}, {builder.strategy.describe()})")
    for key, value in report.to_dict().items():
        print(f"{key:>22}: {value:.3f}" if isinstance(value, float) else f"{key:>22}: {value}")
    print(json.dumps({"model": args.model, "format": args.format, **report.to_dict()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
