"""The ``--engine`` options shared by the job commands (profile, judge score, embed users)."""

from __future__ import annotations

import argparse

from llmrec.engines import ENGINES


def add_engine_args(parser: argparse.ArgumentParser, shard_size: int = 64) -> None:
    """``--engine local|ray`` and the Ray pool's settings."""
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default="local",
        help="local: this process; ray: a Ray Data pipeline over --workers backend actors, "
        "Parquet shards in <out>.shards (a lost worker is retried, a re-run resumes)",
    )
    group.add_argument("--workers", type=int, default=2, help="ray: actors (one backend each)")
    group.add_argument(
        "--ray-address", default=None, help="ray: cluster (default $RAY_ADDRESS or local)"
    )
    group.add_argument("--cpus-per-worker", type=float, default=1.0, help="ray: CPUs per actor")
    group.add_argument("--gpus-per-worker", type=float, default=0.0, help="ray: GPUs per actor")
    group.add_argument(
        "--shard-size", type=int, default=shard_size, help="ray: keys per shard (retry unit)"
    )


def ray_engine(args: argparse.Namespace, progress: bool = True):
    """The :class:`~llmrec.engines.ray_pool.RayEngine` the arguments describe."""
    from llmrec.engines.ray_pool import RayEngine

    return RayEngine(
        workers=args.workers,
        address=args.ray_address,
        cpus_per_worker=args.cpus_per_worker,
        gpus_per_worker=args.gpus_per_worker,
        shard_size=args.shard_size,
        progress=progress,
    )
