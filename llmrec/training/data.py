"""The data every recipe starts from: a dataset by name, and disjoint train/eval users.

- :func:`load_recipe_dataset` turns a dataset name from a YAML config into an
  :class:`~llmrec.data.InteractionDataset` (a catalogue name such as ``"ml-100k"`` or
  ``"synthetic"`` for the seeded synthetic world);
- :func:`sample_train_eval_users` draws disjoint training and evaluation users of a split, so
  evaluation users' held-out items and histories never reach training.

Example:
    >>> from llmrec.training.data import sample_train_eval_users
    >>> train_users, eval_users = sample_train_eval_users(split, 200, 100, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from llmrec.data.records import InteractionDataset
from llmrec.data.sampling import sample_users
from llmrec.data.splits import Split

# Modules LoRA adapts on Llama-style decoders (SmolLM2, the tiny random Llama, Qwen, Mistral).
LLAMA_LORA_TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def load_recipe_dataset(name: str, seed: int = 0) -> InteractionDataset:
    """The dataset a recipe config names.

    Args:
        name: A catalogue name for :func:`llmrec.data.load_dataset` (``"ml-100k"``, ...) or
            ``"synthetic"`` / ``"synthetic:n_users=200,n_items=300"`` for the seeded synthetic
            world of :mod:`llmrec.data.synthetic`.
        seed: Seed of the synthetic world (ignored for catalogue datasets).

    Returns:
        The full dataset; split it with :func:`llmrec.data.leave_one_out`.
    """
    if name == "synthetic" or name.startswith("synthetic:"):
        from llmrec.data.synthetic import SyntheticConfig, generate_world

        options: dict[str, Any] = {"seed": seed}
        for part in filter(None, name.partition(":")[2].split(",")):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"dataset {name!r}: expected key=value after ':', got {part!r}")
            options[key.strip()] = int(value) if value.strip().isdigit() else value.strip()
        return generate_world(SyntheticConfig(**options)).dataset
    from llmrec.data import load_dataset

    return load_dataset(name)


def sample_train_eval_users(
    split: Split, n_train: int, n_eval: int, seed: int, min_history: int = 2
) -> tuple[list[str], list[str]]:
    """Disjoint training and evaluation users, drawn with a seeded generator.

    Evaluation users are drawn from users that have a held-out test item; training users from
    the rest. Training examples come from training users' ``split.train`` histories only, and
    evaluation users' test items are scored against their ``split.train`` histories, so no
    held-out interaction reaches training.

    Args:
        split: A split from :func:`llmrec.data.leave_one_out`.
        n_train: Training users wanted (fewer when the dataset has fewer).
        n_eval: Evaluation users wanted (fewer when fewer users have a held-out item).
        seed: Seed for the draw.
        min_history: Minimum training interactions a user needs to be drawn at all.

    Returns:
        ``(train_users, eval_users)``, each in a seeded random order.
    """
    if n_train < 0 or n_eval < 0:
        raise ValueError(f"n_train and n_eval must be >= 0, got {n_train} and {n_eval}")
    sizes = split.train.interactions.groupby("user_id").size()
    eligible = sorted(sizes.index[sizes >= min_history])
    held = set(split.test.interactions["user_id"])
    order = sample_users(eligible, len(eligible), seed, keep_order=False)  # a seeded shuffle
    eval_users = [u for u in order if u in held][:n_eval]
    taken = set(eval_users)
    train_users = [u for u in order if u not in taken][:n_train]
    return train_users, eval_users
