"""Splits of a dataset into train / validation / test, built so that nothing leaks.

A :class:`Split` holds ``train`` (an :class:`InteractionDataset` with only the training
interactions) and the held-out interactions as separate datasets. Downstream code (profiles,
training-data builders, recommenders) receives ``split.train``, so held-out interactions cannot
reach a prompt or a model by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from llmrec.data.records import InteractionDataset


@dataclass(frozen=True)
class Split:
    """Train and held-out parts of one dataset, sharing the catalogue and users."""

    train: InteractionDataset
    valid: InteractionDataset
    test: InteractionDataset
    strategy: str

    def heldout(self, part: str = "test") -> InteractionDataset:
        if part not in ("test", "valid"):
            raise ValueError(f"part must be 'test' or 'valid', got {part!r}")
        return self.test if part == "test" else self.valid

    def describe(self) -> dict:
        return {
            "strategy": self.strategy,
            "train": len(self.train),
            "valid": len(self.valid),
            "test": len(self.test),
        }


def leave_one_out(
    dataset: InteractionDataset, validation: bool = True, min_train: int = 1
) -> Split:
    """Last interaction of each user is test, the one before validation, the rest training.

    Users with too few interactions to leave ``min_train`` training items keep everything in
    training (they get no held-out item) rather than losing their history.

    Args:
        dataset: Time-ordered interactions (ties keep the source order).
        validation: Hold out the second-to-last item as validation.
        min_train: Minimum training interactions a user must keep to be held out.
    """
    frame = dataset.interactions
    pos_from_end = frame.groupby("user_id", sort=False).cumcount(ascending=False).to_numpy()
    sizes = frame.groupby("user_id", sort=False)["item_id"].transform("size").to_numpy()
    held = 1 + int(validation)
    eligible = sizes >= held + min_train
    test_mask = eligible & (pos_from_end == 0)
    valid_mask = eligible & (pos_from_end == 1) if validation else np.zeros(len(frame), bool)
    train_mask = ~(test_mask | valid_mask)
    return Split(
        train=dataset.with_interactions(frame[train_mask], f"{dataset.name}/train"),
        valid=dataset.with_interactions(frame[valid_mask], f"{dataset.name}/valid"),
        test=dataset.with_interactions(frame[test_mask], f"{dataset.name}/test"),
        strategy=f"leave_one_out(validation={validation}, min_train={min_train})",
    )
