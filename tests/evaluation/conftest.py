"""Small datasets for evaluation tests (fast, hand-checkable)."""

from __future__ import annotations

import numpy as np
import pytest

from llmrec.data.records import Interaction, InteractionDataset, Item


@pytest.fixture(scope="session")
def tiny_world():
    """A seeded synthetic world with structure (gold genres), small enough for CPU tests."""
    from llmrec.data.synthetic import SyntheticConfig, generate_world

    return generate_world(SyntheticConfig(n_users=150, n_items=80, mean_history=20.0, seed=3))


@pytest.fixture(scope="session")
def tiny_split(tiny_world):
    from llmrec.data import leave_one_out

    return leave_one_out(tiny_world.dataset)


def _make_dataset(histories: dict[str, list[str]], n_items: int, titles=None) -> InteractionDataset:
    """Users with the given item sequences (timestamps in list order)."""
    items = [
        Item(str(i), titles[i] if titles else f"Item {i}", genres=("g",)) for i in range(n_items)
    ]
    rows = [
        Interaction(u, item, timestamp=float(t), rating=4.0)
        for u, seq in histories.items()
        for t, item in enumerate(seq)
    ]
    return InteractionDataset(items, rows, name="hand")


@pytest.fixture(scope="session")
def make_dataset():
    """``make_dataset(histories, n_items, titles=None)``: users with the given item sequences."""
    return _make_dataset


@pytest.fixture(scope="session")
def sequential_dataset():
    """Each user walks the catalogue in order from a random start: the next item is i + 1."""
    rng = np.random.default_rng(0)
    n_items = 30
    histories = {}
    for u in range(120):
        start = int(rng.integers(0, n_items - 12))
        length = int(rng.integers(8, 12))
        histories[f"u{u}"] = [str(i) for i in range(start, start + length)]
    return _make_dataset(histories, n_items)
