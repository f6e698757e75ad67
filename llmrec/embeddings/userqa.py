"""UserQA: (user, instruction, answer) triples built from interaction data.

Three kinds of question, after InstructUE's UserQA (arXiv 2510.11016):

- ``past``: stable preferences, answered from the TRAINING history only
  (``favourite_genre``: the genre most over-represented among the user's liked items relative
  to everyone's; ``typical_era``: the band of the median release year of the user's items).
- ``future``: behaviour answered from the HELD-OUT part (``next_item``, ``next_genres``,
  ``will_like``: whether the user rated the held-out item 4 or more).
- ``attribute``: user fields where the data has them (ml-100k: ``age_band``, ``gender``,
  ``occupation``).

Questions and answers are rendered from templates (``prompts/embed/question_<task>.v1.jinja``
and ``answer_<task>.v1.jinja``); :func:`paraphrase_instructions` can rewrite the questions with
any :class:`~llmrec.backends.base.Backend` for variety.

The builder takes the training and held-out datasets separately (``split.train`` and
``split.valid`` or ``split.test``): past questions never see the held-out interactions.

Example:
    >>> from llmrec.data import load_dataset, leave_one_out
    >>> from llmrec.embeddings.userqa import build_userqa
    >>> split = leave_one_out(load_dataset("ml-100k"))
    >>> examples = build_userqa(split.train, split.valid, seed=0)  # doctest: +SKIP
    >>> examples[0].task, examples[0].instruction, examples[0].answer  # doctest: +SKIP
    ('favourite_genre', 'Which movie genre does this user like most?', 'The favourite ...')
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.embeddings.sources import item_text
from llmrec.prompts import render, render_chat

logger = logging.getLogger(__name__)

PAST_TASKS = ("favourite_genre", "typical_era")
FUTURE_TASKS = ("next_item", "next_genres", "will_like")
ATTRIBUTE_TASKS = ("age_band", "gender", "occupation")
TASKS = PAST_TASKS + FUTURE_TASKS + ATTRIBUTE_TASKS
KIND = {**dict.fromkeys(PAST_TASKS, "past"), **dict.fromkeys(FUTURE_TASKS, "future")}
KIND.update(dict.fromkeys(ATTRIBUTE_TASKS, "attribute"))

AGE_BANDS = ("under 25", "25 to 34", "35 to 44", "45 or older")
ERAS = ("before 1980", "the 1980s", "1990 to 1994", "1995 or later")
GENDERS = {"M": "male", "F": "female"}
LIKE_THRESHOLD = 4.0


@dataclass(frozen=True)
class UserQAExample:
    """One (user, instruction, answer) triple.

    Args:
        user_id: The user.
        task: One of :data:`TASKS`.
        kind: ``"past"``, ``"future"`` or ``"attribute"``.
        instruction: The question, as the encoder's instruction.
        answer: The answer text (the contrastive positive and the autoregressive target).
        label: The answer's class value (``"female"``, ``"Drama"``, an item id for next_item).
    """

    user_id: str
    task: str
    kind: str
    instruction: str
    answer: str
    label: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def age_band(age: Any) -> str | None:
    """ml-100k age in years to one of :data:`AGE_BANDS` (``None`` when unknown)."""
    try:
        age = int(age)
    except (TypeError, ValueError):
        return None
    if age < 25:
        return AGE_BANDS[0]
    if age < 35:
        return AGE_BANDS[1]
    if age < 45:
        return AGE_BANDS[2]
    return AGE_BANDS[3]


def era(year: float) -> str:
    """Release year to one of :data:`ERAS`."""
    if year < 1980:
        return ERAS[0]
    if year < 1990:
        return ERAS[1]
    if year < 1995:
        return ERAS[2]
    return ERAS[3]


def question(task: str, **variables: Any) -> str:
    """The instruction text of ``task`` (``prompts/embed/question_<task>``)."""
    _check_task(task)
    return render(f"embed/question_{task}", **variables)


def answer(task: str, value: str) -> str:
    """The answer text of ``task`` for the class ``value`` (``prompts/embed/answer_<task>``)."""
    _check_task(task)
    return render(f"embed/answer_{task}", value=value)


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown UserQA task {task!r}; allowed: {list(TASKS)}")


def _liked(train: InteractionDataset) -> Any:
    frame = train.interactions
    if frame["rating"].notna().all() and len(frame):
        return frame[frame["rating"] >= LIKE_THRESHOLD]
    return frame


def favourite_genres(train: InteractionDataset, min_share: float = 0.1) -> dict[str, str]:
    """Each user's most over-represented genre among liked training items.

    Score of genre ``g`` for user ``u``: ``share_u(g) / share_all(g)`` (lift over the global genre
    distribution of liked items), over genres making up at least ``min_share`` of the user's
    liked items and at least 2 of them; ties go to the alphabetically first genre. Users without
    such a genre are left out.
    """
    liked = _liked(train)
    genres_of = {iid: item.genres for iid, item in train.items.items()}
    total: Counter[str] = Counter()
    per_user: dict[str, Counter[str]] = {}
    for uid, iid in zip(liked["user_id"], liked["item_id"]):
        counts = per_user.setdefault(uid, Counter())
        for g in genres_of.get(iid, ()):
            counts[g] += 1
            total[g] += 1
    n_total = sum(total.values())
    out = {}
    for uid, counts in per_user.items():
        n_user = sum(counts.values())
        best, best_score = None, -1.0
        for g in sorted(counts):
            c = counts[g]
            if c < 2 or c / n_user < min_share:
                continue
            score = (c / n_user) / (total[g] / n_total)
            if score > best_score:
                best, best_score = g, score
        if best is not None:
            out[uid] = best
    return out


def typical_eras(train: InteractionDataset) -> dict[str, str]:
    """Each user's era: the band of the median release year of their training items."""
    years = {iid: item.year for iid, item in train.items.items() if item.year is not None}
    frame = train.interactions
    out = {}
    for uid, ids in frame.groupby("user_id", sort=False)["item_id"]:
        ys = [years[i] for i in ids if i in years]
        if ys:
            out[str(uid)] = era(float(np.median(ys)))
    return out


