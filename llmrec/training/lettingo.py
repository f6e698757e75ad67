"""LettinGo's data loop: sample profiles, score them downstream, keep what helps the recommender.

LettinGo (arXiv 2506.18309) aligns a profile generator with its downstream use:

1. split each user's history into a long part H and a recent part h (the last ``recent_k``);
2. sample N profiles of H per user at temperature 1.0 (:func:`sample_profiles`);
3. score each profile by a downstream recommender: here an LLM that sees only the profile and a
   candidate and answers Yes/No; a profile's score is the AUC of P("Yes") of the user's recent
   items against sampled negatives (:func:`score_profiles`);
4. pair better against worse profiles (:func:`llmrec.training.dpo_pairs.build_dpo_pairs`) and
   train the generator with DPO.

The same scorer evaluates the generator before and after training on held-out users, whose
profiles are written from their training history and scored on their held-out test item.

Both the generator and the scorer are :class:`~llmrec.backends.base.Backend` objects, so the
scorer may be a larger model behind an OpenAI-compatible server.

Example:
    >>> from llmrec.backends.hf import TransformersBackend
    >>> gen = scorer = TransformersBackend("tiny-random-llama")  # doctest: +SKIP
    >>> tasks = training_tasks(split.train, users, recent_k=3, n_negatives=6)  # doctest: +SKIP
    >>> profiles = sample_profiles(gen, tasks, n=4, seed=0)  # doctest: +SKIP
    >>> scores = score_profiles(scorer, split.train, tasks, profiles)  # (users, 4)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmrec.backends.base import Backend, GenerationParams
from llmrec.data.records import Interaction, InteractionDataset
from llmrec.data.splits import Split
from llmrec.prompts import render_chat
from llmrec.training.common import candidate_negatives, item_text

PROFILE_PROMPT = "training/profile_from_history"
SCORER_PROMPT = "training/profile_yes_no"


@dataclass(frozen=True)
class ProfileTask:
    """One user: the profile prompt (from H) and the items that judge a profile (from h)."""

    user_id: str
    prompt: list[dict[str, str]]
    positives: tuple[str, ...]
    negatives: tuple[str, ...]


def long_recent_split(
    history: Sequence[Interaction], recent_k: int
) -> tuple[list[Interaction], list[Interaction]]:
    """``(H, h)``: all but the last ``recent_k`` interactions, and those last ``recent_k``."""
    if recent_k < 1:
        raise ValueError(f"recent_k must be >= 1, got {recent_k}")
    if len(history) <= recent_k:
        raise ValueError(f"a history of {len(history)} leaves nothing before recent_k={recent_k}")
    return list(history[:-recent_k]), list(history[-recent_k:])


def profile_prompt(
    dataset: InteractionDataset,
    history: Sequence[Interaction],
    history_len: int = 20,
    prompt: str = PROFILE_PROMPT,
) -> list[dict[str, str]]:
    """The generator's chat: the last ``history_len`` interactions of ``history``, with ratings."""
    rows = [
        {
            "title": item_text(dataset.items[r.item_id]),
            "rating": None if r.rating is None else round(float(r.rating), 1),
        }
        for r in list(history)[-history_len:]
    ]
    for row in rows:
        if row["rating"] is not None and float(row["rating"]).is_integer():
            row["rating"] = int(row["rating"])
    return render_chat(prompt, history=rows)


def training_tasks(
    train: InteractionDataset,
    user_ids: Sequence[str],
    recent_k: int = 3,
    history_len: int = 20,
    n_negatives: int = 6,
    seed: int = 0,
    prompt: str = PROFILE_PROMPT,
) -> list[ProfileTask]:
    """Tasks for DPO data: profile of H, judged on the recent items h of the training history.

    Users whose training history is not longer than ``recent_k`` are skipped.
    """
    rng = np.random.default_rng(seed)
    tasks = []
    for uid in user_ids:
        history = train.history(uid)
        if len(history) <= recent_k:
            continue
        long_part, recent = long_recent_split(history, recent_k)
        seen = {r.item_id for r in history}
        negatives = candidate_negatives(train, seen, n_negatives, rng)
        tasks.append(
            ProfileTask(
                uid,
                profile_prompt(train, long_part, history_len, prompt),
                tuple(r.item_id for r in recent),
                tuple(negatives),
            )
        )
    return tasks


