"""Profile fidelity: do profiles state the tastes a user really has, better than counting?

Each *system* states, per user, which genres (or values of any categorical attribute) the user
likes and which they dislike. Systems compared on the same users:

- ``count``: the ``k`` (3) most frequent genres among the user's items rated 4-5 (no model);
- ``facts``: the clear likes and dislikes of :mod:`llmrec.context.facts` (no model), which is
  what a grounded *structured* profile states (its fields are the facts);
- ``grounded_text``: what a grounded *free-text* profile states, read by clause polarity: the
  facts sentences (likes and rising values as liked); the model's note cannot change it, since
  its sentences that state anything else are dropped (no model needed to measure it);
- any profile records (``plain`` LLM profile, ``grounded`` profile, ...): structured profiles
  are read from ``liked_genres`` / ``disliked_genres``, free text by clause polarity
  (:func:`~llmrec.profiles.mentions.polar_mentions`: "avoids Horror" is not a like).

Gold, per user: on a synthetic world the true liked and disliked genres and any drift
(:class:`~llmrec.data.synthetic.GoldProfile`); on real data a proxy from the user's held-out
(later) interactions: genres of at least ``min_items`` held-out items rated 4-5 and of at least
``min_share`` of them are liked; genres of at least ``min_items`` held-out items rated 1-2 and
never liked there are disliked. There is no drift gold on real data.

Per-user measures (averaged over users, with paired bootstrap CIs over users):

- ``recall``: ``|named liked ∩ gold liked| / |gold liked|``;
- ``precision``: ``|named liked ∩ gold liked| / |named liked|`` (0 when nothing is named);
- ``disliked_as_liked``: share of gold disliked genres the system names as liked (users with a
  gold dislike only; lower is better);
- ``drift_new``: names the genre the user switched to as liked (drift users only);
- ``drift_dropped``: does not name the genre the user left as liked (drift users only).

Reproduce (prints the table and ends with one JSON line)::

    python -m llmrec.profiles.fidelity --data synthetic --users 100 --seed 0
    python -m llmrec.profiles.fidelity --data ml-100k --users 100 --seed 0

Example:
    >>> from llmrec.profiles.fidelity import count_baseline
    >>> count_baseline(train, "u1")  # doctest: +SKIP
    (['Comedy', 'Drama', 'Romance'], [])
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec.context.facts import FactsConfig, base_shares, item_values, user_facts
from llmrec.data.records import InteractionDataset
from llmrec.metrics.stats import paired_bootstrap_ci, paired_difference_ci
from llmrec.profiles.mentions import INFLECTIONS, genre_mentions, polar_mentions  # noqa: F401
from llmrec.profiles.schema import ProfileRecord

MEASURES = ("recall", "precision", "disliked_as_liked", "drift_new", "drift_dropped")
Stated = tuple[list[str], list[str]]  # (named as liked, named as disliked)


@dataclass(frozen=True)
class Gold:
    """What a user really likes and dislikes (or a proxy of it), and any drift."""

    liked: frozenset[str]
    disliked: frozenset[str] = frozenset()
    drift_new: str | None = None
    drift_old: str | None = None


def synthetic_gold(world: Any, user_ids: Sequence[str]) -> dict[str, Gold]:
    """Gold of synthetic users from :class:`~llmrec.data.synthetic.GoldProfile`."""
    out = {}
    for u in user_ids:
        g = world.gold[u]
        drift = g.drift
        out[u] = Gold(
            frozenset(g.liked_genres),
            frozenset(g.disliked_genres),
            None if drift is None else drift.genre_after,
            None if drift is None else drift.genre_before,
        )
    return out


def heldout_gold(
    heldout: InteractionDataset,
    user_ids: Sequence[str],
    attribute: str = "genres",
    min_items: int = 2,
    min_share: float = 0.2,
) -> dict[str, Gold]:
    """Proxy gold from held-out interactions (see the module docstring); users without any
    proxy liked genre are left out."""
    out = {}
    for u in user_ids:
        liked, disliked = Counter(), Counter()
        n_liked = 0
        for r in heldout.history(u):
            if r.rating is None:
                continue
            values = item_values(heldout.items[r.item_id], attribute)
            if r.rating >= 4:
                liked.update(values)
                n_liked += 1
            elif r.rating <= 2:
                disliked.update(values)
        gold_liked = {v for v, c in liked.items() if c >= min_items and c >= min_share * n_liked}
        gold_disliked = {v for v, c in disliked.items() if c >= min_items and v not in liked}
        if gold_liked:
            out[u] = Gold(frozenset(gold_liked), frozenset(gold_disliked))
    return out


def count_baseline(
    train: InteractionDataset, user_id: str, k: int = 3, attribute: str = "genres"
) -> Stated:
    """The ``k`` most frequent values among the user's training items rated 4-5 (ties by name)."""
    counts: Counter[str] = Counter()
    for r in train.history(user_id):
        if r.rating is not None and r.rating >= 4:
            counts.update(item_values(train.items[r.item_id], attribute))
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [v for v, _ in ranked[:k]], []


