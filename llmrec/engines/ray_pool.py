"""Run a :class:`~llmrec.engines.shards.ShardPlan` as a Ray Data pipeline over an actor pool.

Each actor builds its worker once (a backend, a judge, an encoder: ``make_worker()``), then
takes shards one at a time: it runs the worker on the shard's keys and writes the shard's
Parquet file. Ray Data restarts a dead actor and retries its shard (``max_restarts`` and
``max_task_retries`` are unlimited for actor pools); a shard whose file exists is skipped, so a
re-run after any failure does only the unfinished shards.

The same code runs on a laptop (``RayEngine()`` starts a local cluster of ``workers`` CPUs) and
on a cluster (``RayEngine(address="auto")`` or ``RAY_ADDRESS``; ``gpus_per_worker=1`` puts one
backend on each GPU).

Example:
    >>> engine = RayEngine(workers=2, shard_size=32)
    >>> run_plan(plan, make_worker, engine)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmrec.engines.shards import ShardPlan

logger = logging.getLogger(__name__)

Worker = Callable[[list[str]], list[dict[str, Any]]]
INSTALL_HINT = "pip install 'llmrec[ray]' (ray[data]>=2.40)"


@dataclass(frozen=True)
class RayEngine:
    """Where and how wide a Ray job runs.

    Args:
        workers: Actors in the pool, each holding one backend (or encoder).
        address: Ray cluster to join (``"auto"``, ``ray://host:10001``); ``None`` joins
            ``$RAY_ADDRESS`` when set, else starts a local cluster of ``workers`` CPUs.
        cpus_per_worker: CPUs each actor reserves; its torch uses as many threads.
        gpus_per_worker: GPUs each actor reserves (0 on CPU machines).
        shard_size: Keys (users, pairs) per shard: the unit of retry and of resume.
        progress: Show Ray Data's progress bars.
    """

    workers: int = 2
    address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    shard_size: int = 64
    progress: bool = False

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1, got {self.workers}")
        if self.shard_size < 1:
            raise ValueError(f"shard_size must be >= 1, got {self.shard_size}")
        if self.cpus_per_worker <= 0 or self.gpus_per_worker < 0:
            raise ValueError(
                f"cpus_per_worker must be > 0 and gpus_per_worker >= 0, got "
                f"{self.cpus_per_worker} and {self.gpus_per_worker}"
            )


def require_ray() -> Any:
    """Import Ray, or raise ``ImportError`` naming the extra to install."""
    try:
        import ray
    except ImportError as err:
        raise ImportError(
            f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from err
    return ray


def connect(engine: RayEngine) -> Any:
    """Join or start the Ray cluster ``engine`` names (once per process); returns ``ray``."""
    ray = require_ray()
    if not ray.is_initialized():
        address = engine.address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address)
        else:
            need = int(np.ceil(engine.workers * engine.cpus_per_worker))
            ray.init(num_cpus=need, include_dashboard=False, log_to_driver=False)
    return ray


class _ShardActor:
    """One pool member: builds the worker once, then writes whole shards."""

    def __init__(self, make_worker: Callable[[], Worker], plan: ShardPlan, threads: int) -> None:
        try:
            import torch

            torch.set_num_threads(threads)  # the actor's share, not every core of the node
        except ImportError:
            pass
        self.plan = plan
        self.work = make_worker()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        done = []
        for index in batch["shard"].tolist():
            if not self.plan.path(index).exists():  # a retry may find it written already
                self.plan.write(index, self.work(self.plan.shard_keys(index)))
            done.append(index)
        return {"shard": np.asarray(done, dtype=np.int64)}


def run_plan(plan: ShardPlan, make_worker: Callable[[], Worker], engine: RayEngine) -> int:
    """Run every unfinished shard of ``plan`` on a pool of ``engine.workers`` actors.

    Args:
        plan: The job's shards (see :class:`ShardPlan`).
        make_worker: Called once in each actor; returns ``worker(keys) -> rows`` where each row
            is a dict with ``"key"`` equal to the key, in order. Must be picklable (a top-level
            class instance or function, or a closure cloudpickle can carry).
        engine: Cluster and pool settings.

    Returns:
        The number of shards this call ran (0 when all were finished).
    """
    todo = plan.todo()
    if not todo:
        return 0
    ray = connect(engine)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = engine.progress
    # Strip paths that only the driver can see being relative; actors may run elsewhere.
    plan = ShardPlan(Path(plan.folder).resolve(), plan.keys, plan.size)
    items = ray.data.from_items([{"shard": i} for i in todo], override_num_blocks=len(todo))
    remote_args: dict[str, Any] = {"num_cpus": engine.cpus_per_worker}
    if engine.gpus_per_worker:
        remote_args["num_gpus"] = engine.gpus_per_worker
    done = items.map_batches(
        _ShardActor,
        fn_constructor_kwargs={
            "make_worker": make_worker,
            "plan": plan,
            "threads": max(1, int(engine.cpus_per_worker)),
        },
        batch_size=1,
        compute=ray.data.ActorPoolStrategy(size=min(engine.workers, len(todo))),
        **remote_args,
    ).take_all()
    ran = sorted(int(row["shard"]) for row in done)
    if ran != sorted(todo):
        raise RuntimeError(f"Ray returned shards {ran[:5]}..., expected {sorted(todo)[:5]}...")
    logger.info("ran %d shards of %s on %d workers", len(ran), plan.folder, engine.workers)
    return len(ran)
