"""Several sampled profiles per user, for preference training (LettinGo-style DPO).

Example:
    >>> from llmrec.profiles import sample_profiles
    >>> samples = sample_profiles(backend, split.train, ["1", "2"], n=4, temperature=1.0, seed=0)
    >>> len(samples["1"])
    4
"""

from __future__ import annotations

from collections.abc import Sequence

from llmrec.backends.base import Backend, GenerationParams
from llmrec.data.records import InteractionDataset
from llmrec.profiles.builder import ProfileBuilder
from llmrec.profiles.schema import ProfileRecord
from llmrec.profiles.strategies import Strategy


def sample_profile_records(
    backend: Backend,
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    n: int,
    temperature: float = 1.0,
    seed: int = 0,
    strategy: Strategy | str = "whole",
    format: str = "free",  # noqa: A002 - the user-facing name
    max_new_tokens: int | None = None,
) -> dict[str, list[ProfileRecord]]:
    """Like :func:`sample_profiles`, returning the full records (status, raw text, provenance)."""
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if temperature <= 0:
        raise ValueError(f"sampling needs temperature > 0, got {temperature}")
    params = GenerationParams(max_new_tokens=max_new_tokens) if max_new_tokens else None
    builder = ProfileBuilder(backend, strategy=strategy, format=format, params=params)
    return builder.sample(dataset, user_ids, n=n, temperature=temperature, seed=seed)


def sample_profiles(
    backend: Backend,
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    n: int,
    temperature: float = 1.0,
    seed: int = 0,
    strategy: Strategy | str = "whole",
    format: str = "free",  # noqa: A002 - the user-facing name
    max_new_tokens: int | None = None,
) -> dict[str, list[str]]:
    """``n`` profiles per user sampled at ``temperature``: user id -> list of ``n`` texts.

    All users' prompts go to the backend in one batched call. With the transformers backend a
    user's samples depend only on ``seed``, the prompt and the sample index, so a re-run, a
    different batch or a sharded run gives the same texts.

    A sample that is not a valid profile (an empty reply; for ``format="structured"`` one
    that fails validation after repairs) is returned as the model's raw text, so there are
    always ``n`` entries; use :func:`sample_profile_records` to see each sample's status.

    Args:
        backend: Any backend.
        dataset: Training interactions only (``split.train``).
        user_ids: Users to sample for.
        n: Samples per user.
        temperature: Sampling temperature (> 0).
        seed: Sampling seed.
        strategy: Strategy object or name (default ``"whole"``).
        format: ``"free"`` or ``"structured"`` (texts are then :meth:`StructuredProfile.to_text`).
        max_new_tokens: Reply budget (default by format).
    """
    records = sample_profile_records(
        backend, dataset, user_ids, n, temperature, seed, strategy, format, max_new_tokens
    )
    return {uid: [r.text if r.ok else r.raw for r in rs] for uid, rs in records.items()}
