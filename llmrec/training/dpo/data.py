"""Script arguments, preference data and evaluation of the DPO recipe (``recipes/dpo.py``).

The recipe follows LettinGo (see :mod:`llmrec.training.dpo.lettingo`): the model being trained
writes profiles from the profile builder's prompt (:class:`llmrec.profiles.ProfileBuilder`,
strategy ``recent`` over the last ``history_len`` items, as
``llmrec profile --strategy recent --last-n <history_len>`` renders it); a frozen scorer LLM
judges them by how well it recommends from them; DPO pairs better against worse profiles. The
saved adapter is then a profile writer: ``llmrec profile --model <base> --adapter <output_dir>``. Before and after training, the generator writes one greedy
profile per held-out user, and the scorer's per-user AUC of the held-out test item against
sampled negatives is the metric (mean with a 95% bootstrap CI, and the paired difference).

Example:
    >>> from llmrec.training.dpo.data import DPOScriptArguments
    >>> DPOScriptArguments(n_profiles=4, strategy="best_vs_worst").recent_k
    3
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.training.dpo.pairs import STRATEGIES

logger = logging.getLogger(__name__)


@dataclass
class DPOScriptArguments:
    """What the DPO recipe samples, scores and evaluates (YAML keys of the recipe config).

    Args:
        dataset: Dataset name for :func:`~llmrec.training.data.load_recipe_dataset`.
        train_users: Users whose profiles make the preference pairs.
        eval_users: Disjoint users evaluated before and after training.
        history_len: Interactions shown to the generator (the ``recent`` strategy's ``last_n``).
        recent_k: Recent interactions held back from the profile prompt to score it (LettinGo's h).
        n_profiles: Profiles sampled per user (LettinGo's N).
        temperature: Sampling temperature of the profiles.
        top_p: Nucleus mass of the profile sampling (1.0: the full distribution).
        max_profile_tokens: Length limit of a profile.
        n_negatives: Negatives per training user when scoring sampled profiles.
        eval_negatives: Negatives per held-out user in the before/after evaluation (default
            ``n_negatives``); more negatives make each user's AUC less coarse.
        strategy: ``"best_vs_worst"`` or ``"all_pairs_margin"``.
        margin: Minimum score gap of a pair.
        share_prefix: Score each profile's candidates on one KV cache of the shared prompt
            prefix (in-process transformers scorer only; same numbers, fewer tokens).
        scorer_model: The downstream recommender (alias, hub id or folder); default the
            generator's base model, loaded again and kept frozen.
        eval_before_after: Evaluate the generator before and after training.
        require_gpu: Fail on a machine without CUDA (set in the GPU configs).
        write_rank_fingerprints: Write a hash of each rank's trained weights (DDP checks).
    """

    dataset: str = field(default="ml-100k", metadata={"help": "ml-100k, synthetic, ..."})
    train_users: int = field(default=64, metadata={"help": "users giving preference pairs"})
    eval_users: int = field(default=50, metadata={"help": "held-out users evaluated"})
    history_len: int = field(default=20, metadata={"help": "interactions in the profile prompt"})
    recent_k: int = field(default=3, metadata={"help": "recent items that judge a profile"})
    n_profiles: int = field(default=4, metadata={"help": "profiles sampled per user"})
    temperature: float = field(default=1.0, metadata={"help": "profile sampling temperature"})
    top_p: float = field(default=1.0, metadata={"help": "profile sampling nucleus mass"})
    max_profile_tokens: int = field(default=96, metadata={"help": "profile length limit"})
    n_negatives: int = field(default=6, metadata={"help": "negatives per user when scoring"})
    eval_negatives: int | None = field(
        default=None, metadata={"help": "negatives per held-out user (default n_negatives)"}
    )
    strategy: str = field(default="best_vs_worst", metadata={"help": f"one of {STRATEGIES}"})
    margin: float = field(default=0.0, metadata={"help": "minimum score gap of a pair"})
    share_prefix: bool = field(default=True, metadata={"help": "score on a shared KV prefix"})
    scorer_model: str | None = field(default=None, metadata={"help": "downstream scorer LLM"})
    eval_before_after: bool = field(default=True, metadata={"help": "evaluate before and after"})
    require_gpu: bool = field(default=False, metadata={"help": "fail without CUDA"})
    write_rank_fingerprints: bool = field(
        default=False, metadata={"help": "hash each rank's weights into output_dir"}
    )

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {self.strategy!r}")
        if self.n_profiles < 2:
            raise ValueError(f"n_profiles must be >= 2 to make pairs, got {self.n_profiles}")
        for name in ("train_users", "history_len", "recent_k", "n_negatives"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.eval_negatives is not None and self.eval_negatives < 1:
            raise ValueError(f"eval_negatives must be >= 1 or None, got {self.eval_negatives}")


@dataclass
class DPOData:
    """Preference pairs and the evaluation setting of one DPO run."""

    pairs: Any  # datasets.Dataset: prompt, chosen, rejected (+ scores)
    profile_scores: np.ndarray  # (n_train_tasks, n_profiles)
    eval_tasks: list
    dataset: Any  # InteractionDataset: catalogue for titles
    scorer: Any  # Backend
    profiles: list = field(default_factory=list)  # sampled profiles, [n_train_tasks][n_profiles]
    train_tasks: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)  # wall time per stage: load_scorer, sample, score


def backend_for(model: Any, tokenizer: Any):
    """A backend over the model being trained (:func:`~llmrec.training.runtime.scoring_backend`)."""
    from llmrec.training.runtime import scoring_backend

    return scoring_backend(model, tokenizer)


def build_dpo_data(
    args: DPOScriptArguments, model: Any, tokenizer: Any, model_name: str, seed: int
) -> DPOData:
    """Split the data, sample and score profiles with the untrained generator, build pairs."""
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data import leave_one_out
    from llmrec.training.data import load_recipe_dataset, sample_train_eval_users
    from llmrec.training.dpo.lettingo import (
        heldout_tasks,
        profile_builder,
        sample_profiles,
        score_profiles,
        training_tasks,
    )
    from llmrec.training.dpo.pairs import build_dpo_pairs

    split = leave_one_out(load_recipe_dataset(args.dataset, seed=seed), validation=False)
    train_users, eval_users = sample_train_eval_users(
        split, args.train_users, args.eval_users, seed, min_history=args.recent_k + 1
    )
    generator = backend_for(model, tokenizer)
    builder = profile_builder(generator, args.history_len)
    tasks = training_tasks(builder, split.train, train_users, args.recent_k, args.n_negatives, seed)
    eval_negatives = args.eval_negatives or args.n_negatives
    eval_tasks = heldout_tasks(builder, split, eval_users, eval_negatives, seed + 1)
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    scorer = TransformersBackend(args.scorer_model or model_name, device=str(generator.device))
    seconds["load_scorer"] = time.perf_counter() - start
    start = time.perf_counter()
    profiles = sample_profiles(
        generator,
        tasks,
        args.n_profiles,
        args.temperature,
        args.max_profile_tokens,
        seed,
        top_p=args.top_p,
    )
    seconds["sample"] = time.perf_counter() - start
    start = time.perf_counter()
    scores = score_profiles(
        scorer, split.train, tasks, profiles, share_prefix=args.share_prefix
    )  # (n_tasks, n_profiles)
    seconds["score"] = time.perf_counter() - start
    pairs = build_dpo_pairs(
        [t.prompt for t in tasks], profiles, scores, strategy=args.strategy, margin=args.margin
    )
    if len(pairs) == 0:
        raise ValueError(
            f"no preference pairs: all {len(tasks)} users' profiles scored within "
            f"margin={args.margin}; sample more profiles (n_profiles) or lower the margin"
        )
    logger.info(
        "DPO: %d pairs from %d users x %d profiles", len(pairs), len(tasks), args.n_profiles
    )
    return DPOData(pairs, scores, eval_tasks, split.train, scorer, profiles, tasks, seconds)


def evaluate_generator(
    model: Any, tokenizer: Any, data: DPOData, args: DPOScriptArguments
) -> tuple[list[str], np.ndarray]:
    """One greedy profile per held-out user and its downstream AUC on the held-out test item.

    The model is put in eval mode for the generation (no dropout), then back in the mode it had.

    Returns:
        ``(profiles, auc)``: one profile per evaluation user and the per-user AUC, shape
        ``(n_users,)``.
    """
    from llmrec.training.dpo.lettingo import sample_profiles, score_profiles

    was_training = model.training
    model.eval()
    try:
        generator = backend_for(model, tokenizer)
        profiles = sample_profiles(
            generator, data.eval_tasks, n=1, temperature=0.0, max_new_tokens=args.max_profile_tokens
        )
    finally:
        model.train(was_training)
    auc = score_profiles(
        data.scorer, data.dataset, data.eval_tasks, profiles, share_prefix=args.share_prefix
    )[:, 0]
    return [p[0] for p in profiles], auc


def train_log_summary(log_history: list[dict]) -> dict:
    """First and last logged DPO loss, reward accuracy and reward margin of a trainer's log."""
    rows = [r for r in log_history if "loss" in r]
    out: dict = {"logged_steps": len(rows)}
    for key in ("loss", "rewards/accuracies", "rewards/margins"):
        values = [r[key] for r in rows if key in r]
        if values:
            name = key.replace("rewards/", "reward_")
            out[f"first_{name}"], out[f"last_{name}"] = float(values[0]), float(values[-1])
    return out


def write_eval_profiles(path: str, data: DPOData, before: tuple, after: tuple) -> None:
    """One JSON line per held-out user: the greedy profile and its AUC before and after training.

    Args:
        path: Output ``.jsonl`` file (its folder is created).
        data: The run's data (for the evaluation users).
        before: ``(profiles, auc)`` from :func:`evaluate_generator` before training.
        after: The same after training.
    """
    import json
    from pathlib import Path

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        for k, task in enumerate(data.eval_tasks):
            row = {
                "user_id": task.user_id,
                "before_profile": before[0][k],
                "after_profile": after[0][k],
                "before_auc": float(before[1][k]),
                "after_auc": float(after[1][k]),
            }
            handle.write(json.dumps(row) + "\n")
