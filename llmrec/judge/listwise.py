"""Listwise judging: rank a user's candidate set, from pointwise scores or a permutation prompt.

- :func:`rank_by_pointwise` scores every candidate with a :class:`PointwiseJudge` and sorts
  (stable: ties keep the input order).
- :class:`PermutationJudge` shows all candidates at once and asks for ``[2] > [1] > [3]``;
  replies are parsed (duplicates and unknown numbers dropped, missing candidates appended in
  input order), with a bounded repair round for replies without any usable number.

Example:
    >>> order, judgments = rank_by_pointwise(judge, "u1", candidates)  # doctest: +SKIP
    >>> [candidates[k].title for k in order]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import partial
from typing import Any

import numpy as np

from llmrec.backends.base import Backend, Chat, GenerationParams
from llmrec.context.items import ItemLike, render_item_line
from llmrec.context.view import SEES, UserContext
from llmrec.judge.parsing import PermutationResult, parse_permutation
from llmrec.judge.pointwise import PointwiseJudge, PointwiseJudgment
from llmrec.judge.repair import repair_replies
from llmrec.prompts import render_chat, version_of

REPAIR_ASK = 'Reply with only the candidate numbers from it, best first, like "[2] > [1] > [3]".'


def _parse_n(text: str, n: int) -> PermutationResult:
    return parse_permutation(text, n)


def rank_by_pointwise(
    judge: PointwiseJudge, user_id: str, items: Sequence[ItemLike]
) -> tuple[list[int], list[PointwiseJudgment]]:
    """Candidate indices sorted by pointwise score (best first) and the judgments.

    Unparseable rationale scores rank last; ties keep the input order.
    """
    judgments = judge.judge([(user_id, it) for it in items])
    keys = np.array([-np.inf if j.score is None else j.score for j in judgments])
    order = np.argsort(-keys, kind="stable")
    return [int(k) for k in order], judgments


@dataclass(frozen=True)
class ListwiseRanking:
    """A permutation of one user's candidates.

    Attributes:
        user_id: The user.
        order: Candidate indices, best first (a full permutation).
        how: ``"strict"``, ``"completed"``, ``"repair"`` or ``"failed"`` (input order kept).
        parsed: How many candidates the reply itself placed.
        raw: The reply.
    """

    user_id: str
    order: tuple[int, ...]
    how: str
    parsed: int
    raw: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PermutationJudge:
    """Ranks candidate sets with one generated permutation per user.

    Args:
        backend: Any :class:`~llmrec.backends.base.Backend`.
        context: Profiles and/or history.
        sees: ``"profile"``, ``"history"`` or ``"both"``.
        prompt: Template (variables ``user_context`` and ``items``, one line per candidate).
        max_new_tokens: Reply budget; default ``6 * n + 8`` tokens for ``n`` candidates.
        max_repairs: Repair rounds for replies without any usable number.
    """

    def __init__(
        self,
        backend: Backend,
        context: UserContext,
        sees: str = "profile",
        prompt: str = "judge/listwise",
        max_new_tokens: int | None = None,
        max_repairs: int = 1,
    ) -> None:
        if sees not in SEES:
            raise ValueError(f"sees must be one of {SEES}, got {sees!r}")
        context.check(sees)
        self.backend = backend
        self.context = context
        self.sees = sees
        self.prompt = prompt
        self.max_new_tokens = max_new_tokens
        self.max_repairs = max_repairs

    def describe(self) -> dict[str, Any]:
        return {"kind": "listwise", "sees": self.sees, "prompt": version_of(self.prompt)}

    def chat(self, user_id: str, items: Sequence[ItemLike]) -> Chat:
        return render_chat(
            self.prompt,
            user_context=self.context.render(str(user_id), self.sees),
            items=[render_item_line(it) for it in items],
        )

    def rank(self, requests: Sequence[tuple[str, Sequence[ItemLike]]]) -> list[ListwiseRanking]:
        """One :class:`ListwiseRanking` per ``(user_id, candidates)`` request."""
        if not requests:
            return []
        sizes = [len(items) for _, items in requests]
        if min(sizes) < 1:
            raise ValueError("every request needs at least one candidate")
        budget = self.max_new_tokens or 6 * max(sizes) + 8
        chats = [self.chat(u, items) for u, items in requests]
        replies = self.backend.generate(chats, GenerationParams(max_new_tokens=budget))
        results = [parse_permutation(r, n) for r, n in zip(replies, sizes, strict=True)]
        parsers = [partial(_parse_n, n=n) for n in sizes]
        repaired = repair_replies(
            self.backend, replies, results, parsers, REPAIR_ASK, self.max_repairs, budget
        )
        return [
            ListwiseRanking(str(u), r.order, r.how, r.parsed, reply)
            for (u, _), r, reply in zip(requests, repaired, replies, strict=True)
        ]
