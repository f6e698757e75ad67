"""A simulated user that holds a hidden profile and reveals a little of it per turn (RLPA).

The simulator knows the user's gold traits (from :mod:`llmrec.data.synthetic` or any list of
trait lines). Each turn, its :class:`RevealPolicy` picks the next few traits to reveal (seeded,
so a run is reproducible) and the simulator writes a message: from the template
``prompts/rlpa/user_turn`` by default, or by a backend role-playing the user
(``prompts/rlpa/simulator``).

Example:
    >>> sim = UserSimulator(["likes Drama", "dislikes Horror"], RevealPolicy(order="given"))
    >>> sim.step()
    'Hi! I like Drama. What should I watch?'
    >>> sim.revealed
    ['likes Drama']
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

ORDERS = ("given", "shuffled")


@dataclass(frozen=True)
class RevealPolicy:
    """How much of the hidden profile a simulated user reveals, and when.

    Args:
        traits_per_turn: Traits revealed per (non-silent) turn.
        order: ``"given"`` (the gold profile's order: liked genres first) or ``"shuffled"``
            (a seeded permutation per user).
        silent_prob: Chance that a turn reveals nothing (small talk), drawn per turn.
        seed: Seed; combined with the user id, so each user gets their own stream.
    """

    traits_per_turn: int = 1
    order: str = "shuffled"
    silent_prob: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if self.traits_per_turn < 1:
            raise ValueError(f"traits_per_turn must be >= 1, got {self.traits_per_turn}")
        if self.order not in ORDERS:
            raise ValueError(f"order must be one of {ORDERS}, got {self.order!r}")
        if not 0.0 <= self.silent_prob < 1.0:
            raise ValueError(f"silent_prob must be in [0, 1), got {self.silent_prob}")


def gold_traits(gold_profile: Any) -> list[str]:
    """Trait lines of a gold profile: ``GoldProfile.traits()``, or a list of strings as is."""
    if hasattr(gold_profile, "traits"):
        return list(gold_profile.traits())
    if isinstance(gold_profile, str) or not isinstance(gold_profile, Sequence):
        raise TypeError(
            f"gold_profile must be a GoldProfile or a list of trait strings, got "
            f"{type(gold_profile).__name__}"
        )
    return [str(t) for t in gold_profile]


class UserSimulator:
    """One simulated user in a dialogue.

    Args:
        gold_profile: A :class:`~llmrec.data.synthetic.GoldProfile` or a list of trait lines.
        reveal_policy: :class:`RevealPolicy` (default: one trait per turn, shuffled, seed 0).
        backend: Optional :class:`~llmrec.backends.base.Backend` that writes the user's
            messages in its own words; ``None`` uses the ``prompts/rlpa/user_turn`` template.
        user_id: Label, also mixed into the seed (default: the profile's ``user_id``).
        template: Template of templated messages.
        backend_prompt: Template of the role-play prompt given to ``backend``.
        generation: :class:`~llmrec.backends.base.GenerationParams` for ``backend``.

    Attributes:
        traits: All gold traits, in reveal order.
        revealed: Traits revealed so far.
        turn: Messages written so far.
    """

    def __init__(
        self,
        gold_profile: Any,
        reveal_policy: RevealPolicy | None = None,
        backend: Any = None,
        user_id: str | None = None,
        template: str = "rlpa/user_turn",
        backend_prompt: str = "rlpa/simulator",
        generation: Any = None,
    ) -> None:
        self.policy = reveal_policy or RevealPolicy()
        self.user_id = str(user_id or getattr(gold_profile, "user_id", "user"))
        self.gold = gold_traits(gold_profile)
        if not self.gold:
            raise ValueError(f"user {self.user_id!r}: the gold profile has no traits")
        self.backend = backend
        self.template = template
        self.backend_prompt = backend_prompt
        self.generation = generation
        self.reset()

    def reset(self) -> None:
        """Start the dialogue over, with the same reveal order and silent turns."""
        seed = [self.policy.seed, zlib.crc32(self.user_id.encode())]
        self._rng = np.random.default_rng(seed)
        order = np.arange(len(self.gold))
        if self.policy.order == "shuffled":
            order = self._rng.permutation(len(self.gold))
        self.traits = [self.gold[i] for i in order]
        self.revealed: list[str] = []
        self.turn = 0

    @property
    def done(self) -> bool:
        """Every trait has been revealed."""
        return len(self.revealed) == len(self.traits)

    def next_traits(self) -> list[str]:
        """Pick this turn's traits (advancing the reveal state); empty on a silent turn."""
        silent = self.policy.silent_prob > 0 and self._rng.random() < self.policy.silent_prob
        if silent or self.done:
            return []
        start = len(self.revealed)
        new = self.traits[start : start + self.policy.traits_per_turn]
        self.revealed.extend(new)
        return new

    def step(self, assistant_message: str | None = None) -> str:
        """The user's next message, revealing the next traits.

        Args:
            assistant_message: The assistant's last reply (used by a backend simulator).
        """
        new = self.next_traits()
        if self.backend is None:
            from llmrec.prompts import render

            text = render(self.template, traits=new, turn=self.turn)
        else:
            text = self.utterances_from_backend([self], [new], [assistant_message])[0]
        self.turn += 1
        return text

    @staticmethod
    def utterances_from_backend(
        simulators: Sequence[UserSimulator],
        new_traits: Sequence[list[str]],
        assistant_messages: Sequence[str | None],
    ) -> list[str]:
        """Messages for several simulators sharing one backend, in one batched call."""
        from llmrec.backends.base import GenerationParams
        from llmrec.prompts import render_chat

        backend = simulators[0].backend
        chats = [
            render_chat(sim.backend_prompt, traits=sim.gold, new=new, assistant=msg or "")
            for sim, new, msg in zip(simulators, new_traits, assistant_messages)
        ]
        params = simulators[0].generation or GenerationParams(max_new_tokens=48, temperature=0.0)
        return [text.strip() for text in backend.generate(chats, params)]


def step_all(
    simulators: Sequence[UserSimulator], assistant_messages: Sequence[str | None] | None = None
) -> list[str]:
    """Advance every simulator one turn; backend simulators sharing a backend batch together."""
    assistant_messages = list(assistant_messages or [None] * len(simulators))
    out: list[str | None] = [None] * len(simulators)
    batched: dict[int, list[int]] = {}
    for i, sim in enumerate(simulators):
        if sim.backend is None:
            out[i] = sim.step(assistant_messages[i])
        else:
            batched.setdefault(id(sim.backend), []).append(i)
    for rows in batched.values():
        sims = [simulators[i] for i in rows]
        news = [sim.next_traits() for sim in sims]
        texts = UserSimulator.utterances_from_backend(
            sims, news, [assistant_messages[i] for i in rows]
        )
        for i, sim, text in zip(rows, sims, texts):
            out[i] = text
            sim.turn += 1
    return [str(t) for t in out]
