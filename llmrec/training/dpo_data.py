"""Script arguments, preference data and evaluation of the DPO recipe (``recipes/dpo.py``).

The recipe follows LettinGo (see :mod:`llmrec.training.lettingo`): the model being trained
writes profiles; a frozen scorer LLM judges them by how well it recommends from them; DPO pairs
better against worse profiles. Before and after training, the generator writes one greedy
profile per held-out user, and the scorer's per-user AUC of the held-out test item against
sampled negatives is the metric (mean with a 95% bootstrap CI, and the paired difference).

Example:
    >>> from llmrec.training.dpo_data import DPOScriptArguments
    >>> DPOScriptArguments(n_profiles=4, strategy="best_vs_worst").recent_k
    3
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.training.dpo_pairs import STRATEGIES

logger = logging.getLogger(__name__)


@dataclass
class DPOScriptArguments:
    """What the DPO recipe samples, scores and evaluates (YAML keys of the recipe config).

    Args:
        dataset: Dataset name for :func:`~llmrec.training.common.load_recipe_dataset`.
        train_users: Users whose profiles make the preference pairs.
        eval_users: Disjoint users evaluated before and after training.
        history_len: Interactions shown to the generator.
        recent_k: Recent interactions held back from the profile prompt to score it (LettinGo's h).
        n_profiles: Profiles sampled per user (LettinGo's N).
        temperature: Sampling temperature of the profiles.
        max_profile_tokens: Length limit of a profile.
        n_negatives: Negatives per user in scoring and evaluation.
        strategy: ``"best_vs_worst"`` or ``"all_pairs_margin"``.
        margin: Minimum score gap of a pair.
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
    max_profile_tokens: int = field(default=96, metadata={"help": "profile length limit"})
    n_negatives: int = field(default=6, metadata={"help": "negatives per user when scoring"})
    strategy: str = field(default="best_vs_worst", metadata={"help": f"one of {STRATEGIES}"})
    margin: float = field(default=0.0, metadata={"help": "minimum score gap of a pair"})
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


@dataclass
class DPOData:
    """Preference pairs and the evaluation setting of one DPO run."""

    pairs: Any  # datasets.Dataset: prompt, chosen, rejected (+ scores)
    profile_scores: np.ndarray  # (n_train_tasks, n_profiles)
    eval_tasks: list
    dataset: Any  # InteractionDataset: catalogue for titles
    scorer: Any  # Backend


def backend_for(model: Any, tokenizer: Any):
    """A :class:`~llmrec.backends.hf.TransformersBackend` over the model being trained.

    The tokenizer is copied because the backend pads on the left and trl's collators expect the
    training tokenizer unchanged.
    """
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend.from_model(model, copy.deepcopy(tokenizer))


def build_dpo_data(
    args: DPOScriptArguments, model: Any, tokenizer: Any, model_name: str, seed: int
) -> DPOData:
    """Split the data, sample and score profiles with the untrained generator, build pairs."""
    from llmrec.backends.hf import TransformersBackend
    from llmrec.data import leave_one_out
    from llmrec.training.common import load_recipe_dataset, sample_users
    from llmrec.training.dpo_pairs import build_dpo_pairs
    from llmrec.training.lettingo import (
        heldout_tasks,
        sample_profiles,
        score_profiles,
        training_tasks,
    )

    split = leave_one_out(load_recipe_dataset(args.dataset, seed=seed), validation=False)
    train_users, eval_users = sample_users(
        split, args.train_users, args.eval_users, seed, min_history=args.recent_k + 1
    )
    tasks = training_tasks(
        split.train, train_users, args.recent_k, args.history_len, args.n_negatives, seed
    )
    eval_tasks = heldout_tasks(split, eval_users, args.history_len, args.n_negatives, seed + 1)
    generator = backend_for(model, tokenizer)
    scorer = TransformersBackend(args.scorer_model or model_name, device=str(generator.device))
    profiles = sample_profiles(
        generator, tasks, args.n_profiles, args.temperature, args.max_profile_tokens, seed
    )
    scores = score_profiles(scorer, split.train, tasks, profiles)  # (n_tasks, n_profiles)
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
    return DPOData(pairs, scores, eval_tasks, split.train, scorer)


def generator_scores(model: Any, tokenizer: Any, data: DPOData, args: DPOScriptArguments):
    """Per-user downstream AUC of one greedy profile per held-out user, shape ``(n_users,)``."""
    from llmrec.training.lettingo import sample_profiles, score_profiles

    generator = backend_for(model, tokenizer)
    profiles = sample_profiles(
        generator, data.eval_tasks, n=1, temperature=0.0, max_new_tokens=args.max_profile_tokens
    )
    return score_profiles(data.scorer, data.dataset, data.eval_tasks, profiles)[:, 0]