def facts_system(train: InteractionDataset, attribute: str = "genres") -> Callable[[str], Stated]:
    """The clear likes and dislikes of the grounded facts, as a system."""
    cfg = FactsConfig(attribute=attribute)
    base = base_shares(train, attribute)

    def stated(user_id: str) -> Stated:
        facts = user_facts(train, user_id, cfg, base)
        return list(facts.likes), list(facts.dislikes)

    return stated


def grounded_text_system(
    train: InteractionDataset, values: Sequence[str], attribute: str = "genres"
) -> Callable[[str], Stated]:
    """What a grounded free-text profile states, read by clause polarity, without the model.

    The profile is the facts as sentences (``profile/facts_text``) plus the model's note, and
    the note keeps only sentences that agree with the facts
    (:func:`~llmrec.profiles.builder.ground_note`), so its polarity reading is that of the
    facts sentences: likes and rising values as liked, dislikes and fading ones as disliked.
    """
    from llmrec.prompts import render

    cfg = FactsConfig(attribute=attribute)
    base = base_shares(train, attribute)

    def stated(user_id: str) -> Stated:
        facts = user_facts(train, user_id, cfg, base)
        return polar_mentions(render("profile/facts_text", f=facts), values)

    return stated


def record_stated(record: ProfileRecord, values: Sequence[str]) -> Stated:
    """What a profile record states: structured fields, or polarity-read free text."""
    if not record.ok:
        return [], []
    if record.structured is not None:
        liked = genre_mentions(" ; ".join(record.structured.get("liked_genres", [])), values)
        disliked = genre_mentions(" ; ".join(record.structured.get("disliked_genres", [])), values)
        return [v for v in liked if v not in disliked], disliked
    return polar_mentions(record.text, values)


def per_user(stated: Mapping[str, Stated], gold: Mapping[str, Gold]) -> dict[str, np.ndarray]:
    """Per-user measures of one system, aligned on ``gold``'s users (``nan`` where undefined)."""
    rows = {m: [] for m in MEASURES}
    for u, g in gold.items():
        liked = set(stated[u][0])
        hits = len(liked & g.liked)
        rows["recall"].append(hits / len(g.liked))
        rows["precision"].append(hits / len(liked) if liked else 0.0)
        rows["disliked_as_liked"].append(
            len(liked & g.disliked) / len(g.disliked) if g.disliked else np.nan
        )
        rows["drift_new"].append(float(g.drift_new in liked) if g.drift_new else np.nan)
        rows["drift_dropped"].append(float(g.drift_old not in liked) if g.drift_old else np.nan)
    return {m: np.array(v, dtype=float) for m, v in rows.items()}


