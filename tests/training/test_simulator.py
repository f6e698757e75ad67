"""The simulated user: what it reveals, when, in what words, reproducibly."""

from __future__ import annotations

import pytest

from llmrec.backends.base import GenerationParams, UsageStats
from llmrec.training.grpo.simulator import RevealPolicy, UserSimulator, gold_traits, step_all

TRAITS = ["likes Drama", "dislikes Horror", "likes dark films", "prefers older classics"]


class RecordingBackend:
    """A backend double that records the chats it gets and answers with numbered messages."""

    fingerprint = "recording"

    def __init__(self) -> None:
        self.calls: list[list] = []
        self.usage = UsageStats()

    def generate(self, chats, params=None):
        self.calls.append(list(chats))
        return [f"  message {i}  " for i in range(len(chats))]


def test_given_order_reveals_traits_per_turn_then_nothing():
    sim = UserSimulator(TRAITS, RevealPolicy(traits_per_turn=3, order="given"))
    first = sim.step()
    assert sim.revealed == TRAITS[:3]
    assert first == "Hi! I like Drama. I don't like Horror. I like dark films. What should I watch?"
    second = sim.step()
    assert sim.revealed == TRAITS and sim.done
    assert "I prefer older classics." in second
    third = sim.step()
    assert sim.revealed == TRAITS
    assert not any(word in third for word in ("Drama", "Horror", "dark", "classics"))


def test_messages_never_mention_unrevealed_traits():
    sim = UserSimulator(TRAITS, RevealPolicy(seed=3), user_id="u9")
    for _ in range(len(TRAITS)):
        message = sim.step()
        hidden = [t.split()[-1] for t in sim.traits if t not in sim.revealed]
        assert not any(word in message for word in hidden)


def test_reveal_order_is_seeded_per_user_and_reset_replays_it():
    a = UserSimulator(TRAITS, RevealPolicy(seed=1), user_id="u1")
    b = UserSimulator(TRAITS, RevealPolicy(seed=1), user_id="u1")
    assert a.traits == b.traits and sorted(a.traits) == sorted(TRAITS)
    messages = [a.step() for _ in range(4)]
    a.reset()
    assert [a.step() for _ in range(4)] == messages
    orders = {
        tuple(UserSimulator(TRAITS, RevealPolicy(seed=1), user_id=f"u{i}").traits)
        for i in range(12)
    }
    assert len(orders) > 1  # users get their own order


def test_silent_turns_reveal_nothing_and_are_reproducible():
    policy = RevealPolicy(order="given", silent_prob=0.5, seed=7)
    sim = UserSimulator(TRAITS, policy, user_id="x")
    counts = []
    for _ in range(8):
        sim.step()
        counts.append(len(sim.revealed))
    steps = [b - a for a, b in zip([0, *counts], counts)]
    assert set(steps) <= {0, 1} and 0 in steps[:4]
    sim.reset()
    again = []
    for _ in range(8):
        sim.step()
        again.append(len(sim.revealed))
    assert again == counts


def test_gold_profile_from_the_synthetic_world():
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    world = generate_world(SyntheticConfig(n_users=5, n_items=40, seed=0))
    uid = world.dataset.user_ids[0]
    sim = UserSimulator(world.gold[uid], RevealPolicy(order="given"))
    assert sim.user_id == uid and sim.traits == world.gold[uid].traits()


def test_backend_simulator_batches_and_sees_new_traits_and_assistant():
    backend = RecordingBackend()
    sims = [
        UserSimulator(TRAITS, RevealPolicy(order="given"), backend, user_id=f"u{i}")
        for i in range(3)
    ]
    texts = step_all(sims, ["Hello there", None, "Hi"])
    assert texts == ["message 0", "message 1", "message 2"]
    assert len(backend.calls) == 1 and len(backend.calls[0]) == 3  # one batched call
    system, user = backend.calls[0][0]
    assert "reveal only these preferences, in your own words: likes Drama." in system["content"]
    assert "Hello there" in user["content"]
    assert all(s.revealed == ["likes Drama"] and s.turn == 1 for s in sims)
    sims[0].generation = GenerationParams(max_new_tokens=8)
    assert sims[0].step() == "message 0" and sims[0].revealed == TRAITS[:2]


def test_invalid_inputs_name_the_field():
    with pytest.raises(ValueError, match="traits_per_turn"):
        RevealPolicy(traits_per_turn=0)
    with pytest.raises(ValueError, match="order"):
        RevealPolicy(order="random")
    with pytest.raises(ValueError, match="silent_prob"):
        RevealPolicy(silent_prob=1.0)
    with pytest.raises(ValueError, match="no traits"):
        UserSimulator([], user_id="empty")
    with pytest.raises(TypeError, match="gold_profile"):
        gold_traits("likes Drama")