def attribute_labels(dataset: InteractionDataset, task: str) -> dict[str, str]:
    """``{user_id: class}`` for an attribute task (users without the field are left out)."""
    out = {}
    for uid, user in dataset.users.items():
        attrs = user.attributes
        if task == "age_band":
            value = age_band(attrs.get("age"))
        elif task == "gender":
            value = GENDERS.get(str(attrs.get("gender")))
        elif task == "occupation":
            value = attrs.get("occupation") or None
        else:
            raise ValueError(f"{task!r} is not an attribute task; allowed: {list(ATTRIBUTE_TASKS)}")
        if value is not None:
            out[uid] = str(value)
    return out


CLASS_TASKS = ("favourite_genre", "typical_era", "will_like", "age_band", "gender", "occupation")


def answer_classes(dataset: InteractionDataset, task: str) -> list[str]:
    """The closed set of class values of a classification task, in a fixed order.

    These are the candidates of zero-shot evaluation and of the training answer bank
    (:class:`~llmrec.embeddings.negatives.AnswerBank`): every genre of the catalogue but
    ``unknown``, the eras, ``Yes``/``No``, the age bands, the genders, the occupations that
    occur among the users. Only the set of possible values is read, no user's label.

    Args:
        dataset: Any dataset with the catalogue and users (``split.train``).
        task: One of :data:`CLASS_TASKS`.

    Example:
        >>> answer_classes(split.train, "gender")  # doctest: +SKIP
        ['male', 'female']
    """
    if task == "favourite_genre":
        return sorted({g for it in dataset.items.values() for g in it.genres} - {"unknown"})
    if task == "typical_era":
        return list(ERAS)
    if task == "will_like":
        return ["Yes", "No"]
    if task == "age_band":
        return list(AGE_BANDS)
    if task == "gender":
        return ["male", "female"]
    if task == "occupation":
        return sorted(
            {
                str(u.attributes["occupation"])
                for u in dataset.users.values()
                if u.attributes.get("occupation")
            }
        )
    raise ValueError(f"{task!r} has no closed answer set; allowed: {list(CLASS_TASKS)}")


