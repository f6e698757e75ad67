"""Full-ranking evaluation with users partitioned over Ray workers, merged exactly.

Each worker ranks the whole catalogue for its part of the users (the same
:func:`~llmrec.evaluation.protocols.full_ranking` as one process, with the part's offset so that
random tie-breaking draws the same numbers). The driver concatenates the parts' ranks, candidate
counts and top-k lists in user order and computes every metric once on the merged arrays, so
per-user values, AUC, coverage and Gini equal the single-process result; nothing is averaged
across workers.

Example:
    >>> result = evaluate_recommender_ray(EASE().fit(split.train), split.train, split.test,
    ...                                   ["ndcg@10", "auc", "coverage@10"], RayEngine(workers=4))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from llmrec.data.records import InteractionDataset
from llmrec.engines.ray_pool import RayEngine, connect
from llmrec.evaluation.evaluator import SystemResult, Targets, compute_metrics, heldout_targets
from llmrec.evaluation.protocols import FullRanking, RankingOutput, full_ranking
from llmrec.metrics.registry import parse_metric


def partition(n_users: int, parts: int, align: int) -> list[tuple[int, int]]:
    """``[start, stop)`` ranges covering ``n_users`` in at most ``parts`` pieces of whole chunks.

    Boundaries fall on multiples of ``align`` (the protocol's chunk size), so each worker
    scores the same user chunks one process would.
    """
    if parts < 1 or align < 1:
        raise ValueError(f"parts and align must be >= 1, got {parts} and {align}")
    chunks = -(-n_users // align)
    per = -(-chunks // parts) * align
    return [(s, min(s + per, n_users)) for s in range(0, n_users, per)]


def _rank_part(
    recommender: Any,
    users: np.ndarray,
    targets: np.ndarray,
    n_items: int,
    protocol: FullRanking,
    train_matrix: Any,
    k_max: int,
    offset: int,
) -> RankingOutput:
    return full_ranking(
        recommender.score, users, targets, n_items, protocol, train_matrix, k_max, offset=offset
    )


def evaluate_recommender_ray(
    recommender: Any,
    train: InteractionDataset,
    heldout: InteractionDataset,
    metrics: Sequence[str],
    engine: RayEngine,
    protocol: FullRanking | None = None,
    targets: Targets | None = None,
    k_max: int | None = None,
    item_embeddings: np.ndarray | None = None,
    name: str | None = None,
) -> SystemResult:
    """:func:`~llmrec.evaluation.evaluate_recommender` (full ranking) over Ray workers.

    Args:
        recommender: A fitted recommender (``score(user_idx) -> (n, n_items)``); it is shipped
            to the workers once through Ray's object store.
        train: The data it was fitted on.
        heldout: Held-out interactions.
        metrics: Metric names (``"ndcg@10"``, ``"auc"``, ``"coverage@10"``, ``"gini@10"``...).
        engine: Cluster settings; ``engine.workers`` parts of whole chunks.
        protocol: :class:`FullRanking` settings.
        targets: Precomputed targets (to share one user order across systems).
        k_max: Length of the kept top-k lists (default: largest cut-off asked, at least 10).
        item_embeddings: Item vectors for ``ild@k``.
        name: Label (default ``recommender.name``).
    """
    protocol = protocol or FullRanking()
    if not isinstance(protocol, FullRanking):
        raise TypeError(f"the Ray evaluation runs FullRanking only, got {type(protocol).__name__}")
    targets = targets or heldout_targets(heldout)
    n_items = len(train.item_ids)
    label = name or getattr(recommender, "name", type(recommender).__name__)
    if k_max is None:
        k_max = max([parse_metric(m)[1] or 0 for m in metrics] + [10])
    k_max = min(k_max, n_items)
    start = time.perf_counter()
    ray = connect(engine)
    train_matrix = train.interaction_matrix(binary=True)
    rec_ref, matrix_ref = ray.put(recommender), ray.put(train_matrix)
    rank = ray.remote(num_cpus=engine.cpus_per_worker, num_gpus=engine.gpus_per_worker)(_rank_part)
    parts = partition(len(targets.users), engine.workers, protocol.chunk_size)
    futures = [
        rank.remote(
            rec_ref,
            targets.users[a:b],
            targets.items[a:b],
            n_items,
            protocol,
            matrix_ref,
            k_max,
            a,
        )  # fmt: skip
        for a, b in parts
    ]
    outputs = ray.get(futures)
    ranking = RankingOutput(
        ranks=np.concatenate([o.ranks for o in outputs]),  # (n_users, R)
        n_candidates=np.concatenate([o.n_candidates for o in outputs]),  # (n_users,)
        topk=np.concatenate([o.topk for o in outputs]),  # (n_users, k_max)
    )
    per_user, catalog = compute_metrics(metrics, ranking, train, targets.gains, item_embeddings)
    config = recommender.config() if hasattr(recommender, "config") else {}
    return SystemResult(
        name=label,
        users=targets.users,
        per_user=per_user,
        catalog=catalog,
        topk=ranking.topk,
        protocol={**protocol.describe(), "engine": "ray", "workers": len(parts)},
        config=config,
        seconds={"evaluate": time.perf_counter() - start},
    )


def ray_evaluate_fn(engine: RayEngine):
    """An ``evaluate_fn`` for :func:`~llmrec.evaluation.suite.run_suite`: full ranking on Ray,
    the sampled protocol (cheap per user) in this process."""
    from llmrec.evaluation.evaluator import evaluate_recommender

    def evaluate(
        rec, train, heldout, metrics, protocol, targets, k_max, embeddings, name, progress
    ):
        if protocol is not None and not isinstance(protocol, FullRanking):
            return evaluate_recommender(
                rec, train, heldout, metrics, protocol, targets, k_max, embeddings, name, progress
            )
        return evaluate_recommender_ray(
            rec, train, heldout, metrics, engine, protocol, targets, k_max, embeddings, name
        )

    return evaluate
