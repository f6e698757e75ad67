"""Extra answer candidates for contrastive training: the closed answer sets and sampled items.

With in-batch negatives alone, a question such as "What is the gender of this user?" is
contrasted with whatever answers the other rows of the batch hold: mostly answers to other
questions, which are trivially different. The model then learns to recognise the question,
not to tell "This user is male." from "This user is female.". An :class:`AnswerBank` adds, at
every training step, every answer of each closed-set task (all genders, age bands, eras,
occupations, genres, ``Yes``/``No``) and ``n_sampled`` random catalogue items as shared
candidates, so the softmax of each row ranges over all answers of its own task, the same
choice zero-shot evaluation makes. The loss
(:class:`~llmrec.embeddings.losses.UserContrastiveLoss`) keeps one copy of each distinct text
among all candidates, so a candidate identical to a row's answer is never a negative.

Example:
    >>> from llmrec.embeddings.negatives import answer_bank
    >>> bank = answer_bank(split.train, ["gender", "next_item"], n_items=32, seed=0)  # doctest: +SKIP
    >>> bank.draw()[:2]  # doctest: +SKIP
    ['This user is male.', 'This user is female.']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from llmrec.data.records import InteractionDataset


@dataclass
class AnswerBank:
    """Answer texts added as candidates to every training batch.

    Args:
        fixed: Texts added at every step (the closed answer sets).
        pool: Texts sampled from (the catalogue's next-item answers).
        n_sampled: Texts drawn from ``pool`` per step, without replacement.
        seed: Seed of the draws (a run draws the same sequence every time).
    """

    fixed: tuple[str, ...] = ()
    pool: tuple[str, ...] = ()
    n_sampled: int = 0
    seed: int = 0
    _rng: np.random.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.fixed, self.pool = tuple(self.fixed), tuple(self.pool)
        if not 0 <= self.n_sampled <= len(self.pool):
            raise ValueError(
                f"n_sampled must be in [0, {len(self.pool)}] (the pool size), got {self.n_sampled}"
            )
        self._rng = np.random.default_rng(self.seed)

    def __len__(self) -> int:
        return len(self.fixed) + self.n_sampled

    def draw(self) -> list[str]:
        """The candidates of one step: ``fixed`` then ``n_sampled`` texts of ``pool``."""
        if not self.n_sampled:
            return list(self.fixed)
        picked = self._rng.choice(len(self.pool), size=self.n_sampled, replace=False)
        return list(self.fixed) + [self.pool[i] for i in picked]


def answer_bank(
    dataset: InteractionDataset, tasks: Sequence[str], n_items: int = 0, seed: int = 0
) -> AnswerBank:
    """The bank for a set of UserQA tasks.

    Args:
        dataset: Catalogue and users (``split.train``); only the possible answers are read.
        tasks: The tasks trained on; each closed-set task among them
            (:data:`~llmrec.embeddings.userqa.CLASS_TASKS`) adds all its answer texts.
        n_items: With ``next_item`` among ``tasks``, catalogue items sampled per step (their
            next-item answer texts); 0 for none.
        seed: Seed of the item draws.

    Returns:
        An :class:`AnswerBank`.
    """
    from llmrec.embeddings.sources import item_text
    from llmrec.embeddings.userqa import CLASS_TASKS, answer, answer_classes

    fixed = [
        answer(task, value)
        for task in tasks
        if task in CLASS_TASKS
        for value in answer_classes(dataset, task)
    ]
    pool: list[str] = []
    if n_items and "next_item" in tasks:
        pool = sorted({answer("next_item", item_text(item)) for item in dataset.items.values()})
    return AnswerBank(tuple(dict.fromkeys(fixed)), tuple(pool), n_items if pool else 0, seed)