def heldout_tasks(
    split: Split,
    user_ids: Sequence[str],
    history_len: int = 20,
    n_negatives: int = 6,
    seed: int = 0,
    prompt: str = PROFILE_PROMPT,
) -> list[ProfileTask]:
    """Evaluation tasks: profile of the training history, judged on the held-out test item."""
    rng = np.random.default_rng(seed)
    test = split.test.interactions.groupby("user_id")["item_id"].last()
    tasks = []
    for uid in user_ids:
        if uid not in test.index:
            raise ValueError(f"user {uid!r} has no held-out test item")
        history = split.train.history(uid)
        target = str(test[uid])
        seen = {r.item_id for r in history} | {target}
        negatives = candidate_negatives(split.train, seen, n_negatives, rng)
        chat = profile_prompt(split.train, history, history_len, prompt)
        tasks.append(ProfileTask(uid, chat, (target,), tuple(negatives)))
    return tasks


def sample_profiles(
    generator: Backend,
    tasks: Sequence[ProfileTask],
    n: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 96,
    seed: int = 0,
) -> list[list[str]]:
    """``n`` profiles per task from the generator (greedy, one repeated, when temperature is 0).

    Returns:
        ``profiles[i]`` is the list of ``n`` profiles of ``tasks[i]``.
    """
    k = n if temperature > 0 else 1
    params = GenerationParams(
        max_new_tokens=max_new_tokens, temperature=temperature, n=k, seed=seed
    )
    flat = generator.generate([t.prompt for t in tasks], params)
    return [flat[i * k : (i + 1) * k] * (n // k) for i in range(len(tasks))]


def pairwise_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """``mean over (p, q) of 1[p > q] + 0.5 * 1[p == q]``: the AUC of positives vs negatives."""
    pos, neg = np.asarray(pos, dtype=np.float64), np.asarray(neg, dtype=np.float64)
    diff = pos[:, None] - neg[None, :]  # (n_pos, n_neg)
    return float(np.mean((diff > 0) + 0.5 * (diff == 0)))


def score_profiles(
    scorer: Backend,
    dataset: InteractionDataset,
    tasks: Sequence[ProfileTask],
    profiles: Sequence[Sequence[str]],
    prompt: str = SCORER_PROMPT,
) -> np.ndarray:
    """Downstream score of every profile: AUC of the scorer's P("Yes") on positives vs negatives.

    Args:
        scorer: The downstream recommender; must score the single tokens "Yes" and "No".
        dataset: Catalogue for item titles.
        tasks: Users with their positive and negative items.
        profiles: ``profiles[i][j]`` is profile ``j`` of ``tasks[i]``.
        prompt: Template with ``profile`` and ``candidate``.

    Returns:
        Array of shape ``(len(tasks), n_profiles)``.
    """
    if len(tasks) != len(profiles):
        raise ValueError(f"{len(tasks)} tasks but {len(profiles)} profile lists")
    chats, index = [], []
    for i, (task, texts) in enumerate(zip(tasks, profiles)):
        for j, text in enumerate(texts):
            for item in (*task.positives, *task.negatives):
                chats.append(
                    render_chat(prompt, profile=text, candidate=item_text(dataset.items[item]))
                )
                index.append((i, j))
    logp = scorer.next_token_logprobs(chats, ["Yes", "No"])  # (n_chats, 2)
    p_yes = 1.0 / (1.0 + np.exp(logp[:, 1] - logp[:, 0]))  # (n_chats,)
    n_profiles = max((len(t) for t in profiles), default=0)
    out = np.full((len(tasks), n_profiles), np.nan)
    cursor = 0
    for i, (task, texts) in enumerate(zip(tasks, profiles)):
        n_pos, n_items = len(task.positives), len(task.positives) + len(task.negatives)
        for j in range(len(texts)):
            block = p_yes[cursor : cursor + n_items]
            out[i, j] = pairwise_auc(block[:n_pos], block[n_pos:])
            cursor += n_items
    return out
