"""Pairwise judging of two items or two ranked lists, in both orders.

LLM judges favour a position (usually the first). Every pair is therefore judged twice, A shown
first and B shown first; A wins only when both orders pick A, B only when both pick B, anything
else is a tie. The share of pairs whose two orders disagree is the *position-bias rate*.

Example:
    >>> judge = PairwiseJudge(backend, UserContext(profiles=profiles))  # doctest: +SKIP
    >>> result = judge.compare_items([("u1", toy_story, the_shining)])[0]  # doctest: +SKIP
    >>> result.winner  # doctest: +SKIP
    'A'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from llmrec.backends.base import Backend, Chat, GenerationParams
from llmrec.context.items import ItemLike, render_item, render_item_line
from llmrec.context.scoring import SCALES, AnswerScorer
from llmrec.context.view import SEES, UserContext
from llmrec.judge.parsing import ParseResult, parse_choice
from llmrec.judge.pointwise import MODES
from llmrec.judge.repair import repair_replies
from llmrec.prompts import render_chat, version_of

SCALE = SCALES["choice"]
REPAIR_ASK = "Reply with only the option chosen in it: 1 or 2."


@dataclass(frozen=True)
class PairwiseJudgment:
    """Outcome of one pair judged in both orders.

    Attributes:
        user_id: The user.
        winner: ``"A"``, ``"B"`` or ``"tie"`` (orders disagree, or a reply did not parse).
        choice_ab: Position picked with A shown first (1 = A), ``None`` if unparseable.
        choice_ba: Position picked with B shown first (2 = A), ``None`` if unparseable.
        p_a: Logprob mode: mean over both orders of the probability that A is preferred
            (renormalised over the two choice tokens); ``None`` in rationale mode.
        consistent: Both orders parsed and named the same item.
        failed: A reply did not parse even after repair.
        parse: How each order's reply was read (``"logprob"``, ``"strict"``, ...).
        raw: The two replies (rationale mode).
    """

    user_id: str
    winner: str
    choice_ab: int | None
    choice_ba: int | None
    p_a: float | None
    consistent: bool
    failed: bool
    parse: tuple[str, str]
    raw: tuple[str | None, str | None] = (None, None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def decide(choice_ab: int | None, choice_ba: int | None) -> str:
    """Winner from the two orders: A shown first picked position 1 and B first picked 2 -> A.

    Example:
        >>> decide(1, 2), decide(2, 1), decide(1, 1), decide(None, 2)
        ('A', 'B', 'tie', 'tie')
    """
    if choice_ab is None or choice_ba is None:
        return "tie"
    a_in_ab, a_in_ba = choice_ab == 1, choice_ba == 2
    if a_in_ab and a_in_ba:
        return "A"
    if not a_in_ab and not a_in_ba:
        return "B"
    return "tie"


@dataclass(frozen=True)
class PairwiseSummary:
    """Counts and rates over many pairwise judgments.

    ``win_rate_a = (wins_a + 0.5 * ties) / n``; ``position_bias_rate`` is the share of pairs
    (with both orders parsed) whose orders disagree; ``first_position_rate`` the share of single
    parsed judgments that picked the position shown first (0.5 for an unbiased judge).
    """

    n: int
    wins_a: int
    wins_b: int
    ties: int
    failed: int
    win_rate_a: float
    position_bias_rate: float
    first_position_rate: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(judgments: Sequence[PairwiseJudgment]) -> PairwiseSummary:
    """Aggregate pairwise judgments into a :class:`PairwiseSummary`."""
    n = len(judgments)
    wins_a = sum(j.winner == "A" for j in judgments)
    wins_b = sum(j.winner == "B" for j in judgments)
    parsed = [j for j in judgments if not j.failed]
    singles = [c for j in judgments for c in (j.choice_ab, j.choice_ba) if c is not None]
    return PairwiseSummary(
        n=n,
        wins_a=wins_a,
        wins_b=wins_b,
        ties=n - wins_a - wins_b,
        failed=n - len(parsed),
        win_rate_a=(wins_a + 0.5 * (n - wins_a - wins_b)) / n if n else float("nan"),
        position_bias_rate=(
            float(np.mean([not j.consistent for j in parsed])) if parsed else float("nan")
        ),
        first_position_rate=float(np.mean([c == 1 for c in singles])) if singles else float("nan"),
    )


def win_values(judgments: Sequence[PairwiseJudgment]) -> np.ndarray:
    """Per-pair value of A: 1 win, 0.5 tie, 0 loss, shape ``(n,)`` (for bootstrap intervals)."""
    return np.array([{"A": 1.0, "B": 0.0}.get(j.winner, 0.5) for j in judgments])


class PairwiseJudge:
    """Judges item pairs and list pairs for users, both orders each.

    Args:
        backend: Any :class:`~llmrec.backends.base.Backend`.
        context: Profiles and/or history of the users.
        sees: ``"profile"``, ``"history"`` or ``"both"``.
        mode: ``"logprob"`` (probability of the choice tokens ``"1"``/``"2"``) or
            ``"rationale"`` (generated reasoning and ``Choice: N``, parsed with repair).
        items_prompt: Template for item pairs.
        lists_prompt: Template for list pairs.
        max_new_tokens: Reply budget in rationale mode.
        max_repairs: Repair rounds for unparseable replies.
        share_prefix: Share each user's prompt prefix in logprob mode (see
            :class:`~llmrec.judge.pointwise.PointwiseJudge`); on by default.
    """

    def __init__(
        self,
        backend: Backend,
        context: UserContext,
        sees: str = "profile",
        mode: str = "logprob",
        items_prompt: str = "judge/pairwise_items",
        lists_prompt: str = "judge/pairwise_lists",
        max_new_tokens: int = 64,
        max_repairs: int = 1,
        share_prefix: bool = True,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        if sees not in SEES:
            raise ValueError(f"sees must be one of {SEES}, got {sees!r}")
        context.check(sees)
        self.backend = backend
        self.context = context
        self.sees = sees
        self.mode = mode
        self.items_prompt = items_prompt
        self.lists_prompt = lists_prompt
        self.max_new_tokens = max_new_tokens
        self.max_repairs = max_repairs
        self.share_prefix = share_prefix

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "pairwise",
            "mode": self.mode,
            "sees": self.sees,
            "items_prompt": version_of(self.items_prompt),
            "lists_prompt": version_of(self.lists_prompt),
            "backend": getattr(self.backend, "fingerprint", type(self.backend).__name__),
        }

    def item_chat(self, user_id: str, first: ItemLike, second: ItemLike) -> Chat:
        """The chat showing ``first`` as option 1 and ``second`` as option 2."""
        return render_chat(
            self.items_prompt,
            user_context=self.context.render(str(user_id), self.sees),
            first=render_item(first),
            second=render_item(second),
            rationale=self.mode == "rationale",
        )

    def list_chat(
        self, user_id: str, first: Sequence[ItemLike], second: Sequence[ItemLike]
    ) -> Chat:
        """The chat showing list ``first`` as list 1 and ``second`` as list 2."""
        return render_chat(
            self.lists_prompt,
            user_context=self.context.render(str(user_id), self.sees),
            first=[render_item_line(it) for it in first],
            second=[render_item_line(it) for it in second],
            rationale=self.mode == "rationale",
        )

    def compare_items(
        self, triples: Sequence[tuple[str, ItemLike, ItemLike]]
    ) -> list[PairwiseJudgment]:
        """Judge ``(user_id, item_a, item_b)`` triples; one judgment per triple."""
        ab = [self.item_chat(u, a, b) for u, a, b in triples]
        ba = [self.item_chat(u, b, a) for u, a, b in triples]
        return self._judge([t[0] for t in triples], ab, ba)

    def compare_lists(
        self,
        triples: Sequence[tuple[str, Sequence[ItemLike], Sequence[ItemLike]]],
        k: int | None = None,
    ) -> list[PairwiseJudgment]:
        """Judge ``(user_id, list_a, list_b)`` triples, each list cut to its top ``k``."""
        if k is not None and k < 1:
            raise ValueError(f"k must be >= 1 or None, got {k}")
        cut = [(u, list(a)[:k], list(b)[:k]) for u, a, b in triples]
        for u, a, b in cut:
            if not a or not b:
                raise ValueError(f"user {u!r}: both lists must be non-empty to compare")
        ab = [self.list_chat(u, a, b) for u, a, b in cut]
        ba = [self.list_chat(u, b, a) for u, a, b in cut]
        return self._judge([t[0] for t in cut], ab, ba)

    def _choices(
        self, chats: list[Chat], users: list[str]
    ) -> tuple[list[ParseResult], list, list[str | None]]:
        if self.mode == "logprob":
            scorer = AnswerScorer(self.backend, SCALE, share_prefix=self.share_prefix)
            p_first = scorer.score(chats, groups=users).p("1")  # (n,)
            picks = [ParseResult(1 if p >= 0.5 else 2, "logprob") for p in p_first]
            return picks, list(p_first), [None] * len(chats)
        params = GenerationParams(max_new_tokens=self.max_new_tokens, temperature=0.0)
        replies = self.backend.generate(chats, params)
        results = [parse_choice(r) for r in replies]
        results = repair_replies(
            self.backend, replies, results, parse_choice, REPAIR_ASK, self.max_repairs
        )
        return results, [None] * len(chats), list(replies)

    def _judge(self, users: list[str], ab: list[Chat], ba: list[Chat]) -> list[PairwiseJudgment]:
        picks, p_first, raw = self._choices(ab + ba, users + users)
        n = len(users)
        out = []
        for k, user in enumerate(users):
            first, second = picks[k], picks[n + k]
            p_a = None
            if p_first[k] is not None:
                p_a = float((p_first[k] + (1.0 - p_first[n + k])) / 2)
            failed = not (first.ok and second.ok)
            winner = decide(first.value, second.value)
            out.append(
                PairwiseJudgment(
                    user_id=str(user),
                    winner=winner,
                    choice_ab=first.value,
                    choice_ba=second.value,
                    p_a=p_a,
                    consistent=not failed and winner != "tie",
                    failed=failed,
                    parse=(first.how, second.how),
                    raw=(raw[k], raw[n + k]),
                )
            )
        return out
