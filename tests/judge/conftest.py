"""Judge test fixtures: one real SmolLM2 backend per session, and scripted backends.

The scripted backends are deterministic test doubles of the Backend protocol: they answer from
the rendered prompt (e.g. "prefer the item whose title contains X") so that order swapping,
parsing, repair and the agreement statistics can be checked against exact expected values.
The real-model behaviour is covered with ``judge_backend``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pytest

from llmrec.backends.base import GenerationParams, UsageStats
from llmrec.data.records import Interaction, InteractionDataset, Item


@pytest.fixture(scope="session")
def judge_backend(smollm2):
    from llmrec.backends.hf import TransformersBackend

    model, tokenizer = smollm2
    return TransformersBackend.from_model(model, tokenizer, batch_size=16)


class ScriptedBackend:
    """Backend double: ``reply(chat_text) -> str`` and ``pick(chat_text, candidates) -> str``.

    ``next_token_logprobs`` puts log(0.9) on the picked candidate and spreads 0.1 over the
    others; every call is recorded in ``calls`` as ``(method, [user message texts])``.
    """

    fingerprint = "scripted"

    def __init__(
        self,
        reply: Callable[[str], str] | None = None,
        pick: Callable[[str, Sequence[str]], str] | None = None,
    ) -> None:
        self.reply = reply or (lambda text: "")
        self.pick = pick or (lambda text, cands: cands[0])
        self.calls: list[tuple[str, list[str]]] = []
        self.usage = UsageStats()

    @staticmethod
    def text(chat) -> str:
        return "\n".join(m["content"] for m in chat)

    def generate(self, chats, params: GenerationParams | None = None) -> list[str]:
        texts = [self.text(c) for c in chats]
        self.calls.append(("generate", texts))
        return [self.reply(t) for t in texts]

    def next_token_logprobs(self, chats, candidates) -> np.ndarray:
        texts = [self.text(c) for c in chats]
        self.calls.append(("next_token_logprobs", texts))
        out = np.full((len(chats), len(candidates)), np.log(0.1 / max(1, len(candidates) - 1)))
        for k, t in enumerate(texts):
            out[k, list(candidates).index(self.pick(t, candidates))] = np.log(0.9)
        return out

    def score_continuations(self, chats, continuations):
        raise ValueError("ScriptedBackend does not score continuations")


def option_titles(text: str) -> tuple[str, str]:
    """Titles shown as option 1 and option 2 in a rendered pairwise prompt."""
    titles = re.findall(r"Title: <<<(.*?)>>>", text)
    return titles[0], titles[1]


@pytest.fixture
def scripted():
    return ScriptedBackend


@pytest.fixture(scope="session")
def small_world():
    """Two users, six items, hand-made, for prompt and plumbing tests."""
    items = [
        Item("1", "Toy Story", genres=("Animation", "Comedy"), year=1995),
        Item("2", "The Shining", genres=("Horror",), year=1980),
        Item("3", "Aladdin", genres=("Animation", "Musical"), year=1992),
        Item("4", "Alien", genres=("Horror", "Sci-Fi"), year=1979),
        Item("5", "Babe", genres=("Comedy",), year=1995),
        Item("6", "Scream", genres=("Horror",), year=1996),
    ]
    interactions = [
        Interaction("u1", "3", 1.0, 5.0),
        Interaction("u1", "5", 2.0, 4.0),
        Interaction("u2", "4", 1.0, 5.0),
        Interaction("u2", "6", 2.0, 4.0),
    ]
    dataset = InteractionDataset(items, interactions, name="small")
    profiles = {
        "u1": "Loves animated family films and gentle comedies. Avoids horror.",
        "u2": "Loves horror and dark science fiction. Finds family comedies boring.",
    }
    return dataset, profiles
