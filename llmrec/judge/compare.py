"""Comparing two recommenders by judging their lists for the same users, pairwise.

Each user's top-``k`` list from system A is judged against system B's, in both orders (a win
only when both orders agree); the result is A's win rate ``(wins + 0.5 * ties) / n`` with a
bootstrap interval over users, the tie and position-bias rates.

Ranking files (one per system) may be:

- JSONL, one object per user: ``{"user_id": "1", "items": ["50", "181", ...]}`` (best first);
- JSON: ``{"1": ["50", "181"]}`` or a ranx-style run ``{"1": {"50": 3.2, "181": 2.9}}``
  (sorted by score, descending);
- TSV/CSV with header ``user_id,item_id[,score|rank]``: ordered by score descending, or
  rank ascending, or file order.

Example:
    >>> lists_a = load_rankings("runs/bpr.jsonl")  # doctest: +SKIP
    >>> result = compare_rankings(judge, lists_a, load_rankings("runs/pop.jsonl"), items)  # doctest: +SKIP
    >>> result["win_rate_a"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from llmrec.data.records import Item
from llmrec.judge.pairwise import PairwiseJudge, summarize, win_values
from llmrec.metrics.stats import bootstrap_ci


def load_rankings(path: str | os.PathLike) -> dict[str, list[str]]:
    """``user_id -> item ids, best first`` from a JSONL, JSON, TSV or CSV file (module doc)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"rankings file {p} does not exist")
    if p.suffix == ".jsonl":
        out: dict[str, list[str]] = {}
        for lineno, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out[str(row["user_id"])] = [str(i) for i in row["items"]]
            except (json.JSONDecodeError, KeyError, TypeError) as err:
                raise ValueError(
                    f'{p}:{lineno}: expected {{"user_id": ..., "items": [...]}}, got '
                    f"{line[:80]!r} ({err})"
                ) from None
        return out
    if p.suffix == ".json":
        data = json.loads(p.read_text(encoding="utf-8"))
        if not isinstance(data, Mapping):
            raise ValueError(
                f"{p}: expected a JSON object user_id -> list or run, got {type(data).__name__}"
            )
        out = {}
        for user, value in data.items():
            if isinstance(value, Mapping):
                ordered = sorted(value.items(), key=lambda kv: -float(kv[1]))
                out[str(user)] = [str(i) for i, _ in ordered]
            elif isinstance(value, list):
                out[str(user)] = [str(i) for i in value]
            else:
                raise ValueError(f"{p}: user {user!r}: expected a list or an object of scores")
        return out
    if p.suffix in (".tsv", ".csv", ".txt"):
        import pandas as pd

        frame = pd.read_csv(
            p, sep="\t" if p.suffix != ".csv" else ",", dtype={"user_id": str, "item_id": str}
        )
        missing = {"user_id", "item_id"} - set(frame.columns)
        if missing:
            raise ValueError(
                f"{p}: missing columns {sorted(missing)}; header has {list(frame.columns)}"
            )
        frame = frame.reset_index(names="_order")
        if "score" in frame.columns:
            frame = frame.sort_values(["user_id", "score", "_order"], ascending=[True, False, True])
        elif "rank" in frame.columns:
            frame = frame.sort_values(["user_id", "rank", "_order"])
        return {u: g["item_id"].tolist() for u, g in frame.groupby("user_id", sort=False)}
    raise ValueError(f"{p}: unknown rankings format {p.suffix!r}; use .jsonl, .json, .tsv or .csv")


def compare_rankings(
    judge: PairwiseJudge,
    lists_a: Mapping[str, Sequence[str]],
    lists_b: Mapping[str, Sequence[str]],
    items: Mapping[str, Item],
    k: int = 10,
    user_ids: Sequence[str] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Judge A's and B's top-``k`` lists pairwise for the users both cover.

    Args:
        judge: Pairwise judge (its context must know the users).
        lists_a: System A's rankings.
        lists_b: System B's rankings.
        items: Catalogue by id (unknown ids raise ``ValueError``).
        k: List length shown to the judge.
        user_ids: Users to judge; default every user in both files, in A's order.
        n_boot: Bootstrap resamples.
        seed: Bootstrap seed.

    Returns:
        ``{"users", "k", "win_rate_a": Interval dict, "wins_a", "wins_b", "ties",
        "position_bias_rate", "first_position_rate", "identical_lists", "per_user": [...]}``.
    """
    users = list(user_ids) if user_ids is not None else [u for u in lists_a if u in lists_b]
    if not users:
        raise ValueError("the two rankings share no user; nothing to compare")

    def lookup(iid: str, user: str) -> Item:
        if iid not in items:
            raise ValueError(f"user {user!r}: item {iid!r} is not in the catalogue")
        return items[iid]

    triples, identical = [], 0
    for u in users:
        a, b = list(lists_a[u])[:k], list(lists_b[u])[:k]
        if a == b:
            identical += 1
        triples.append((u, [lookup(i, u) for i in a], [lookup(i, u) for i in b]))
    judgments = judge.compare_lists(triples, k=k)
    summary = summarize(judgments)
    return {
        "users": len(users),
        "k": k,
        "win_rate_a": bootstrap_ci(win_values(judgments), n_resamples=n_boot, seed=seed).to_dict(),
        **{key: v for key, v in summary.to_dict().items() if key != "win_rate_a"},
        "identical_lists": identical,
        "judge": judge.describe(),
        "per_user": [
            {
                "user_id": j.user_id,
                "winner": j.winner,
                "choice_ab": j.choice_ab,
                "choice_ba": j.choice_ba,
            }
            for j in judgments
        ],
    }
