"""Fixtures of the profile tests: a small hand-made dataset, backends."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams, UsageStats
from llmrec.data.records import Interaction, InteractionDataset, Item

DAY = 86400.0


class ScriptedBackend:
    """A backend whose replies are given in advance, recording every chat it was sent.

    It implements the protocol for real (batched lists in, lists out) so that the repair loop
    and record keeping can be checked against exact replies that no real model guarantees.
    """

    fingerprint = "scripted:v1"

    def __init__(self, reply):
        self.reply = reply  # callable(chat, sample_index) -> str
        self.chats: list = []
        self.usage = UsageStats()

    def generate(self, chats, params=None):
        params = params or GenerationParams()
        self.chats.extend(chats)
        self.usage.calls += 1
        self.usage.prompts += len(chats)
        return [self.reply(chat, j) for chat in chats for j in range(params.n)]

    def next_token_logprobs(self, chats, candidates):
        return np.zeros((len(chats), len(candidates)), dtype=np.float32)

    def score_continuations(self, chats, continuations):
        return [np.zeros(len(c), dtype=np.float32) for c in continuations]


@pytest.fixture
def scripted():
    return ScriptedBackend


@pytest.fixture(scope="session")
def small_dataset() -> InteractionDataset:
    """Three users: ``a`` with 10 items a day apart, ``b`` with 3, ``c`` with none."""
    genres = ["Comedy", "Drama", "Horror", "Sci-Fi", "Romance"]
    items = [
        Item(
            str(i), f"Film {i}", genres=(genres[i % 5],), year=1990 + i, attributes={"mood": "dark"}
        )
        for i in range(12)
    ]
    rows = [Interaction("a", str(i), timestamp=i * DAY, rating=float(1 + i % 5)) for i in range(10)]
    rows += [Interaction("b", str(i), timestamp=100 * DAY + i, rating=4.0) for i in (3, 7, 11)]
    from llmrec.data.records import User

    return InteractionDataset(items, rows, users=[User("c")], name="small")


@pytest.fixture(scope="session")
def tiny_profile_backend(tiny_llama_path):
    from llmrec.backends.hf import TransformersBackend

    return TransformersBackend(tiny_llama_path, device="cpu", batch_size=8)


SAMPLED = GenerationParams(max_new_tokens=12, temperature=1.0, seed=0)
