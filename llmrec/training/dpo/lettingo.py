"""LettinGo's data loop: sample profiles, score them downstream, keep what helps the recommender.

LettinGo (arXiv 2506.18309) aligns a profile generator with its downstream use:

1. split each user's history into a long part H and a recent part h (the last ``recent_k``);
2. sample N profiles of H per user at temperature 1.0 (:func:`sample_profiles`), from the
   prompt of the profile builder (:class:`~llmrec.profiles.ProfileBuilder`, default strategy
   ``recent``), so the generator DPO trains is the profile writer ``llmrec profile`` runs;
3. score each profile by a downstream recommender: here an LLM that sees only the profile and a
   candidate and answers Yes/No; a profile's score is the AUC of P("Yes")
   (:class:`~llmrec.context.scoring.AnswerScorer`) of the user's recent items against sampled
   negatives (:func:`score_profiles`);
4. pair better against worse profiles (:func:`llmrec.training.dpo.pairs.build_dpo_pairs`) and
   train the generator with DPO.

The same scorer evaluates the generator before and after training on held-out users, whose
profiles are written from their training history and scored on their held-out test item.

Both the generator and the scorer are :class:`~llmrec.backends.base.Backend` objects, so the
scorer may be a larger model behind an OpenAI-compatible server.

Example:
    >>> from llmrec.backends.hf import TransformersBackend
    >>> gen = scorer = TransformersBackend("tiny-random-llama")  # doctest: +SKIP
    >>> builder = profile_builder(gen, history_len=20)  # doctest: +SKIP
    >>> tasks = training_tasks(builder, split.train, users, recent_k=3)  # doctest: +SKIP
    >>> profiles = sample_profiles(gen, tasks, n=4, seed=0)  # doctest: +SKIP
    >>> scores = score_profiles(scorer, split.train, tasks, profiles)  # (users, 4)
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from llmrec.backends.base import Backend, GenerationParams
from llmrec.context.history import history_entries
from llmrec.context.items import item_title
from llmrec.context.scoring import AnswerScorer
from llmrec.data.records import Interaction, InteractionDataset
from llmrec.data.sampling import negatives_for_user
from llmrec.data.splits import Split
from llmrec.metrics.stats import roc_auc
from llmrec.profiles.builder import ProfileBuilder
from llmrec.profiles.strategies import RecentWindow
from llmrec.prompts import render_chat

logger = logging.getLogger(__name__)

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


def profile_builder(
    generator: Backend, history_len: int = 20, prompt: str | None = None
) -> ProfileBuilder:
    """The profile builder whose prompt DPO trains on: free text, the last ``history_len`` items.

    ``llmrec profile --strategy recent --last-n <history_len>`` renders the same prompt, so the
    adapter trained here is what that command runs with ``--adapter``.
    """
    return ProfileBuilder(generator, strategy=RecentWindow(last_n=history_len), prompt=prompt)


def profile_prompt(
    builder: ProfileBuilder, dataset: InteractionDataset, user_id: str, keep: int | None = None
) -> list[dict[str, str]]:
    """The builder's profile prompt for ``user_id`` from the first ``keep`` interactions (all when
    ``None``) of the user's history in ``dataset``."""
    entries = history_entries(dataset, user_id)[:keep]
    view = builder.view_of(user_id, entries)
    if view.chunks:
        raise ValueError(
            f"strategy {builder.strategy.describe()} summarises chunks first; DPO samples "
            "single-prompt profiles (use 'recent' or 'whole')"
        )
    return builder.chat(view)


