"""The pointwise judge as a trl reward function: ``(completions, **kwargs) -> list[float]``.

A policy that *recommends* (its completion names an item) is rewarded by how well the judge
thinks that item fits the user of the prompt. trl passes extra dataset columns as keyword
arguments: the user id column (default ``user_id``) is required, a ``profile`` column, when
present, overrides the judge's stored profile for that row. Conversational completions arrive as
``[{"role": "assistant", "content": ...}]`` and are read from ``c[0]["content"]``.

Example:
    >>> reward = JudgeReward(PointwiseJudge(backend, UserContext(profiles=profiles)),
    ...                      catalogue=dataset.items)  # doctest: +SKIP
    >>> reward(["Toy Story"], user_id=["1"])  # doctest: +SKIP
    [0.71]
    >>> trainer = GRPOTrainer(model, reward_funcs=[reward], ...)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from llmrec.data.records import Item
from llmrec.judge.pointwise import PointwiseJudge

SCALES = ("unit", "raw")


def completion_text(completion: Any) -> str:
    """Text of a completion: a string, or a conversational list whose first message holds it."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[0], Mapping):
        return str(completion[0].get("content", ""))
    raise TypeError(
        "a completion must be a string or a list of chat messages, "
        f"got {type(completion).__name__}: {completion!r:.80}"
    )


def _normalise_title(text: str) -> str:
    text = re.sub(r"\(\d{4}\)", "", text.lower())
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


class JudgeReward:
    """Callable reward: the judge's score of the recommended item for the row's user.

    Args:
        judge: A :class:`PointwiseJudge` (logprob mode recommended: fast and never fails).
        catalogue: Items by id; a completion whose first line matches a title (case and
            year ignored) is judged with that item's genres and year, otherwise as a bare
            title.
        user_column: Dataset column with the user id.
        profile_column: Optional column with a profile text that replaces the stored one.
        scale: ``"unit"`` maps the 1-5 score to ``(s - 1) / 4`` in [0, 1]; ``"raw"`` keeps 1-5.
        failure_value: Reward of a rationale reply that did not parse.

    Attributes:
        __name__: ``"judge_reward"`` (trl logs rewards under the function's name).
    """

    def __init__(
        self,
        judge: PointwiseJudge,
        catalogue: Mapping[str, Item] | None = None,
        user_column: str = "user_id",
        profile_column: str = "profile",
        scale: str = "unit",
        failure_value: float = 0.0,
    ) -> None:
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.judge = judge
        self.user_column = user_column
        self.profile_column = profile_column
        self.scale = scale
        self.failure_value = failure_value
        self.__name__ = "judge_reward"
        self._titles = {_normalise_title(it.title): it for it in (catalogue or {}).values()}

    def item_for(self, text: str) -> Item | str:
        """The catalogue item a completion names, or the completion's first line as a title."""
        lines = [line.strip(" \t\"'*-•") for line in text.strip().splitlines()]
        first = next((line for line in lines if line), "")
        return self._titles.get(_normalise_title(first), first)

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        """One reward per completion; extra dataset columns arrive as keyword arguments."""
        if self.user_column not in kwargs:
            raise ValueError(
                f"reward needs the dataset column {self.user_column!r} (got columns "
                f"{sorted(kwargs)}); add it to the dataset or set user_column"
            )
        users = [str(u) for u in kwargs[self.user_column]]
        if len(users) != len(completions):
            raise ValueError(f"{len(completions)} completions but {len(users)} user ids")
        judge = self.judge
        if self.profile_column in kwargs:
            profiles = {**judge.context.profiles}
            profiles.update({u: str(p) for u, p in zip(users, kwargs[self.profile_column])})
            judge = copy.copy(judge)
            judge.context = dataclasses.replace(judge.context, profiles=profiles)
        pairs = [(u, self.item_for(completion_text(c))) for u, c in zip(users, completions)]
        rewards = []
        for j in judge.judge(pairs):
            if j.score is None:
                rewards.append(float(self.failure_value))
            elif self.scale == "unit":
                rewards.append((j.score - 1.0) / 4.0)
            else:
                rewards.append(float(j.score))
        return rewards
