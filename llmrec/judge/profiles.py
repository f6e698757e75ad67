"""Profiles for the judge, from :mod:`llmrec.profiles` (built from training history only).

The judge takes profiles as ``dict[user_id, text]``. These helpers load a profile JSONL written
by ``llmrec profile`` / :func:`llmrec.profiles.run_profile_job`, or build the missing ones with
the same job (resumable: a rerun reuses the file).

Example:
    >>> profiles = build_profiles(backend, split.train, ["1", "2"], "runs/judge/profiles.jsonl")  # doctest: +SKIP
    >>> profiles["1"][:40]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

from llmrec.backends.base import Backend
from llmrec.data.records import InteractionDataset

logger = logging.getLogger(__name__)


def load_profiles(path: str | os.PathLike) -> dict[str, str]:
    """``user_id -> profile text``; failed records map to ``""`` (counted in a log line)."""
    from llmrec.profiles import read_profiles

    records = read_profiles(path)
    failed = sum(not r.ok for r in records.values())
    if failed:
        logger.warning(
            "%s: %d of %d profiles failed; the judge sees them empty", path, failed, len(records)
        )
    return {uid: (r.text if r.ok else "") for uid, r in records.items()}


def build_profiles(
    backend: Backend,
    train: InteractionDataset,
    user_ids: Sequence[str],
    path: str | os.PathLike,
    strategy: str = "recent",
    progress: bool = False,
) -> dict[str, str]:
    """Profiles of ``user_ids`` from ``train``, written to (and resumed from) ``path``.

    Args:
        backend: Generates the profiles.
        train: Training interactions only (``split.train``).
        user_ids: Users to profile.
        path: JSONL file of profile records.
        strategy: Profile strategy name (``"recent"``: the last 20 interactions, the same window
            the judge's raw-history view shows, so the profile/history ablation is fair).
        progress: Progress bar.
    """
    from llmrec.profiles import ProfileBuilder, run_profile_job

    builder = ProfileBuilder(backend, strategy=strategy)
    run_profile_job(builder, train, list(user_ids), path, progress=progress, shard=(0, 1))
    profiles = load_profiles(path)
    return {u: profiles[u] for u in user_ids if u in profiles}
