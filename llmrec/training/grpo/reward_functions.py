"""The reward functions of a GRPO run, in the order ``reward_weights`` refers to them.

Format-gated profile F1 first, then the response reward (rule-based relevance, a keep-talking
judge, or llmrec's item judge), then the optional tag-count shaping term.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


def reward_functions(script_args: Any, world: Any, train_ids: Sequence[str]) -> list[Callable]:
    """The trl reward functions the recipe's arguments ask for.

    Args:
        script_args: :class:`~llmrec.training.grpo.arguments.GRPOScriptArguments`.
        world: The synthetic world (gold traits and catalogue).
        train_ids: Users whose dialogues train (the item judge reads their traits).
    """
    from llmrec.training.grpo.rewards import ProfileF1Reward, response_reward, tag_count_reward

    funcs: list[Callable] = [ProfileF1Reward(script_args.profile_target)]
    if script_args.response_reward == "item_judge":
        extra = item_judge_reward(world, train_ids, script_args.judge_model)
    else:
        extra = response_reward(script_args.response_reward, script_args.judge_model)
    if extra is not None:
        funcs.append(extra)
    if script_args.tag_shaping:
        funcs.append(tag_count_reward)
    return funcs


def item_judge_reward(world, user_ids, judge_model):
    """llmrec's pointwise judge as the response reward, behind the format gate.

    The judge reads each user's gold traits as the profile and scores the item the response
    names (its first line, matched to a catalogue title) on the 1-5 rubric, mapped to [0, 1].
    """
    from llmrec.backends import load_backend
    from llmrec.context.view import UserContext
    from llmrec.judge.pointwise import PointwiseJudge
    from llmrec.judge.reward import JudgeReward
    from llmrec.training.grpo.rewards import FormatGatedReward

    if not judge_model:
        raise ValueError("response_reward 'item_judge' needs judge_model (a backend spec)")
    profiles = {u: "; ".join(world.gold[u].traits()) for u in user_ids}
    judge = PointwiseJudge(load_backend(judge_model), UserContext(profiles=profiles))
    return FormatGatedReward(JudgeReward(judge, catalogue=world.dataset.items), "item_judge")
