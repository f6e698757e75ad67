"""Datasets of the SFT recipe (``recipes/sft.py``); arguments in :mod:`.arguments`, the final
evaluation in :mod:`.evaluation`.

Two tasks, both as conversational prompt/completion data so the loss falls on the answer only:

- ``task: next_item``: history of titles in, next title out; evaluated by ranking each held-out
  test item among sampled candidates by title log-probability (HR@K, NDCG@K);
- ``task: tallrec``: likes/dislikes plus a candidate in, "Yes"/"No" out; evaluated by AUC of
  P("Yes") on held-out test items.

Training users and evaluation users are disjoint (:func:`~llmrec.training.data.sample_train_eval_users`)
and everything shown to the model comes from ``split.train``.

Example:
    >>> from llmrec.training.sft.arguments import SFTScriptArguments
    >>> from llmrec.training.sft.data import build_sft_data
    >>> args = SFTScriptArguments(dataset="ml-100k", task="next_item", train_users=50)
    >>> data = build_sft_data(args, seed=0)  # doctest: +SKIP
    >>> data.train.column_names  # doctest: +SKIP
    ['prompt', 'completion']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from llmrec.training.sft.arguments import SFTScriptArguments

logger = logging.getLogger(__name__)


@dataclass
class SFTData:
    """Training data and evaluation cases of one SFT run."""

    train: Any  # datasets.Dataset with prompt / completion
    eval_cases: Any  # list[RankingCase] (next_item) or (chats, labels) (tallrec)
    dataset: Any  # InteractionDataset (catalogue for titles)
    train_users: list[str]
    eval_users: list[str]


def build_sft_data(args: SFTScriptArguments, seed: int) -> SFTData:
    """Load the dataset, split it leave-one-out, draw users and build examples and cases."""
    from llmrec.data import leave_one_out
    from llmrec.training.data import load_recipe_dataset, sample_train_eval_users
    from llmrec.training.sft.next_item import next_item_cases, next_item_examples
    from llmrec.training.sft.tallrec import tallrec_eval_examples, tallrec_examples

    split = leave_one_out(load_recipe_dataset(args.dataset, seed=seed), validation=False)
    train_users, eval_users = sample_train_eval_users(
        split, args.train_users, args.eval_users, seed
    )
    if args.task == "next_item":
        train = next_item_examples(
            split.train, train_users, args.history_len, args.targets_per_user
        )
        cases: Any = next_item_cases(split, eval_users, args.history_len, args.n_negatives, seed)
    else:
        train = tallrec_examples(
            split.train,
            train_users,
            args.history_len,
            args.targets_per_user,
            args.label,
            args.like_threshold,
            seed,
        )
        cases = tallrec_eval_examples(
            split, eval_users, args.history_len, args.label, args.like_threshold, seed
        )
    train = train.select_columns(["prompt", "completion"])
    logger.info("SFT %s: %d examples, %d eval users", args.task, len(train), len(eval_users))
    return SFTData(train, cases, split.train, train_users, eval_users)
