"""Script arguments, datasets and the final evaluation of the SFT recipe (``recipes/sft.py``).

Two tasks, both as conversational prompt/completion data so the loss falls on the answer only:

- ``task: next_item``: history of titles in, next title out; evaluated by ranking each held-out
  test item among sampled candidates by title log-probability (HR@K, NDCG@K);
- ``task: tallrec``: likes/dislikes plus a candidate in, "Yes"/"No" out; evaluated by AUC of
  P("Yes") on held-out test items.

Training users and evaluation users are disjoint (:func:`~llmrec.training.common.sample_train_eval_users`)
and everything shown to the model comes from ``split.train``.

Example:
    >>> from llmrec.training.sft_data import SFTScriptArguments, build_sft_data
    >>> args = SFTScriptArguments(dataset="ml-100k", task="next_item", train_users=50)
    >>> data = build_sft_data(args, seed=0)  # doctest: +SKIP
    >>> data.train.column_names  # doctest: +SKIP
    ['prompt', 'completion']
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.metrics.stats import bootstrap_ci, paired_bootstrap_ci, paired_difference_ci, roc_auc
from llmrec.training.common import interval_metrics

logger = logging.getLogger(__name__)

TASKS = ("next_item", "tallrec")


@dataclass
class SFTScriptArguments:
    """What the SFT recipe trains on and how it is evaluated (YAML keys of the recipe config).

    Args:
        dataset: Dataset name for :func:`~llmrec.training.common.load_recipe_dataset`.
        task: ``"next_item"`` or ``"tallrec"``.
        train_users: Users whose training histories give the examples.
        eval_users: Disjoint users whose held-out test items are evaluated.
        history_len: Past items shown in a prompt.
        targets_per_user: Training examples per user (its last training interactions).
        n_negatives: Candidates besides the true item in next-item ranking.
        label: TALLRec labels, ``"rating"`` or ``"sampled_negative"``.
        like_threshold: Ratings at or above it count as liked (TALLRec).
        k: Cut-off of HR@K and NDCG@K.
        run_eval: Evaluate on held-out users at the end (off for throughput benchmarks).
        eval_baseline: Also evaluate the untuned model (adapter off) on the same cases.
        require_gpu: Fail on a machine without CUDA (set in the GPU configs).
        write_rank_fingerprints: Write a hash of each rank's trained weights (DDP checks).
    """

    dataset: str = field(default="ml-100k", metadata={"help": "ml-100k, synthetic, ..."})
    task: str = field(default="next_item", metadata={"help": f"one of {TASKS}"})
    train_users: int = field(default=200, metadata={"help": "users giving training examples"})
    eval_users: int = field(default=100, metadata={"help": "held-out users evaluated"})
    history_len: int = field(default=10, metadata={"help": "past items per prompt"})
    targets_per_user: int = field(default=1, metadata={"help": "training examples per user"})
    n_negatives: int = field(default=49, metadata={"help": "sampled candidates per ranking case"})
    label: str = field(default="rating", metadata={"help": "tallrec: rating | sampled_negative"})
    like_threshold: float = field(default=4.0, metadata={"help": "tallrec: liked if rating >= t"})
    k: int = field(default=10, metadata={"help": "cut-off of hr@k and ndcg@k"})
    run_eval: bool = field(default=True, metadata={"help": "evaluate on held-out users at the end"})
    eval_baseline: bool = field(default=True, metadata={"help": "evaluate the untuned model too"})
    require_gpu: bool = field(default=False, metadata={"help": "fail without CUDA"})
    write_rank_fingerprints: bool = field(
        default=False, metadata={"help": "hash each rank's weights into output_dir"}
    )

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        for name in ("train_users", "history_len", "targets_per_user", "k"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")


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
    from llmrec.training.common import load_recipe_dataset, sample_train_eval_users
    from llmrec.training.next_item import next_item_cases, next_item_examples
    from llmrec.training.tallrec import tallrec_eval_examples, tallrec_examples

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


def _per_user(model: Any, tokenizer: Any, data: SFTData, args: SFTScriptArguments):
    from llmrec.training.next_item import evaluate_next_item
    from llmrec.training.tallrec import evaluate_tallrec

    if args.task == "next_item":
        return evaluate_next_item(model, tokenizer, data.eval_cases, data.dataset, k=args.k)
    chats, labels = data.eval_cases
    return evaluate_tallrec(model, tokenizer, chats, labels)


def evaluate_sft(
    model: Any, tokenizer: Any, data: SFTData, args: SFTScriptArguments, seed: int = 0
) -> dict[str, float]:
    """The method's metric for the tuned model and, if asked, the untuned one (adapter off).

    Next-item: mean ``hr@k`` and ``ndcg@k`` with 95% bootstrap CIs, and the paired difference
    tuned minus untuned. TALLRec: ``auc``, with a bootstrap CI over examples.

    Returns:
        A flat dict such as ``{"tuned_ndcg@10": ..., "tuned_ndcg@10_ci_low": ..., ...}``.
    """
    runs = {"tuned": _per_user(model, tokenizer, data, args)}
    if args.eval_baseline and hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            runs["untuned"] = _per_user(model, tokenizer, data, args)
    out: dict[str, float] = {"eval_users": float(len(data.eval_users))}
    if args.task == "next_item":
        names = [f"hr@{args.k}", f"ndcg@{args.k}"]
        for run, per_user in runs.items():
            for name in names:
                ci = paired_bootstrap_ci(per_user[name], seed=seed)
                out.update(interval_metrics(f"{run}_{name}", ci))
        if "untuned" in runs:
            for name in names:
                ci = paired_difference_ci(runs["tuned"][name], runs["untuned"][name], seed=seed)
                out.update(interval_metrics(f"diff_{name}", ci))
        return out
    for run, result in runs.items():
        # Pooled AUC, resampling examples (rows of (label, score)); one-class resamples are nan
        # and left out of the percentiles.
        rows = np.column_stack([result["labels"], result["p_yes"]])  # (n_examples, 2)
        ci = bootstrap_ci(rows[:, None, :], lambda r: roc_auc(r[:, 0], r[:, 1]), seed=seed)
        out.update(interval_metrics(f"{run}_auc", ci))
    return out
