"""Held-out evaluation of a GRPO policy: full dialogues with simulated users, profile F1.

Before and after training (and after the optional warm start) the policy plays every turn of a
dialogue with each held-out simulated user; :func:`evaluate_policy` reports format-gated profile
F1 and the format rate, :func:`summarise` puts the stages and the reward curve side by side.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def split_users(
    user_ids: Sequence[str], n_train: int, n_eval: int, seed: int
) -> tuple[list[str], list[str]]:
    """Disjoint ``(train, eval)`` users, drawn with ``seed``.

    Raises:
        ValueError: more users asked for than the world holds.
    """
    users = list(user_ids)
    if n_train + n_eval > len(users):
        raise ValueError(
            f"train_users + eval_users = {n_train + n_eval} exceeds world_users = {len(users)}"
        )
    order = np.random.default_rng(seed).permutation(len(users))
    eval_ids = [users[i] for i in order[:n_eval]]
    train_ids = [users[i] for i in order[n_eval:]][:n_train]
    return train_ids, eval_ids


def evaluate_policy(
    backend: Any,
    gold: dict[str, Any],
    user_ids: Sequence[str],
    reveal: Any,
    n_turns: int,
    generation: Any,
    simulator_backend: Any = None,
) -> dict[str, Any]:
    """Profile F1 of ``backend`` over full dialogues with the simulated ``user_ids``.

    Returns:
        :func:`~llmrec.training.grpo.data.profile_f1_report` plus ``example_reply`` (the last
        reply of the first dialogue).
    """
    from llmrec.training.grpo.data import profile_f1_report, rollout_dialogues, simulators_for

    backend.model.eval()
    simulators = simulators_for(gold, user_ids, reveal, simulator_backend)
    dialogues = rollout_dialogues(simulators, n_turns, backend, generation)
    report = profile_f1_report(dialogues)
    report["example_reply"] = dialogues[0].turns[-1].reply if dialogues else ""
    logger.info("held-out dialogues: %s", json.dumps(report))
    return report


def reward_curve(log_history: Sequence[dict[str, Any]]) -> list[dict[str, float]]:
    """``[{step, reward, rewards/<name>/mean...}]`` from a trainer's log history."""
    return [
        {"step": row["step"], "reward": row["reward"]}
        | {k: v for k, v in row.items() if k.startswith("rewards/") and k.endswith("/mean")}
        for row in log_history
        if "reward" in row
    ]


def summarise(stages: dict[str, dict[str, Any]], curve: list[dict[str, float]], **extra: Any):
    """One flat dict: profile F1 and format rate per stage, first and last reward, ``extra``."""
    before, after = stages["base"], stages["after GRPO"]
    warm = stages.get("warm start")
    return {
        "profile_f1_before": before["profile_f1"],
        "profile_f1_warm_start": warm["profile_f1"] if warm else None,
        "profile_f1_after": after["profile_f1"],
        "format_rate_before": before["format_rate"],
        "format_rate_warm_start": warm["format_rate"] if warm else None,
        "format_rate_after": after["format_rate"],
        "reward_first": curve[0]["reward"] if curve else None,
        "reward_last": curve[-1]["reward"] if curve else None,
        **extra,
    }


def format_report(stages: dict[str, dict[str, Any]], curve: list[dict[str, float]]) -> str:
    """The reward over steps, then profile F1 and format rate per stage, as a text table."""
    lines = [f"{'step':>6}{'reward':>9}"]
    lines += [f"{row['step']:>6}{row['reward']:>9.4f}" for row in curve]
    lines.append(f"{'':<22}" + "".join(f"{name:>12}" for name in stages))
    for key in ("profile_f1", "profile_f1_last_turn", "format_rate"):
        lines.append(f"{key:<22}" + "".join(f"{r[key]:>12.4f}" for r in stages.values()))
    return "\n".join(lines)