def fidelity_table(
    systems: Mapping[str, Mapping[str, Stated]],
    gold: Mapping[str, Gold],
    n_resamples: int = 1000,
    seed: int = 0,
    reference: str = "count",
) -> dict[str, Any]:
    """Every measure of every system with paired bootstrap CIs over the users where defined.

    Returns:
        ``{"users": n, "users_per_measure": {m: n_m}, "systems": {name: {m: ci_dict}},
        "minus_count": {name: {m: ci of the paired difference to reference}},
        "named_liked": {name: mean count}}``.
    """
    if not gold:
        raise ValueError("fidelity_table: no user has gold to score against")
    values = {name: per_user(stated, gold) for name, stated in systems.items()}
    out: dict[str, Any] = {"users": len(gold), "users_per_measure": {}, "systems": {}}
    out["minus_" + reference] = {}
    for name in systems:
        out["systems"][name] = {}
    for m in MEASURES:
        defined = ~np.isnan(next(iter(values.values()))[m])
        out["users_per_measure"][m] = int(defined.sum())
        if not defined.any():
            continue
        cis = paired_bootstrap_ci(
            {name: v[m][defined] for name, v in values.items()}, n_resamples, seed=seed
        )
        for name, ci in cis.items():
            out["systems"][name][m] = ci.to_dict()
        if reference in values:
            for name, v in values.items():
                if name != reference:
                    diff = paired_difference_ci(
                        v[m][defined], values[reference][m][defined], n_resamples, seed=seed
                    )
                    out["minus_" + reference].setdefault(name, {})[m] = diff.to_dict()
    out["named_liked"] = {
        name: float(np.mean([len(stated[u][0]) for u in gold])) for name, stated in systems.items()
    }
    return out


def format_table(table: Mapping[str, Any]) -> str:
    """The table as aligned text, one row per system, ``mean [low, high]`` per measure."""
    head = f"{'system':<18}" + "".join(f"{m:>26}" for m in MEASURES) + f"{'named':>8}"
    lines = [head, "-" * len(head)]
    for name, block in table["systems"].items():
        cells = []
        for m in MEASURES:
            ci = block.get(m)
            cells.append(f"{ci['value']:.3f} [{ci['low']:.3f}, {ci['high']:.3f}]" if ci else "n/a")
        lines.append(
            f"{name:<18}"
            + "".join(f"{c:>26}" for c in cells)
            + f"{table['named_liked'][name]:>8.2f}"
        )
    for name, block in table.get("minus_count", {}).items():
        cells = []
        for m in MEASURES:
            ci = block.get(m)
            cells.append(
                f"{ci['value']:+.3f} [{ci['low']:+.3f}, {ci['high']:+.3f}]" if ci else "n/a"
            )
        lines.append(f"{name + ' - count':<18}" + "".join(f"{c:>26}" for c in cells))
    users = ", ".join(f"{m} {n}" for m, n in table["users_per_measure"].items())
    lines.append(f"users per measure: {users}")
    return "\n".join(lines)