def build_userqa(
    train: InteractionDataset,
    heldout: InteractionDataset | None = None,
    user_ids: Sequence[str] | None = None,
    tasks: Sequence[str] = TASKS,
    min_history: int = 5,
) -> list[UserQAExample]:
    """Build UserQA triples.

    Args:
        train: Training interactions; the only source of past-preference answers.
        heldout: Held-out interactions (``split.valid`` or ``split.test``); the source of
            future-behaviour answers. Without it, future tasks are skipped.
        user_ids: Users to build for (default: every user with ``min_history`` training items).
        tasks: Any of :data:`TASKS`.
        min_history: Users with fewer training interactions get no questions.

    Returns:
        Examples ordered by user, then task in the order of ``tasks``. Deterministic.
    """
    for task in tasks:
        _check_task(task)
    sizes = train.interactions.groupby("user_id").size()
    eligible = set(sizes[sizes >= min_history].index.astype(str))
    users = [u for u in (train.user_ids if user_ids is None else user_ids) if str(u) in eligible]
    labels: dict[str, Mapping[str, str]] = {}
    if "favourite_genre" in tasks:
        labels["favourite_genre"] = favourite_genres(train)
    if "typical_era" in tasks:
        labels["typical_era"] = typical_eras(train)
    for task in ATTRIBUTE_TASKS:
        if task in tasks:
            labels[task] = attribute_labels(train, task)
    future: dict[str, list[tuple[str, float | None]]] = {}
    if heldout is not None and any(t in FUTURE_TASKS for t in tasks):
        frame = heldout.interactions
        for uid, iid, rating in zip(frame["user_id"], frame["item_id"], frame["rating"]):
            future.setdefault(uid, []).append((iid, None if np.isnan(rating) else float(rating)))

    examples = []
    for uid in users:
        uid = str(uid)
        for task in tasks:
            if task in labels:
                value = labels[task].get(uid)
                if value is not None:
                    examples.append(
                        UserQAExample(
                            uid, task, KIND[task], question(task), answer(task, value), value
                        )
                    )
                continue
            if uid not in future:
                continue
            iid, rating = future[uid][0]
            item = heldout.items[iid]
            if task == "next_item":
                examples.append(
                    UserQAExample(
                        uid, task, "future", question(task), answer(task, item_text(item)), iid
                    )
                )
            elif task == "next_genres" and item.genres:
                value = ", ".join(item.genres)
                examples.append(
                    UserQAExample(uid, task, "future", question(task), answer(task, value), value)
                )
            elif task == "will_like" and rating is not None:
                value = "Yes" if rating >= LIKE_THRESHOLD else "No"
                examples.append(
                    UserQAExample(
                        uid,
                        task,
                        "future",
                        question(task, title=item.title),
                        answer(task, value),
                        value,
                    )
                )
    logger.info("built %d UserQA examples for %d users", len(examples), len(users))
    return examples


