"""Multi-turn dialogues with simulated users, as prompts for GRPO and as an evaluation.

:func:`rollout_dialogues` plays ``n_turns`` turns between :class:`UserSimulator` s and a policy:
each turn the users speak (revealing a little), the policy answers every user in one batched
call, and its answer becomes context for the next turn. With ``policy=None`` the assistant
turns come from the template ``prompts/rlpa/assistant_turn`` (a well-formed reply restating what
was revealed), a cheap way to build contexts that show the format.

:func:`grpo_dataset` turns every user turn of the dialogues into one GRPO prompt: the chat so far
(system prompt, earlier turns, the user's new message) with the columns the rewards read
(``gold_traits``, ``revealed_traits``). :func:`profile_f1_report` scores a policy's replies.

Example:
    >>> from llmrec.data.synthetic import SyntheticConfig, generate_world
    >>> world = generate_world(SyntheticConfig(n_users=20, n_items=50, seed=0))
    >>> sims = simulators_for(world.gold, world.dataset.user_ids[:4], RevealPolicy(seed=0))
    >>> dialogues = rollout_dialogues(sims, n_turns=3)
    >>> grpo_dataset(dialogues).num_rows
    12
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from llmrec.training.grpo.rewards import parse_reply, profile_f1
from llmrec.training.grpo.simulator import RevealPolicy, UserSimulator, step_all

logger = logging.getLogger(__name__)

Chat = list[dict[str, str]]


@dataclass
class Turn:
    """One exchange: the chat the policy saw (ending with the user's message) and its reply."""

    prompt: Chat
    reply: str
    revealed: list[str]


@dataclass
class Dialogue:
    """A simulated user's whole conversation."""

    user_id: str
    gold: list[str]
    turns: list[Turn] = field(default_factory=list)


def simulators_for(
    gold: Mapping[str, Any],
    user_ids: Sequence[str],
    reveal_policy: RevealPolicy | None = None,
    backend: Any = None,
) -> list[UserSimulator]:
    """One :class:`UserSimulator` per user id, from gold profiles (``world.gold``)."""
    missing = [u for u in user_ids if u not in gold]
    if missing:
        raise ValueError(f"no gold profile for users {missing[:5]} (of {len(missing)})")
    return [UserSimulator(gold[u], reveal_policy, backend, user_id=u) for u in user_ids]


def rollout_dialogues(
    simulators: Sequence[UserSimulator],
    n_turns: int,
    policy: Any = None,
    generation: Any = None,
    system_prompt: str = "rlpa/policy_system",
    assistant_template: str = "rlpa/assistant_turn",
) -> list[Dialogue]:
    """Play ``n_turns`` turns with every simulator (reset first), batching the policy's calls.

    Args:
        simulators: The simulated users.
        n_turns: User messages per dialogue.
        policy: A :class:`~llmrec.backends.base.Backend` answering the chats, or ``None`` for
            templated replies that restate the revealed traits.
        generation: :class:`~llmrec.backends.base.GenerationParams` of the policy (default:
            greedy, 128 new tokens).
        system_prompt: Template of the policy's system message.
        assistant_template: Template of the replies when ``policy`` is ``None``.

    Returns:
        One :class:`Dialogue` per simulator, in order.
    """
    from llmrec.backends.base import GenerationParams
    from llmrec.prompts import render

    if n_turns < 1:
        raise ValueError(f"n_turns must be >= 1, got {n_turns}")
    system = render(system_prompt)
    generation = generation or GenerationParams(max_new_tokens=128, temperature=0.0)
    chats: list[Chat] = []
    dialogues = []
    for sim in simulators:
        sim.reset()
        chats.append([{"role": "system", "content": system}])
        dialogues.append(Dialogue(sim.user_id, list(sim.gold)))
    last: list[str | None] = [None] * len(simulators)
    for _ in range(n_turns):
        messages = step_all(simulators, last)
        prompts = []
        for chat, message in zip(chats, messages):
            chat.append({"role": "user", "content": message})
            prompts.append([dict(m) for m in chat])
        if policy is None:
            replies = [render(assistant_template, profile=sim.revealed) for sim in simulators]
        else:
            replies = list(policy.generate(prompts, generation))
        for sim, chat, dialogue, prompt, reply in zip(
            simulators, chats, dialogues, prompts, replies
        ):
            dialogue.turns.append(Turn(prompt, reply, list(sim.revealed)))
            chat.append({"role": "assistant", "content": reply})
        last = replies
    return dialogues


def grpo_dataset(dialogues: Sequence[Dialogue], turns: Sequence[int] | None = None):
    """A ``datasets.Dataset`` of GRPO prompts, one per user turn.

    Columns: ``prompt`` (the chat up to the user's message), ``gold_traits``,
    ``revealed_traits``, ``user_id``, ``turn`` (0-based).

    Args:
        dialogues: From :func:`rollout_dialogues`.
        turns: Keep only these turn numbers (default: all).
    """
    import datasets

    rows: dict[str, list] = {
        "prompt": [],
        "gold_traits": [],
        "revealed_traits": [],
        "user_id": [],
        "turn": [],
    }
    for dialogue in dialogues:
        for t, turn in enumerate(dialogue.turns):
            if turns is not None and t not in turns:
                continue
            rows["prompt"].append(turn.prompt)
            rows["gold_traits"].append(list(dialogue.gold))
            rows["revealed_traits"].append(list(turn.revealed))
            rows["user_id"].append(dialogue.user_id)
            rows["turn"].append(t)
    return datasets.Dataset.from_dict(rows)


def profile_f1_report(dialogues: Sequence[Dialogue], target: str = "gold") -> dict[str, Any]:
    """Format-gated profile F1 of the replies in ``dialogues``.

    Args:
        dialogues: Dialogues whose replies came from the policy under test.
        target: ``"gold"`` (all hidden traits, as RLPA) or ``"revealed"`` (traits said so far).

    Returns:
        ``profile_f1`` (mean over all turns), ``profile_f1_last_turn``, ``format_rate``,
        ``profile_f1_by_turn`` (list) and ``n_dialogues``.
    """
    if target not in ("gold", "revealed"):
        raise ValueError(f"target must be 'gold' or 'revealed', got {target!r}")
    n_turns = max((len(d.turns) for d in dialogues), default=0)
    scores = np.full((len(dialogues), n_turns), np.nan)
    valid = np.zeros((len(dialogues), n_turns))
    for i, dialogue in enumerate(dialogues):
        for t, turn in enumerate(dialogue.turns):
            reply = parse_reply(turn.reply)
            traits = dialogue.gold if target == "gold" else turn.revealed
            scores[i, t] = 0.0 if reply is None else profile_f1(reply.profile, traits)
            valid[i, t] = reply is not None
    if not scores.size:
        return {"profile_f1": 0.0, "n_dialogues": len(dialogues)}
    return {
        "profile_f1": float(np.nanmean(scores)),
        "profile_f1_last_turn": float(np.nanmean(scores[:, -1])),
        "format_rate": float(valid.mean()),
        "profile_f1_by_turn": [float(x) for x in np.nanmean(scores, axis=0)],
        "n_dialogues": len(dialogues),
    }


def warm_start_dataset(
    dialogues: Sequence[Dialogue], assistant_template: str = "rlpa/assistant_turn"
):
    """Prompt-completion rows teaching the reply format: each user turn of ``dialogues`` with
    a templated well-formed reply that lists exactly the traits revealed so far.

    A short supervised "cold start" on these before GRPO gives a small policy that never hits
    the format on its own some replies with non-zero reward, so GRPO has a signal.

    Returns:
        A ``datasets.Dataset`` with conversational ``prompt`` and ``completion`` columns (trl's
        prompt-completion format; the loss is on the completion only).
    """
    import datasets

    from llmrec.prompts import render

    prompts, completions = [], []
    for dialogue in dialogues:
        for turn in dialogue.turns:
            reply = render(assistant_template, profile=turn.revealed)
            prompts.append(turn.prompt)
            completions.append([{"role": "assistant", "content": reply}])
    return datasets.Dataset.from_dict({"prompt": prompts, "completion": completions})
