"""The backend protocol: batch generation and batch scoring over chats.

Everything above the backends (profiles, judge, rerankers, training data builders) talks to this
protocol only, so the same job runs on transformers in-process, an OpenAI-compatible server
(vLLM, TGI, Ollama, llama.cpp, OpenAI) or vLLM offline.

A *chat* is a list of ``{"role": ..., "content": ...}`` messages; backends apply the model's chat
template with the generation prompt added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

Chat = list[dict[str, str]]


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters. ``temperature == 0`` means greedy decoding.

    Args:
        max_new_tokens: Upper bound on generated tokens per reply.
        temperature: Softmax temperature; 0 for greedy.
        top_p: Nucleus sampling mass.
        seed: Seed for sampling; with the same seed and inputs a backend returns the same text.
        n: Replies per chat (returned flattened: chat 0's n replies first).
        stop: Extra stop strings; the reply is cut before the first one.
        repetition_penalty: Divides the logits of tokens already in the sequence (CTRL-style,
            1.0 = off). Sent to HTTP servers only when not 1.0 (vLLM, TGI and llama.cpp take
            it; OpenAI's API does not).
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = field(default_factory=tuple)
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if self.temperature < 0:
            raise ValueError(f"temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.n < 1:
            raise ValueError(f"n must be >= 1, got {self.n}")
        if self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0, got {self.repetition_penalty}")


@dataclass
class UsageStats:
    """Running totals a backend keeps, for progress and benchmarks."""

    calls: int = 0
    prompts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cache_hits: int = 0


@runtime_checkable
class Backend(Protocol):
    """What every backend provides. All methods take and return batches.

    Attributes:
        fingerprint: Stable id of model + backend settings, used as the response-cache key.
        usage: Running :class:`UsageStats`.
    """

    fingerprint: str
    usage: UsageStats

    def generate(self, chats: Sequence[Chat], params: GenerationParams | None = None) -> list[str]:
        """One reply per chat (``params.n`` replies per chat, flattened in chat order)."""
        ...

    def next_token_logprobs(self, chats: Sequence[Chat], candidates: Sequence[str]) -> np.ndarray:
        """Log-probabilities of candidate next tokens right after each chat's generation prompt.

        Each candidate string must be a single token for the model (``"1"``..``"5"``, ``"Yes"``);
        a backend raises ``ValueError`` naming a candidate that is not. Returns an array of shape
        ``(len(chats), len(candidates))`` of log-probabilities under the full vocabulary
        (not renormalised over the candidates), from one forward pass per batch.
        """
        ...

    def score_continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Summed log-probability of each candidate continuation after each chat's prompt.

        ``continuations[i]`` is the list of candidate replies for ``chats[i]``; the result's
        ``i``-th array has one entry per candidate (shape ``(len(continuations[i]),)``).
        """
        ...


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """``text`` up to (not including) the first occurrence of any stop string."""
    cut = len(text)
    for s in stop:
        pos = text.find(s) if s else -1
        if pos != -1:
            cut = min(cut, pos)
    return text[:cut]
