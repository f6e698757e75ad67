"""Seeded sampling that does not depend on batch mates, as a transformers logits processor.

Ordinary sampling draws every row of a batch from one random stream, so a prompt's sampled reply
changes with the prompts batched beside it, with the batch size and with the order of requests;
caches, resumed jobs and sharded jobs then disagree with an uninterrupted run. Here each row
draws from its own stream, seeded by ``(seed, prompt tokens, sample index, step)``: the
Gumbel-max trick (``argmax(logits / T + Gumbel noise)`` is a draw from ``softmax(logits / T)``)
turns greedy decoding into sampling whose result depends on that row alone.

Example:
    >>> processor = RowSeededSampler(row_seeds=[11, 12], temperature=0.8, top_p=0.95)
    >>> model.generate(**batch, do_sample=False, logits_processor=LogitsProcessorList([processor]))
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import torch

MASK = 2**63 - 1


def row_seed(seed: int, prompt_ids: Sequence[int], sample: int) -> int:
    """A 63-bit seed from the request seed, the prompt's token ids and the sample index."""
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{seed}:{sample}:".encode())
    digest.update(torch.tensor(list(prompt_ids), dtype=torch.int64).numpy().tobytes())
    return int.from_bytes(digest.digest(), "little") & MASK


class RowSeededSampler:
    """Temperature, top-p and per-row Gumbel noise; use with greedy decoding.

    Args:
        row_seeds: One seed per batch row (see :func:`row_seed`).
        temperature: Softmax temperature, > 0.
        top_p: Nucleus mass in (0, 1]; tokens outside the nucleus get ``-inf``.
    """

    def __init__(self, row_seeds: Sequence[int], temperature: float, top_p: float = 1.0) -> None:
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0 for sampling, got {temperature}")
        self.row_seeds = list(row_seeds)
        self.temperature = temperature
        self.top_p = top_p
        self.step = 0

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        # input_ids: (rows, length); scores: (rows, vocab)
        scores = scores.float() / self.temperature
        if self.top_p < 1.0:
            sorted_scores, order = scores.sort(dim=-1, descending=True)
            cumulative = sorted_scores.softmax(dim=-1).cumsum(dim=-1)
            drop = cumulative - sorted_scores.softmax(dim=-1) >= self.top_p  # keeps the top token
            scores = scores.scatter(-1, order, sorted_scores.masked_fill(drop, -float("inf")))
        noise = torch.empty_like(scores)  # (rows, vocab)
        for row, seed in enumerate(self.row_seeds):
            generator = torch.Generator(device=scores.device)
            generator.manual_seed((seed + self.step * 0x9E3779B97F4A7C15) & MASK)
            uniform = torch.rand(
                scores.shape[-1], generator=generator, device=scores.device, dtype=torch.float32
            )
            noise[row] = -torch.log(-torch.log(uniform.clamp(min=1e-20, max=1 - 1e-7)))
        self.step += 1
        return scores + noise
