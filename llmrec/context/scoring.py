"""One answer scorer: how likely a model is to give each answer of a fixed set.

A judge asks for a score from 1 to 5, a reranker or TALLRec for Yes or No, a pairwise judge for
option 1 or 2. All of them read the same thing: the log-probability of each answer right after
the prompt, renormalised over the answers. :class:`AnswerScale` names an answer set (and the
value of each answer, for ordinal scales); :class:`AnswerScorer` scores chats on any
:class:`~llmrec.backends.base.Backend`:

- ``method="next_token"``: one forward pass reads the next-token log-probabilities of
  single-token answers; with ``groups`` (one key per chat, the user id) an in-process
  transformers backend computes each group's shared prompt prefix once
  (:func:`llmrec.backends.grouped.grouped_next_token_logprobs`);
- ``method="continuation"``: each answer's summed log-probability as a continuation of the
  prompt, for answers of several tokens (the prompt runs once per chat,
  :func:`llmrec.backends.grouped.shared_continuation_logprobs`).

:class:`AnswerScores` turns the log-probabilities into what callers want: the distribution
over the answers ``p_k = exp(l_k / T) / sum_j exp(l_j / T)``, the expected score
``E[s] = sum_k v_k p_k``, the probability of one answer, log-odds between two, and the mass the
model put on the answer set at all. A new answer scale is one :class:`AnswerScale`.

Example:
    >>> scorer = AnswerScorer(backend, "1-5")  # doctest: +SKIP
    >>> scores = scorer.score(chats, groups=user_ids)  # doctest: +SKIP
    >>> scores.expected(), scores.p("Yes")  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from llmrec.backends.base import Backend, Chat

METHODS = ("next_token", "continuation")


@dataclass(frozen=True)
class AnswerScale:
    """A fixed set of answers and, for ordinal scales, the value of each.

    Args:
        labels: The answers as the model writes them (``"Yes"``, ``"1"``).
        values: Numeric value of each label, for :meth:`AnswerScores.expected`; ``None`` for
            nominal answer sets.
    """

    labels: tuple[str, ...]
    values: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if len(self.labels) < 2:
            raise ValueError(f"an answer scale needs at least two labels, got {self.labels}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"answer labels must be distinct, got {self.labels}")
        if self.values is not None and len(self.values) != len(self.labels):
            raise ValueError(f"{len(self.values)} values for {len(self.labels)} labels")

    def index(self, label: str) -> int:
        """Position of ``label``; ``ValueError`` listing the labels when it is not one."""
        if label not in self.labels:
            raise ValueError(f"{label!r} is not an answer of this scale; answers: {self.labels}")
        return self.labels.index(label)


SCALES: dict[str, AnswerScale] = {
    "yes_no": AnswerScale(("Yes", "No"), (1.0, 0.0)),
    "1-5": AnswerScale(("1", "2", "3", "4", "5"), (1.0, 2.0, 3.0, 4.0, 5.0)),
    "choice": AnswerScale(("1", "2")),
}


def answer_scale(scale: str | AnswerScale | Sequence[str]) -> AnswerScale:
    """An :class:`AnswerScale` from a registered name, a scale, or a list of labels."""
    if isinstance(scale, AnswerScale):
        return scale
    if isinstance(scale, str):
        if scale not in SCALES:
            raise ValueError(f"unknown answer scale {scale!r}; valid: {sorted(SCALES)}")
        return SCALES[scale]
    return AnswerScale(tuple(str(s) for s in scale))


def renormalise(logprobs: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Softmax of answer log-probabilities divided by ``temperature``, per row.

    Args:
        logprobs: Shape ``(n, k)``.
        temperature: ``T > 0``; ``T > 1`` flattens, ``T < 1`` sharpens.

    Returns:
        Shape ``(n, k)``, rows summing to 1.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    z = np.asarray(logprobs, dtype=np.float64) / temperature  # (n, k)
    z -= z.max(axis=-1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(axis=-1, keepdims=True)


@dataclass(frozen=True)
class AnswerScores:
    """Log-probabilities of a scale's answers for a batch of chats.

    Attributes:
        scale: The answer scale.
        logprobs: Shape ``(n, k)``, float64: next-token log-probabilities under the full
            vocabulary, or summed continuation log-probabilities.
    """

    scale: AnswerScale
    logprobs: np.ndarray

    def probs(self, temperature: float = 1.0) -> np.ndarray:
        """Distribution over the answers, shape ``(n, k)`` (see :func:`renormalise`)."""
        return renormalise(self.logprobs, temperature)

    def mass(self) -> np.ndarray:
        """Probability the model put on the answer set at all, ``sum_k exp(l_k)``, shape ``(n,)``."""
        return np.exp(self.logprobs).sum(axis=-1)

    def expected(self, temperature: float = 1.0) -> np.ndarray:
        """Expected value ``sum_k v_k p_k`` of an ordinal scale, shape ``(n,)``."""
        if self.scale.values is None:
            raise ValueError(f"the scale {self.scale.labels} has no values to take an expectation")
        return self.probs(temperature) @ np.asarray(self.scale.values, dtype=np.float64)

    def p(self, label: str) -> np.ndarray:
        """Probability of one answer, renormalised over the answer set, shape ``(n,)``."""
        return self.probs()[:, self.scale.index(label)]

    def log_odds(self, first: str, second: str) -> np.ndarray:
        """``l_first - l_second``, shape ``(n,)``: ``log P("Yes") - log P("No")``, say."""
        return (
            self.logprobs[:, self.scale.index(first)] - self.logprobs[:, self.scale.index(second)]
        )


@contextlib.contextmanager
def _eval_mode(backend: Backend) -> Iterator[None]:
    """Switch an in-process model out of training mode (no dropout) while scoring."""
    model = getattr(backend, "model", None)
    was_training = bool(getattr(model, "training", False))
    if was_training:
        model.eval()
    try:
        yield
    finally:
        if was_training:
            model.train(True)


class AnswerScorer:
    """Scores chats over a fixed answer set on any backend.

    Args:
        backend: Any :class:`~llmrec.backends.base.Backend`. Training code wraps the model it
            holds with :meth:`llmrec.backends.hf.TransformersBackend.from_model`; a model in
            training mode is scored in eval mode (no dropout) and put back.
        scale: An :class:`AnswerScale`, a name in :data:`SCALES` (``"yes_no"``, ``"1-5"``,
            ``"choice"``) or a list of labels.
        method: ``"next_token"`` (single-token answers, one pass) or ``"continuation"`` (any
            answers, summed log-probability of each).
        share_prefix: Compute a group's shared prompt prefix once (next-token scoring with
            ``groups``; continuation scoring always runs each prompt once). Same numbers to
            float error; only an in-process transformers backend shares, others get the plain
            call.
        end_of_turn: Continuation scoring: score each answer followed by the end-of-turn token
            (the answer as the complete reply).
    """

    def __init__(
        self,
        backend: Backend,
        scale: str | AnswerScale | Sequence[str] = "yes_no",
        method: str = "next_token",
        share_prefix: bool = True,
        end_of_turn: bool = False,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.backend = backend
        self.scale = answer_scale(scale)
        self.method = method
        self.share_prefix = share_prefix
        self.end_of_turn = end_of_turn

    def score(
        self, chats: Sequence[Chat], groups: Sequence[Hashable] | None = None
    ) -> AnswerScores:
        """The answers' log-probabilities after each chat.

        Args:
            chats: Prompts ending where the answer starts.
            groups: One key per chat (the user id); chats with the same key share a prompt
                prefix, computed once when ``share_prefix`` is on.

        Returns:
            :class:`AnswerScores` with ``logprobs`` of shape ``(len(chats), k)``.
        """
        from llmrec.backends.grouped import grouped_next_token_logprobs

        labels = self.scale.labels
        if not chats:
            return AnswerScores(self.scale, np.zeros((0, len(labels))))
        with _eval_mode(self.backend):
            if self.method == "continuation":
                rows = self.continuations(chats, [list(labels)] * len(chats))
                logprobs = np.vstack(rows)
            elif self.share_prefix and groups is not None:
                logprobs = grouped_next_token_logprobs(self.backend, chats, groups, labels)
            else:
                logprobs = self.backend.next_token_logprobs(chats, labels)
        return AnswerScores(self.scale, np.asarray(logprobs, dtype=np.float64))

    def continuations(
        self, chats: Sequence[Chat], continuations: Sequence[Sequence[str]]
    ) -> list[np.ndarray]:
        """Summed log-probability of each chat's own candidate replies (any number, any length).

        Returns:
            One array per chat, shape ``(len(continuations[i]),)``.
        """
        from llmrec.backends.grouped import shared_continuation_logprobs

        with _eval_mode(self.backend):
            if self.share_prefix or self.end_of_turn:
                return shared_continuation_logprobs(
                    self.backend, chats, continuations, end_of_turn=self.end_of_turn
                )
            out = self.backend.score_continuations(chats, continuations)
        return [np.asarray(a, dtype=np.float64) for a in out]
