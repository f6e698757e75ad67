"""Profile, judge and user-embedding jobs on the Ray engine: shards in, Parquet shards out.

Each job takes a *factory* (a picklable callable that builds the builder, judge or encoder
inside a worker, so the model loads once per actor and never in the driver), runs
:func:`~llmrec.engines.ray_pool.run_plan`, then merges the shards into the same output the
single-process job writes:

* :func:`profile_job`: a profiles JSONL identical to :func:`llmrec.profiles.run_profile_job`'s
  (same records, same order), from ``<out>.shards/``.
* :func:`judge_job`: :class:`~llmrec.judge.pointwise.PointwiseJudgment` per ``(user, item)``
  pair, in pair order.
* :func:`embed_users_job`: an :class:`~llmrec.embeddings.store.EmbeddingTable` of the users.

Example:
    >>> from functools import partial
    >>> make = partial(make_profile_builder, "smollm2-135m-instruct", strategy="recent")
    >>> profile_job(make, split.train, users, "profiles.jsonl", RayEngine(workers=2))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from llmrec.engines.ray_pool import RayEngine, run_plan
from llmrec.engines.shards import KEY, ShardPlan

if TYPE_CHECKING:
    from llmrec.context import UserContext
    from llmrec.data.records import InteractionDataset, Item
    from llmrec.embeddings.encoder import UserEncoder
    from llmrec.embeddings.store import EmbeddingTable
    from llmrec.judge.pointwise import PointwiseJudge, PointwiseJudgment
    from llmrec.profiles.builder import ProfileBuilder
    from llmrec.profiles.schema import ProfileRecord


def shards_dir(out: str | os.PathLike) -> Path:
    """``<out>.shards``: where a Ray job keeps its Parquet shards."""
    out = Path(out)
    return out.with_name(out.name + ".shards")


@dataclass(frozen=True)
class RayJobResult:
    """What a Ray job did.

    Args:
        path: The merged output.
        total: Keys (users, pairs) in the output.
        shards: Shards in the plan.
        ran: Shards this run computed (the rest were finished before).
    """

    path: Path
    total: int
    shards: int
    ran: int


# -- factories: built inside each worker, so models never load in the driver ---------------


def make_profile_builder(
    model: str,
    backend_kwargs: dict[str, Any] | None = None,
    cache: str | None = None,
    **builder_kwargs: Any,
) -> ProfileBuilder:
    """A :class:`ProfileBuilder` over ``load_backend(model, cache, **backend_kwargs)``.

    Use it through ``functools.partial`` as a job's ``make_builder``.
    """
    from llmrec.backends import load_backend
    from llmrec.profiles.builder import ProfileBuilder

    return ProfileBuilder(
        load_backend(model, cache=cache, **(backend_kwargs or {})), **builder_kwargs
    )


def make_pointwise_judge(
    model: str,
    context: UserContext,
    backend_kwargs: dict[str, Any] | None = None,
    cache: str | None = None,
    **judge_kwargs: Any,
) -> PointwiseJudge:
    """A :class:`PointwiseJudge` over ``load_backend(model, ...)`` seeing ``context``."""
    from llmrec.backends import load_backend
    from llmrec.judge.pointwise import PointwiseJudge

    backend = load_backend(model, cache=cache, **(backend_kwargs or {}))
    return PointwiseJudge(backend, context, **judge_kwargs)


def make_user_encoder(model: str, device: str | None = None, **kwargs: Any):
    """The saved user encoder at ``model`` (plain or residual), for ``embed_users_job``."""
    from llmrec.embeddings.residual import load_user_model

    return load_user_model(model, device=device, **kwargs)


# -- profiles ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ProfileWorker:
    make_builder: Callable[[], ProfileBuilder]
    dataset: InteractionDataset
    batch_size: int

    def __call__(self) -> Callable[[list[str]], list[dict[str, Any]]]:
        builder = self.make_builder()

        def work(users: list[str]) -> list[dict[str, Any]]:
            rows = []
            # The same batches as run_profile_job (shard size a multiple of batch_size), so
            # batched greedy decoding sees the same padding and gives the same text.
            for start in range(0, len(users), self.batch_size):
                for record in builder.build(self.dataset, users[start : start + self.batch_size]):
                    row = record.to_dict()
                    row["structured"] = json.dumps(row["structured"], ensure_ascii=False)
                    rows.append({KEY: record.user_id, **row})
            return rows

        return work


def _profile_record(row: dict[str, Any], where: str) -> ProfileRecord:
    from llmrec.profiles.schema import ProfileRecord

    data = {k: v for k, v in row.items() if k != KEY}
    data["structured"] = json.loads(data["structured"]) if data.get("structured") else None
    return ProfileRecord.from_dict(data, where)


def profile_job(
    make_builder: Callable[[], ProfileBuilder],
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    out: str | os.PathLike,
    engine: RayEngine,
    batch_size: int = 32,
    settings: dict[str, Any] | None = None,
) -> RayJobResult:
    """Profile ``user_ids`` on Ray into the JSONL ``out`` (the single-process job's format).

    Args:
        make_builder: Builds the :class:`ProfileBuilder` (and its backend) inside each worker.
        dataset: Training interactions only (``split.train``); shipped to each worker once.
        user_ids: Users in output order; duplicates are ignored.
        out: The JSONL output; shards go to ``<out>.shards/`` and stay as the resume point.
        engine: Cluster and pool settings; ``engine.shard_size`` is rounded up to a multiple of
            ``batch_size``.
        batch_size: Users per backend call.
        settings: What must match for a re-run to reuse shards (model, strategy, format, ...).
    """
    from llmrec.profiles.store import write_records

    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    users = list(dict.fromkeys(str(u) for u in user_ids))
    size = -(-engine.shard_size // batch_size) * batch_size
    plan = ShardPlan.create(shards_dir(out), users, size, {"job": "profile", **(settings or {})})
    ran = run_plan(plan, _ProfileWorker(make_builder, dataset, batch_size), engine)
    rows = plan.read()
    records = [_profile_record(r, f"{plan.folder} row {n}") for n, r in enumerate(rows)]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_records(out, records)
    return RayJobResult(Path(out), len(records), plan.n_shards, ran)


# -- judge ---------------------------------------------------------------------------------


def pair_key(user_id: str, item_id: str) -> str:
    return f"{user_id}\t{item_id}"


@dataclass(frozen=True)
class _JudgeWorker:
    make_judge: Callable[[], PointwiseJudge]
    items: dict[str, Item]

    def __call__(self) -> Callable[[list[str]], list[dict[str, Any]]]:
        judge = self.make_judge()

        def work(keys: list[str]) -> list[dict[str, Any]]:
            pairs = [tuple(k.split("\t", 1)) for k in keys]
            judged = judge.judge([(u, self.items.get(i, i)) for u, i in pairs])
            return [{KEY: k, **j.to_dict()} for k, j in zip(keys, judged)]

        return work


def judge_job(
    make_judge: Callable[[], PointwiseJudge],
    pairs: Sequence[tuple[str, str]],
    items: dict[str, Item],
    out: str | os.PathLike,
    engine: RayEngine,
    settings: dict[str, Any] | None = None,
) -> list[PointwiseJudgment]:
    """Judge ``(user_id, item_id)`` pairs on Ray; one judgment per pair, in pair order.

    Args:
        make_judge: Builds the :class:`PointwiseJudge` (backend and user context) in a worker.
        pairs: ``(user_id, item_id)`` pairs; each must be unique.
        items: The catalogue (``dataset.items``); an unknown id is judged as a bare title.
        out: Output stem: shards go to ``<out>.shards/`` (the caller writes ``out`` itself).
        engine: Cluster and pool settings.
        settings: What must match for a re-run to reuse shards.
    """
    from llmrec.judge.pointwise import PointwiseJudgment

    keys = [pair_key(str(u), str(i)) for u, i in pairs]
    plan = ShardPlan.create(
        shards_dir(out), keys, engine.shard_size, {"job": "judge", **(settings or {})}
    )
    run_plan(plan, _JudgeWorker(make_judge, dict(items)), engine)
    out_rows = []
    for row in plan.read():
        data = {k: v for k, v in row.items() if k != KEY}
        for name in ("distribution", "logprobs"):
            if data.get(name) is not None:
                data[name] = tuple(data[name])
        out_rows.append(PointwiseJudgment(**data))
    return out_rows


# -- user embeddings -----------------------------------------------------------------------


@dataclass(frozen=True)
class _EmbedWorker:
    make_encoder: Callable[[], UserEncoder]
    dataset: InteractionDataset
    instruction: str | None
    profiles: dict[str, str] | None

    def __call__(self) -> Callable[[list[str]], list[dict[str, Any]]]:
        encoder = self.make_encoder()

        def work(users: list[str]) -> list[dict[str, Any]]:
            table = encoder.encode_users(self.dataset, users, self.instruction, self.profiles)
            meta = json.dumps(table.metadata, default=str)
            return [
                {KEY: u, "vector": v.astype(np.float32).tolist(), "metadata": meta}
                for u, v in zip(table.ids, table.vectors)
            ]

        return work


def embed_users_job(
    make_encoder: Callable[[], UserEncoder],
    dataset: InteractionDataset,
    user_ids: Sequence[str],
    out: str | os.PathLike,
    engine: RayEngine,
    instruction: str | None = None,
    profiles: dict[str, str] | None = None,
    settings: dict[str, Any] | None = None,
) -> EmbeddingTable:
    """Embed users on Ray; the table the single-process ``encode_users`` returns.

    Args:
        make_encoder: Builds the :class:`UserEncoder` inside each worker.
        dataset: Interactions (``split.train``).
        user_ids: Users in table order.
        out: Output stem: shards go to ``<out>.shards/`` (the caller saves the table).
        engine: Cluster and pool settings.
        instruction: The instruction ``I`` (``None``: the general embedding).
        profiles: ``{user_id: profile text}`` when the encoder uses profiles.
        settings: What must match for a re-run to reuse shards.
    """
    from llmrec.embeddings.store import EmbeddingTable

    users = list(dict.fromkeys(str(u) for u in user_ids))
    plan = ShardPlan.create(
        shards_dir(out), users, engine.shard_size,
        {"job": "embed_users", "instruction": instruction, **(settings or {})},
    )  # fmt: skip
    worker = _EmbedWorker(make_encoder, dataset, instruction, profiles)
    run_plan(plan, worker, engine)
    rows = plan.read()
    vectors = np.asarray([r["vector"] for r in rows], dtype=np.float32)  # (n_users, dim)
    return EmbeddingTable([r[KEY] for r in rows], vectors, json.loads(rows[0]["metadata"]))