def training_tasks(
    builder: ProfileBuilder,
    train: InteractionDataset,
    user_ids: Sequence[str],
    recent_k: int = 3,
    n_negatives: int = 6,
    seed: int = 0,
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
        negatives = negatives_for_user(train, seen, n_negatives, rng)
        tasks.append(
            ProfileTask(
                uid,
                profile_prompt(builder, train, uid, keep=len(long_part)),
                tuple(r.item_id for r in recent),
                tuple(negatives),
            )
        )
    return tasks


def heldout_tasks(
    builder: ProfileBuilder,
    split: Split,
    user_ids: Sequence[str],
    n_negatives: int = 6,
    seed: int = 0,
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
        negatives = negatives_for_user(split.train, seen, n_negatives, rng)
        chat = profile_prompt(builder, split.train, uid)
        tasks.append(ProfileTask(uid, chat, (target,), tuple(negatives)))
    return tasks


def sample_profiles(
    generator: Backend,
    tasks: Sequence[ProfileTask],
    n: int = 4,
    temperature: float = 1.0,
    max_new_tokens: int = 96,
    seed: int = 0,
    chunk_tasks: int = 64,
    top_p: float = 1.0,
) -> list[list[str]]:
    """``n`` profiles per task from the generator (greedy, one repeated, when temperature is 0).

    ``top_p`` below 1 samples from the nucleus only (small models write incoherent text at
    temperature 1.0 over the full vocabulary). Tasks go to the backend ``chunk_tasks`` at a time (each chunk is batched by the backend);
    with a seed, samples do not depend on the chunking.

    Returns:
        ``profiles[i]`` is the list of ``n`` profiles of ``tasks[i]``.
    """
    if chunk_tasks < 1:
        raise ValueError(f"chunk_tasks must be >= 1, got {chunk_tasks}")
    k = n if temperature > 0 else 1
    params = GenerationParams(
        max_new_tokens=max_new_tokens, temperature=temperature, top_p=top_p, n=k, seed=seed
    )
    out: list[list[str]] = []
    for start in range(0, len(tasks), chunk_tasks):
        chunk = tasks[start : start + chunk_tasks]
        flat = generator.generate([t.prompt for t in chunk], params)
        out.extend(flat[i * k : (i + 1) * k] * (n // k) for i in range(len(chunk)))
        logger.info("sampled profiles for %d/%d users", len(out), len(tasks))
    return out


def score_profiles(
    scorer: Backend,
    dataset: InteractionDataset,
    tasks: Sequence[ProfileTask],
    profiles: Sequence[Sequence[str]],
    prompt: str = SCORER_PROMPT,
    share_prefix: bool = True,
    chunk_tasks: int = 64,
) -> np.ndarray:
    """Downstream score of every profile: AUC of the scorer's P("Yes") on positives vs negatives.

    The chats of one profile differ only in the candidate at the end. With ``share_prefix``
    an in-process transformers scorer runs each profile's common prompt prefix once and only
    the candidate suffixes on its KV cache (:class:`~llmrec.context.scoring.AnswerScorer`;
    same numbers as the plain pass to float error); other backends get the plain call.

    Args:
        scorer: The downstream recommender; must score the single tokens "Yes" and "No".
        dataset: Catalogue for item titles.
        tasks: Users with their positive and negative items.
        profiles: ``profiles[i][j]`` is profile ``j`` of ``tasks[i]``.
        prompt: Template with ``profile`` and ``candidate``.
        share_prefix: Compute each profile's shared prompt prefix once.
        chunk_tasks: Users scored per call (progress is logged per chunk).

    Returns:
        Array of shape ``(len(tasks), n_profiles)``.
    """
    if len(tasks) != len(profiles):
        raise ValueError(f"{len(tasks)} tasks but {len(profiles)} profile lists")
    if chunk_tasks < 1:
        raise ValueError(f"chunk_tasks must be >= 1, got {chunk_tasks}")
    n_profiles = max((len(t) for t in profiles), default=0)
    out = np.full((len(tasks), n_profiles), np.nan)
    for start in range(0, len(tasks), chunk_tasks):
        chats, groups = [], []
        for i in range(start, min(start + chunk_tasks, len(tasks))):
            task = tasks[i]
            for j, text in enumerate(profiles[i]):
                for item in (*task.positives, *task.negatives):
                    chats.append(
                        render_chat(prompt, profile=text, candidate=item_title(dataset.items[item]))
                    )
                    groups.append((i, j))
        p_yes = (
            AnswerScorer(scorer, "yes_no", share_prefix=share_prefix).score(chats, groups).p("Yes")
        )
        cursor = 0
        for i in range(start, min(start + chunk_tasks, len(tasks))):
            task = tasks[i]
            n_pos, n_items = len(task.positives), len(task.positives) + len(task.negatives)
            labels = np.arange(n_items) < n_pos  # positives first
            for j in range(len(profiles[i])):
                out[i, j] = roc_auc(labels, p_yes[cursor : cursor + n_items])
                cursor += n_items
        logger.info(
            "scored profiles of %d/%d users", min(start + chunk_tasks, len(tasks)), len(tasks)
        )
    return out
