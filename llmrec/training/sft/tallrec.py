"""TALLRec-style yes/no recommendation: past likes and dislikes plus a candidate, answer Yes/No.

TALLRec (Bao et al., RecSys 2023) LoRA-tunes an LLM to answer "will the user like this item?"
and evaluates by AUC of P("Yes"). Examples here are conversational prompt/completion pairs, so
trl's ``SFTTrainer`` puts the loss on the answer only.

Labels come in two kinds:

- ``"rating"`` (TALLRec's own): the candidate is the next item the user rated; "Yes" when the
  rating is at least ``like_threshold``;
- ``"sampled_negative"``: the next item is a "Yes" and an item drawn uniformly from those the
  user never touched is a "No" (for implicit-feedback data).

Evaluation users' held-out test items are scored against their training histories only.

Example:
    >>> from llmrec.data import load_dataset, leave_one_out
    >>> split = leave_one_out(load_dataset("ml-100k"), validation=False)  # doctest: +SKIP
    >>> ds = tallrec_examples(split.train, ["1", "2"], label="rating")  # doctest: +SKIP
    >>> ds.column_names  # doctest: +SKIP
    ['prompt', 'completion', 'label', 'user_id', 'item_id']
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from llmrec.context.items import item_title
from llmrec.data.records import Interaction, InteractionDataset
from llmrec.data.sampling import negatives_for_user
from llmrec.data.splits import Split
from llmrec.prompts import render_chat

DEFAULT_PROMPT = "training/tallrec"
LABELS = ("rating", "sampled_negative")


def _check_label(label: str, dataset: InteractionDataset) -> None:
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    if label == "rating" and dataset.interactions["rating"].isna().any():
        raise ValueError(
            f"label='rating' needs ratings, but {dataset.name} has unrated interactions; "
            "use label='sampled_negative'"
        )


def tallrec_prompt(
    dataset: InteractionDataset,
    history: Sequence[Interaction],
    candidate: str,
    like_threshold: float = 4.0,
    prompt: str = DEFAULT_PROMPT,
) -> list[dict[str, str]]:
    """The chat asking whether the user will like ``candidate`` (an item id).

    History items rated at least ``like_threshold`` (or unrated) are listed as liked, the rest
    as disliked, oldest first.
    """
    liked = [
        item_title(dataset.items[r.item_id])
        for r in history
        if r.rating is None or r.rating >= like_threshold
    ]
    disliked = [
        item_title(dataset.items[r.item_id])
        for r in history
        if r.rating is not None and r.rating < like_threshold
    ]
    return render_chat(
        prompt, liked=liked, disliked=disliked, candidate=item_title(dataset.items[candidate])
    )


def _answer(yes: bool) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": "Yes" if yes else "No"}]


def tallrec_examples(
    train: InteractionDataset,
    user_ids: Sequence[str],
    history_len: int = 10,
    targets_per_user: int = 1,
    label: str = "rating",
    like_threshold: float = 4.0,
    seed: int = 0,
    prompt: str = DEFAULT_PROMPT,
):
    """Yes/No training examples from users' training histories.

    Args:
        train: Training interactions only (``split.train``).
        user_ids: Users to draw examples from.
        history_len: Past interactions shown in the prompt.
        targets_per_user: Targets per user (the last ones of the training history).
        label: ``"rating"`` or ``"sampled_negative"`` (see the module docstring).
        like_threshold: Ratings at or above it count as liked.
        seed: Seed for the sampled negatives.
        prompt: Template name under ``prompts/``.

    Returns:
        A ``datasets.Dataset`` with conversational ``prompt`` / ``completion`` and ``label``
        (1 for Yes), ``user_id``, ``item_id``.
    """
    from datasets import Dataset

    _check_label(label, train)
    rng = np.random.default_rng(seed)
    rows: dict[str, list[Any]] = {
        "prompt": [],
        "completion": [],
        "label": [],
        "user_id": [],
        "item_id": [],
    }

    def add(uid: str, chat: list[dict[str, str]], yes: bool, item: str) -> None:
        rows["prompt"].append(chat)
        rows["completion"].append(_answer(yes))
        rows["label"].append(int(yes))
        rows["user_id"].append(uid)
        rows["item_id"].append(item)

    for uid in user_ids:
        events = train.history(uid)
        seen = {r.item_id for r in events}
        for pos in range(max(1, len(events) - targets_per_user), len(events)):
            history = events[max(0, pos - history_len) : pos]
            target = events[pos]
            chat = tallrec_prompt(train, history, target.item_id, like_threshold, prompt)
            if label == "rating":
                add(uid, chat, target.rating >= like_threshold, target.item_id)
            else:
                add(uid, chat, True, target.item_id)
                (neg,) = negatives_for_user(train, seen, 1, rng)
                add(uid, tallrec_prompt(train, history, neg, like_threshold, prompt), False, neg)
    if not rows["prompt"]:
        raise ValueError("no TALLRec examples: the users have fewer than 2 training interactions")
    return Dataset.from_dict(rows)


def tallrec_eval_examples(
    split: Split,
    user_ids: Sequence[str],
    history_len: int = 10,
    label: str = "rating",
    like_threshold: float = 4.0,
    seed: int = 0,
    prompt: str = DEFAULT_PROMPT,
) -> tuple[list[list[dict[str, str]]], np.ndarray]:
    """Chats and 0/1 labels for held-out test items (plus a sampled negative per user).

    Returns:
        ``(chats, labels)`` with ``labels`` of shape ``(len(chats),)``.
    """
    _check_label(label, split.train)
    rng = np.random.default_rng(seed)
    test = split.test.interactions.groupby("user_id").last()
    chats, labels = [], []
    for uid in user_ids:
        if uid not in test.index:
            raise ValueError(f"user {uid!r} has no held-out test item")
        history = split.train.history(uid)[-history_len:]
        target, rating = str(test.loc[uid, "item_id"]), test.loc[uid, "rating"]
        chats.append(tallrec_prompt(split.train, history, target, like_threshold, prompt))
        if label == "rating":
            labels.append(int(rating >= like_threshold))
        else:
            labels.append(1)
            seen = {r.item_id for r in split.train.history(uid)} | {target}
            (neg,) = negatives_for_user(split.train, seen, 1, rng)
            chats.append(tallrec_prompt(split.train, history, neg, like_threshold, prompt))
            labels.append(0)
    return chats, np.asarray(labels, dtype=np.int64)


def evaluate_tallrec(
    model: Any, tokenizer: Any, chats: Sequence[list[dict[str, str]]], labels: np.ndarray
) -> dict[str, Any]:
    """AUC of P("Yes") (renormalised over Yes/No) against the labels.

    The model is scored through :func:`~llmrec.training.runtime.scoring_backend` and
    :class:`~llmrec.context.scoring.AnswerScorer` (in eval mode, then put back).

    Returns:
        ``{"auc": float, "p_yes": array (n,), "labels": array (n,)}``.
    """
    from llmrec.context.scoring import AnswerScorer
    from llmrec.metrics.stats import roc_auc
    from llmrec.training.runtime import scoring_backend

    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise ValueError(f"AUC needs both labels among the evaluation examples, got {set(labels)}")
    p_yes = AnswerScorer(scoring_backend(model, tokenizer), "yes_no").score(chats).p("Yes")
    return {"auc": roc_auc(labels, p_yes), "p_yes": p_yes, "labels": labels}
