"""Chosen/rejected pairs from scored samples, for trl's ``DPOTrainer``.

LettinGo (arXiv 2506.18309) samples N profiles per user, scores each by how well a downstream
recommender does with it, and trains the generator with DPO on (better, worse) profile pairs.
The paper does not publish its pairing rule; two are offered:

- ``"best_vs_worst"``: one pair per prompt, the highest-scored sample against the lowest, kept
  when their score gap exceeds ``margin``;
- ``"all_pairs_margin"``: every ordered pair ``(i, j)`` with ``s_i - s_j > margin`` (more pairs,
  more weight on prompts with spread-out scores).

Samples with equal text are never paired with each other, and ties never make a pair.

Example:
    >>> chat = [{"role": "user", "content": "Profile this user."}]
    >>> ds = build_dpo_pairs([chat], [["likes jazz", "likes rock", "likes pop"]], [[0.9, 0.1, 0.5]])
    >>> ds[0]["chosen"][0]["content"], ds[0]["rejected"][0]["content"]
    ('likes jazz', 'likes rock')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

STRATEGIES = ("best_vs_worst", "all_pairs_margin")


def _reply(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def build_dpo_pairs(
    prompts: Sequence[list[dict[str, str]]],
    profiles: Sequence[Sequence[str]],
    scores: Sequence[Sequence[float]],
    strategy: str = "best_vs_worst",
    margin: float = 0.0,
):
    """Build a conversational preference dataset from scored samples.

    Args:
        prompts: One chat per user (the generator's prompt).
        profiles: ``profiles[i]`` holds the sampled replies to ``prompts[i]``.
        scores: ``scores[i][j]`` is the downstream score of ``profiles[i][j]`` (higher is better).
        strategy: ``"best_vs_worst"`` or ``"all_pairs_margin"``.
        margin: A pair needs ``score(chosen) - score(rejected) > margin`` (``>= 0``).

    Returns:
        A ``datasets.Dataset`` with ``prompt`` (chat), ``chosen`` and ``rejected`` (one
        assistant message each), ``score_chosen``, ``score_rejected`` and ``group`` (the index
        of the prompt).
    """
    from datasets import Dataset

    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if margin < 0:
        raise ValueError(f"margin must be >= 0, got {margin}")
    if not len(prompts) == len(profiles) == len(scores):
        raise ValueError(
            f"prompts, profiles and scores differ in length: "
            f"{len(prompts)}, {len(profiles)}, {len(scores)}"
        )
    rows: dict[str, list[Any]] = {
        k: [] for k in ("prompt", "chosen", "rejected", "score_chosen", "score_rejected", "group")
    }
    for group, (prompt, texts, values) in enumerate(zip(prompts, profiles, scores)):
        values = np.asarray(values, dtype=np.float64)
        if len(texts) != len(values):
            raise ValueError(f"prompt {group}: {len(texts)} profiles but {len(values)} scores")
        if strategy == "best_vs_worst":
            if len(values) < 2:
                continue
            candidates = [(int(np.argmax(values)), int(np.argmin(values)))]
        else:
            candidates = [(i, j) for i in range(len(values)) for j in range(len(values)) if i != j]
        for i, j in candidates:
            if values[i] - values[j] > margin and texts[i] != texts[j]:
                rows["prompt"].append(list(prompt))
                rows["chosen"].append(_reply(texts[i]))
                rows["rejected"].append(_reply(texts[j]))
                rows["score_chosen"].append(float(values[i]))
                rows["score_rejected"].append(float(values[j]))
                rows["group"].append(group)
    return Dataset.from_dict(rows)
