"""Engines that run llmrec's batch jobs past one process: Ray for scale-out.

A job (profiles, judge scores, user embeddings, full-ranking evaluation) runs either in this
process (``engine="local"``, the default) or as a Ray pipeline (``engine="ray"``) over a pool of
actors, each holding one backend. Both give the same output; the Ray one writes finished work
as Parquet shards so that a lost worker is retried by Ray and a re-run skips finished shards.

* :mod:`llmrec.engines.shards`: the shard plan and its Parquet store (no Ray needed).
* :mod:`llmrec.engines.ray_pool`: the Ray Data pipeline over an actor pool (``pip install
  'llmrec[ray]'``).
* :mod:`llmrec.engines.jobs`: profile, judge and user-embedding jobs on that pipeline.
* :mod:`llmrec.engines.ranking`: full-ranking evaluation with users partitioned over workers.
"""

from __future__ import annotations

ENGINES = ("local", "ray")


def check_engine(name: str) -> str:
    """``name`` if it is a known engine, else ``ValueError`` listing the valid names."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}; choose one of {list(ENGINES)}")
    return name
