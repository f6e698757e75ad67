"""Fixtures of the engine tests: one local Ray cluster per session, a small synthetic world."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    """A local 2-CPU Ray cluster (two workers of one CPU each), shut down at the end."""
    ray = pytest.importorskip("ray")
    # Workers start in fresh processes: they import llmrec from this checkout, one thread each.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {"PYTHONPATH": root, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": env},
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def small_split():
    """A seeded synthetic world (24 users, 60 items), split leave-one-out."""
    from llmrec.data import leave_one_out
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    world = generate_world(SyntheticConfig(n_users=24, n_items=60, seed=0))
    return leave_one_out(world.dataset)
