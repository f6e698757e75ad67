"""The SFT recipe's final evaluation: tuned (and untuned, adapter off) on held-out users.

``next_item``: HR@K and NDCG@K of the test item ranked among sampled candidates by title
log-probability; ``tallrec``: AUC of P("Yes") on held-out items. Each with a 95% bootstrap CI over
users, and the tuned-minus-untuned difference paired over the same users.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from llmrec.metrics.stats import bootstrap_ci, paired_bootstrap_ci, paired_difference_ci, roc_auc
from llmrec.training.reporting import interval_metrics
from llmrec.training.sft.arguments import SFTScriptArguments
from llmrec.training.sft.data import SFTData

logger = logging.getLogger(__name__)


def _per_user(model: Any, tokenizer: Any, data: SFTData, args: SFTScriptArguments):
    from llmrec.training.sft.next_item import evaluate_next_item
    from llmrec.training.sft.tallrec import evaluate_tallrec

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