def next_item_cuts(
    train: InteractionDataset,
    user_ids: Sequence[str],
    n_cuts: int = 2,
    min_prefix: int = 5,
    seed: int = 0,
) -> tuple[InteractionDataset, list[UserQAExample]]:
    """More ``next_item`` questions from inside the training histories (no held-out data).

    For each user, ``n_cuts`` random positions ``t`` (with at least ``min_prefix`` items before
    them) give a pseudo-user ``"<user_id>@<t>"`` whose history is the first ``t`` training
    interactions and whose answer is interaction ``t + 1``, the next training item.

    Args:
        train: Training interactions.
        user_ids: Users to cut.
        n_cuts: Cuts per user (fewer when the history is short).
        min_prefix: Minimum prefix length.
        seed: Seed of the cut positions.

    Returns:
        ``(dataset, examples)``: ``train`` plus the pseudo-users' interactions (pseudo-users
        carry the user's attributes), and one example per cut.
    """
    import pandas as pd

    from llmrec.data.records import User

    if n_cuts < 0 or min_prefix < 1:
        raise ValueError(f"need n_cuts >= 0 and min_prefix >= 1, got {n_cuts}, {min_prefix}")
    rng = np.random.default_rng(seed)
    frame = train.interactions
    groups = frame.groupby("user_id", sort=False).indices
    parts, users, examples = [frame], dict(train.users), []
    for uid in user_ids:
        idx = groups.get(str(uid))
        if idx is None or len(idx) <= min_prefix:
            continue
        positions = np.arange(min_prefix, len(idx))  # t: prefix length, answer at index t
        chosen = rng.choice(positions, size=min(n_cuts, len(positions)), replace=False)
        for t in sorted(int(c) for c in chosen):
            pseudo = f"{uid}@{t}"
            prefix = frame.iloc[idx[:t]].copy()
            prefix["user_id"] = pseudo
            parts.append(prefix)
            base = train.users.get(str(uid))
            users[pseudo] = User(pseudo, base.attributes if base else {})
            item = train.items[frame["item_id"].iloc[idx[t]]]
            examples.append(
                UserQAExample(
                    pseudo,
                    "next_item",
                    "future",
                    question("next_item"),
                    answer("next_item", item_text(item)),
                    item.item_id,
                )
            )
    dataset = InteractionDataset(train.items, pd.concat(parts), users, name=f"{train.name}+cuts")
    return dataset, examples


def paraphrase_instructions(
    instructions: Sequence[str],
    backend: Any,
    n: int = 2,
    params: Any = None,
    template: str = "embed/paraphrase",
) -> dict[str, list[str]]:
    """Ask an LLM backend for ``n`` rewordings of each distinct instruction.

    Args:
        instructions: Instructions (duplicates are paraphrased once).
        backend: Anything with ``generate(chats, params) -> list[str]``
            (:class:`~llmrec.backends.base.Backend`).
        n: Paraphrases per instruction.
        params: :class:`~llmrec.backends.base.GenerationParams`; default samples at
            temperature 0.8, 48 new tokens, seed 0.
        template: The paraphrasing prompt.

    Returns:
        ``{instruction: [paraphrase, ...]}``; replies that are empty or not a question after
        cleaning are dropped, so a list may be shorter than ``n``.
    """
    from llmrec.backends.base import GenerationParams

    distinct = sorted(set(instructions))
    if params is None:
        params = GenerationParams(max_new_tokens=48, temperature=0.8, seed=0, n=n)
    chats = [render_chat(template, instruction=text) for text in distinct]
    replies = backend.generate(chats, params)
    per = params.n
    if len(replies) != len(distinct) * per:
        raise ValueError(
            f"backend returned {len(replies)} replies for {len(distinct)} chats x n={per}"
        )
    out: dict[str, list[str]] = {}
    for i, text in enumerate(distinct):
        cleaned = [_clean(r) for r in replies[i * per : (i + 1) * per]]
        out[text] = [c for c in dict.fromkeys(cleaned) if c and c != text]
    return out


def _clean(reply: str) -> str:
    line = reply.strip().splitlines()[0] if reply.strip() else ""
    line = re.sub(r"^(rewritten question|question)\s*:\s*", "", line, flags=re.I)
    line = line.strip().strip('"').strip("'").strip()
    return line if line.endswith("?") and 3 <= len(line.split()) <= 40 else ""


def apply_paraphrases(
    examples: Sequence[UserQAExample],
    paraphrases: Mapping[str, Sequence[str]],
    seed: int = 0,
    keep_original: float = 0.5,
) -> list[UserQAExample]:
    """Swap each example's instruction for a random paraphrase with probability ``1 - keep_original``."""
    rng = np.random.default_rng(seed)
    out = []
    for ex in examples:
        options = list(paraphrases.get(ex.instruction, ()))
        if options and rng.random() >= keep_original:
            ex = replace(ex, instruction=options[int(rng.integers(len(options)))])
        out.append(ex)
    return out
