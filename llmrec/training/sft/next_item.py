"""Next-item prediction as language: a history of titles in, the next item's title out.

Training examples are conversational prompt/completion pairs, so trl's ``SFTTrainer`` puts the
loss on the completion (the title and the end-of-turn token) only. Evaluation does not match
strings: each evaluation user's held-out item is ranked among sampled candidate items by the
model's log-probability of each candidate title as the complete reply
followed by the end-of-turn token (:meth:`llmrec.context.scoring.AnswerScorer.continuations`,
each prompt run once), giving HR@K and NDCG@K.

Ranks count ties pessimistically: ``rank = 1 + #{other candidates scored >= the target}``, so a
model that scores everything equally gets the worst rank, not the best.

Example:
    >>> from llmrec.data import load_dataset, leave_one_out
    >>> from llmrec.training.data import sample_train_eval_users
    >>> split = leave_one_out(load_dataset("ml-100k"), validation=False)  # doctest: +SKIP
    >>> train_users, eval_users = sample_train_eval_users(split, 200, 100, seed=0)  # doctest: +SKIP
    >>> ds = next_item_examples(split.train, train_users, history_len=10)  # doctest: +SKIP
    >>> cases = next_item_cases(split, eval_users, n_negatives=49, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec.context.items import item_title
from llmrec.data.records import InteractionDataset
from llmrec.data.sampling import negatives_for_user
from llmrec.data.splits import Split
from llmrec.metrics.ranking import hit_rate, ndcg, rank_targets
from llmrec.prompts import render_chat

DEFAULT_PROMPT = "training/next_item"


@dataclass(frozen=True)
class RankingCase:
    """One evaluation user: the prompt, candidate item ids and which candidate is the truth."""

    user_id: str
    chat: list[dict[str, str]]
    candidates: tuple[str, ...]
    target: int


def history_prompt(
    dataset: InteractionDataset, item_ids: Sequence[str], prompt: str = DEFAULT_PROMPT
) -> list[dict[str, str]]:
    """The chat asking for the next item after ``item_ids`` (oldest first)."""
    return render_chat(prompt, history=[item_title(dataset.items[i]) for i in item_ids])


def next_item_examples(
    train: InteractionDataset,
    user_ids: Sequence[str],
    history_len: int = 10,
    targets_per_user: int = 1,
    prompt: str = DEFAULT_PROMPT,
):
    """Prompt/completion examples from users' training histories.

    For each user, each of the last ``targets_per_user`` training interactions is a target and
    the ``history_len`` interactions before it the history (users with a shorter history give
    fewer examples; a target needs at least one item before it).

    Args:
        train: Training interactions only (``split.train``).
        user_ids: Users to draw examples from.
        history_len: Items shown in the prompt.
        targets_per_user: Examples per user.
        prompt: Template name under ``prompts/``.

    Returns:
        A ``datasets.Dataset`` with conversational ``prompt`` and ``completion`` columns plus
        ``user_id`` and ``item_id``.
    """
    from datasets import Dataset

    if history_len < 1 or targets_per_user < 1:
        raise ValueError(
            f"history_len and targets_per_user must be >= 1, got {history_len}, {targets_per_user}"
        )
    rows: dict[str, list[Any]] = {"prompt": [], "completion": [], "user_id": [], "item_id": []}
    for uid in user_ids:
        items = [r.item_id for r in train.history(uid)]
        for pos in range(max(1, len(items) - targets_per_user), len(items)):
            history = items[max(0, pos - history_len) : pos]
            target = items[pos]
            rows["prompt"].append(history_prompt(train, history, prompt))
            completion = item_title(train.items[target])
            rows["completion"].append([{"role": "assistant", "content": completion}])
            rows["user_id"].append(uid)
            rows["item_id"].append(target)
    if not rows["prompt"]:
        raise ValueError("no next-item examples: the users have fewer than 2 training interactions")
    return Dataset.from_dict(rows)


def next_item_cases(
    split: Split,
    user_ids: Sequence[str],
    history_len: int = 10,
    n_negatives: int = 49,
    seed: int = 0,
    prompt: str = DEFAULT_PROMPT,
) -> list[RankingCase]:
    """Ranking cases for users with a held-out test item.

    The prompt shows the last ``history_len`` training items; candidates are the test item and
    ``n_negatives`` items drawn uniformly (seeded per user) from items the user never touched
    in training or test, in a shuffled order.
    """
    rng = np.random.default_rng(seed)
    test = split.test.interactions.groupby("user_id")["item_id"].last()
    cases = []
    for uid in user_ids:
        if uid not in test.index:
            raise ValueError(f"user {uid!r} has no held-out test item")
        seen = {r.item_id for r in split.train.history(uid)}
        target = str(test[uid])
        negatives = negatives_for_user(split.train, seen | {target}, n_negatives, rng)
        candidates = [target, *negatives]
        order = rng.permutation(len(candidates))
        shuffled = tuple(candidates[i] for i in order)
        history = [r.item_id for r in split.train.history(uid)][-history_len:]
        cases.append(
            RankingCase(
                uid, history_prompt(split.train, history, prompt), shuffled, int(np.argmin(order))
            )
        )
    return cases


def pessimistic_ranks(scores: Sequence[np.ndarray], targets: Sequence[int]) -> np.ndarray:
    """1-based rank of each target among its candidates, ties counted against the target.

    ``rank_u = 1 + #{j != t_u : s_uj >= s_ut}``, shape ``(n_users,)``: ragged candidate lists
    are padded (and the padding excluded) for :func:`llmrec.metrics.ranking.rank_targets`.
    """
    width = max((len(s) for s in scores), default=0)
    padded = np.full((len(scores), width), -np.inf)  # (n_users, max candidates)
    excluded = np.ones((len(scores), width), dtype=bool)
    for u, s in enumerate(scores):
        padded[u, : len(s)] = s
        excluded[u, : len(s)] = False
    return rank_targets(padded, np.asarray(targets), "pessimistic", excluded)[:, 0]


def evaluate_next_item(
    model: Any,
    tokenizer: Any,
    cases: Sequence[RankingCase],
    dataset: InteractionDataset,
    k: int = 10,
) -> dict[str, np.ndarray]:
    """Rank each case's candidates by the model's log-probability of their titles.

    Returns:
        Per-user arrays (shape ``(n_cases,)``): ``rank``, ``hr@k``, ``ndcg@k``.
    """
    from llmrec.context.scoring import AnswerScorer
    from llmrec.training.runtime import scoring_backend

    titles = [[item_title(dataset.items[i]) for i in case.candidates] for case in cases]
    scorer = AnswerScorer(scoring_backend(model, tokenizer), end_of_turn=True)
    scores = scorer.continuations([c.chat for c in cases], titles)
    ranks = pessimistic_ranks(scores, [c.target for c in cases])
    return {"rank": ranks, f"hr@{k}": hit_rate(ranks, k), f"ndcg@{k}": ndcg(ranks, k)}
