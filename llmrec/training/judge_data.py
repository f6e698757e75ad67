"""Training data that teaches a model the judge's own prompt and answer (``recipes/judge.py``).

Each example is exactly the chat :class:`~llmrec.judge.pointwise.PointwiseJudge` sends (same
template, same user block, same item block) with a one-digit answer as the completion, so the
trained adapter is used through ``llmrec judge validate --adapter <dir>`` unchanged.

Where the examples come from (training users only; nothing from any held-out period):

- each training user's *last* ``targets_per_user`` interactions of ``split.train`` are the
  targets; the judge is shown the history *before* them (a prefix of ``split.train``);
- a target is labelled by its rating: 4-5 -> ``"5"``, 3 -> ``"4"``, 1-2 -> ``"2"``; an
  unrated target -> ``"5"``;
- each target gets ``negatives_per_target`` unseen items from its popularity decile
  (:func:`~llmrec.data.sampling.popularity_matched_negatives`), labelled ``"1"``.

So the rubric's order holds: a liked next item > a neutral one > a disliked one > an item the
user did not pick at all, which is what both validity tasks ask (next item against matched
negatives; liked against disliked). Each example is shown under one judge view (``views``,
round robin); the profile is the grounded facts of the prefix as text.

Example:
    >>> args = JudgeScriptArguments(train_users=8, targets_per_user=1)
    >>> data = build_judge_data(args, exclude_users=[], seed=0)  # doctest: +SKIP
    >>> data.train[0]["completion"]  # doctest: +SKIP
    [{'role': 'assistant', 'content': '5'}]
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

VIEWS = ("profile", "history", "both")
TRAIN_USERS_FILE = "judge_train_users.json"


@dataclass
class JudgeScriptArguments:
    """What the judge recipe trains on (YAML keys of ``recipes/smollm2/judge/*.yaml``).

    Args:
        dataset: Dataset name for :func:`~llmrec.training.data.load_recipe_dataset`.
        train_users: Users whose training histories give the examples.
        exclude_users: JSON list (or one id a line) of users never to train on, e.g. the users
            ``llmrec judge validate`` reports on; the recipe also writes its own training users
            to ``<output_dir>/judge_train_users.json``, which validation with ``--adapter``
            leaves out.
        reserve_users: Users sampled (seed ``reserve_seed``) and kept out of training, like the
            default sample of ``llmrec judge validate --users N --seed S``.
        reserve_seed: Seed of that reserved sample.
        targets_per_user: Last training interactions per user used as targets.
        negatives_per_target: Popularity-matched negatives per target.
        views: Judge views the examples are rendered in, round robin.
        max_history: History items shown (the judge's ``--max-history``).
        min_history: Training interactions a user needs (prefix plus targets).
    """

    dataset: str = field(default="ml-100k", metadata={"help": "ml-100k, synthetic, ..."})
    train_users: int = field(default=100, metadata={"help": "users giving training examples"})
    exclude_users: str | None = field(default=None, metadata={"help": "file of users to skip"})
    reserve_users: int = field(default=100, metadata={"help": "validation sample kept out"})
    reserve_seed: int = field(default=0, metadata={"help": "seed of the reserved sample"})
    targets_per_user: int = field(default=2, metadata={"help": "targets per training user"})
    negatives_per_target: int = field(default=1, metadata={"help": "matched negatives each"})
    views: str = field(default="history,profile,both", metadata={"help": "judge views"})
    max_history: int = field(default=10, metadata={"help": "history items shown"})
    min_history: int = field(default=8, metadata={"help": "training interactions needed"})

    def __post_init__(self) -> None:
        for name in ("train_users", "targets_per_user", "max_history"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.negatives_per_target < 0 or self.reserve_users < 0:
            raise ValueError("negatives_per_target and reserve_users must be >= 0")
        bad = [v for v in self.view_list() if v not in VIEWS]
        if bad or not self.view_list():
            raise ValueError(
                f"views must be a comma-separated subset of {VIEWS}, got {self.views!r}"
            )

    def view_list(self) -> list[str]:
        return [v.strip() for v in self.views.split(",") if v.strip()]


@dataclass
class JudgeData:
    """The training dataset and who it came from."""

    train: Any  # datasets.Dataset with prompt / completion / user_id / label columns
    train_users: list[str]
    excluded: int
    label_counts: dict[str, int]


def rating_label(rating: float | None) -> str:
    """The judge answer a real next item teaches: 4-5 -> "5", 3 -> "4", 1-2 -> "2"."""
    if rating is None or rating >= 4:
        return "5"
    return "4" if rating >= 3 else "2"


def read_user_list(path: str | os.PathLike) -> list[str]:
    """Users from a JSON list or a file with one id a line."""
    from pathlib import Path

    text = Path(path).read_text(encoding="utf-8").strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return [str(u) for u in json.loads(text)]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}: line {err.lineno}: not a JSON list of user ids") from err
    return [line.strip() for line in text.splitlines() if line.strip()]


def check_disjoint(adapter: str | os.PathLike, users: Sequence[str]) -> None:
    """Refuse to validate an adapter on users it was trained on (``judge_train_users.json``).

    Raises:
        ValueError: Some of ``users`` are in the adapter's training users.
    """
    from pathlib import Path

    path = Path(adapter) / TRAIN_USERS_FILE
    if not path.is_file():
        logger.warning("%s not found; cannot check that validation users are unseen", path)
        return
    seen = set(read_user_list(path))
    overlap = [u for u in users if u in seen]
    if overlap:
        raise ValueError(
            f"{path}: the adapter was trained on {len(overlap)} of the validation users "
            f"(e.g. {overlap[:5]}); leave them out with --exclude-users {path} (in the "
            "zero-shot run too, so that both judge the same users) or retrain with them reserved"
        )


def reserved_users(split: Any, n: int, seed: int) -> list[str]:
    """The users ``llmrec judge validate --users n --seed seed`` samples (held-out task)."""
    from llmrec.judge.validate import sample_users

    eligible = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    return sample_users(eligible, n, seed)


def build_judge_examples(
    train: Any,
    users: Sequence[str],
    args: JudgeScriptArguments,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Prompt/completion rows for ``users`` from ``train`` (``split.train``) only."""
    from llmrec.context.facts import FactsConfig, base_shares, user_facts
    from llmrec.context.view import UserContext
    from llmrec.data.sampling import popularity_matched_negatives
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.prompts import render

    frame = train.interactions
    keep = np.ones(len(frame), dtype=bool)
    targets: list[tuple[str, str, float | None]] = []
    for u in users:
        rows = np.flatnonzero((frame["user_id"] == u).to_numpy())  # time-ordered positions
        last = rows[-args.targets_per_user :]
        keep[last] = False
        for r in last:
            rating = frame["rating"].iloc[r]
            targets.append((u, str(frame["item_id"].iloc[r]), None if rating != rating else rating))
    prefix = train.with_interactions(frame[keep], name=f"{train.name}-judge-prefix")
    base = base_shares(prefix)
    profiles = {
        u: render("profile/facts_text", f=user_facts(prefix, u, FactsConfig(), base)).strip()
        for u in users
    }
    negatives = None
    if args.negatives_per_target:
        negatives = popularity_matched_negatives(
            prefix,
            [u for u, _, _ in targets],
            [i for _, i, _ in targets],
            args.negatives_per_target,
            seed=seed,
            exclude=[train],
        ).items  # (n_targets, negatives_per_target) indices into prefix.item_ids
    ctx = UserContext(profiles=profiles, history=prefix, max_history=args.max_history)
    judges = {v: PointwiseJudge(_NoBackend(), ctx, sees=v) for v in args.view_list()}
    views = args.view_list()
    rows: list[dict[str, Any]] = []
    for k, (u, iid, rating) in enumerate(targets):
        cases = [(iid, rating_label(rating))]
        if negatives is not None:
            cases += [(prefix.item_ids[j], "1") for j in negatives[k]]
        for item_id, label in cases:
            view = views[len(rows) % len(views)]
            chat = judges[view].chat(u, prefix.items[item_id], rationale=False)
            rows.append(
                {
                    "prompt": chat,
                    "completion": [{"role": "assistant", "content": label}],
                    "user_id": u,
                    "item_id": item_id,
                    "label": label,
                    "view": view,
                }
            )
    return rows


class _NoBackend:
    """Stands in for a backend where only the judge's prompt rendering is used."""

    fingerprint = "none"


def build_judge_data(
    args: JudgeScriptArguments, exclude_users: Sequence[str] = (), seed: int = 0
) -> JudgeData:
    """The judge SFT dataset; training users never include ``exclude_users`` or the reserve.

    Args:
        args: Script arguments.
        exclude_users: Users to keep out besides ``args.exclude_users`` and the reserve.
        seed: Seed of the user draw and the negatives.
    """
    from datasets import Dataset

    from llmrec.data import leave_one_out
    from llmrec.training.data import load_recipe_dataset

    split = leave_one_out(load_recipe_dataset(args.dataset, seed=seed))
    excluded = set(map(str, exclude_users))
    if args.exclude_users:
        excluded |= set(read_user_list(args.exclude_users))
    excluded |= set(reserved_users(split, args.reserve_users, args.reserve_seed))
    sizes = split.train.interactions.groupby("user_id").size()
    pool = sorted(u for u in sizes.index[sizes >= args.min_history] if u not in excluded)
    rng = np.random.default_rng(seed)
    users = [pool[k] for k in rng.permutation(len(pool))[: args.train_users]]
    rows = build_judge_examples(split.train, users, args, seed=seed)
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["label"]] = counts.get(r["label"], 0) + 1
    logger.info("judge SFT: %d examples from %d users, labels %s", len(rows), len(users), counts)
    return JudgeData(Dataset.from_list(rows), users, len(excluded), counts)