def _profiles(args, backend, train, users, strategy, out_path):
    from llmrec.backends.base import GenerationParams
    from llmrec.profiles.builder import DEFAULT_REPETITION_PENALTY, ProfileBuilder
    from llmrec.profiles.job import run_profile_job
    from llmrec.profiles.store import read_profiles

    penalty = DEFAULT_REPETITION_PENALTY if strategy == "grounded" else 1.0
    tokens = args.grounded_tokens if strategy == "grounded" else args.plain_tokens
    params = GenerationParams(max_new_tokens=tokens, repetition_penalty=penalty)
    builder = ProfileBuilder(backend, strategy=strategy, params=params)
    run_profile_job(builder, train, users, out_path, batch_size=args.batch_size, progress=True)
    return read_profiles(out_path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Profile fidelity against count baselines.")
    parser.add_argument("--data", default="synthetic", help="'synthetic' or a dataset (ml-100k)")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="backend spec")
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--items", type=int, default=400, help="synthetic catalogue size")
    parser.add_argument("--mean-history", type=float, default=20.0, help="synthetic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--systems", default="plain,grounded", help="LLM profiles to build: plain, grounded"
    )
    parser.add_argument("--plain-tokens", type=int, default=160, help="plain profile tokens")
    parser.add_argument("--grounded-tokens", type=int, default=96, help="grounded note tokens")
    parser.add_argument("--cache", default=None, help="SQLite response cache (default none)")
    parser.add_argument("--out", default="runs/fidelity", help="folder for profiles and JSON")
    args = parser.parse_args(argv)

    from pathlib import Path

    from llmrec.data import load_dataset
    from llmrec.data.splits import leave_one_out, ratio_split

    if args.data == "synthetic":
        from llmrec.data.synthetic import SyntheticConfig, generate_world

        config = SyntheticConfig(
            n_users=args.users, n_items=args.items, mean_history=args.mean_history, seed=args.seed
        )
        world = generate_world(config)
        train = leave_one_out(world.dataset).train
        users = train.active_users()[: args.users]
        gold = synthetic_gold(world, users)
        vocabulary = list(config.genre_names)
    else:
        split = ratio_split(load_dataset(args.data), test=0.2)
        train = split.train
        rng = np.random.default_rng(args.seed)
        pool = sorted(heldout_gold(split.test, train.active_users()))
        users = sorted(rng.permutation(pool)[: args.users].tolist(), key=pool.index)
        gold = heldout_gold(split.test, users)
        vocabulary = sorted(base_shares(train))
    systems: dict[str, dict[str, Stated]] = {
        "count": {u: count_baseline(train, u) for u in users},
    }
    facts = facts_system(train)
    systems["facts"] = {u: facts(u) for u in users}
    text = grounded_text_system(train, vocabulary)
    systems["grounded_text"] = {u: text(u) for u in users}
    folder = Path(args.out)
    folder.mkdir(parents=True, exist_ok=True)
    names = [s.strip() for s in args.systems.split(",") if s.strip()]
    if names:
        from llmrec.backends import load_backend

        backend = load_backend(args.model, cache=args.cache, batch_size=args.batch_size)
        tag = f"{Path(str(args.data)).name}_n{args.users}_seed{args.seed}"
        for name in names:
            if name not in ("plain", "grounded"):
                raise ValueError(f"--systems: unknown {name!r}; choose from plain, grounded")
            strategy = "whole" if name == "plain" else "grounded"
            records = _profiles(
                args, backend, train, users, strategy, folder / f"{name}_{tag}.jsonl"
            )
            systems[name] = {u: record_stated(records[u], vocabulary) for u in users}
            if name == "grounded":  # the model's own sentences, without the facts before them
                systems["grounded_note"] = {
                    u: polar_mentions(_note(records[u]), vocabulary) for u in users
                }
    table = fidelity_table(systems, gold, seed=args.seed)
    table.update(data=args.data, model=args.model if names else None, seed=args.seed)
    print(format_table(table))
    path = folder / f"fidelity_{Path(str(args.data)).name}_n{args.users}_seed{args.seed}.json"
    path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(table))
    return 0


def _note(record: ProfileRecord) -> str:
    """The model-written part of a grounded free-text profile (its text after the facts)."""
    if not record.ok or record.facts is None:
        return ""
    from llmrec.context.facts import ProfileFacts, ValueStat
    from llmrec.prompts import render

    data = dict(record.facts)
    data["values"] = tuple(ValueStat(**v) for v in data.get("values", ()))
    data["decades"] = tuple(tuple(d) for d in data.get("decades", ()))
    opening = render("profile/facts_text", f=ProfileFacts(**data)).strip()
    return record.text[len(opening) :] if record.text.startswith(opening) else record.text


if __name__ == "__main__":
    raise SystemExit(main())
