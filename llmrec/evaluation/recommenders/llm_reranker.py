"""A profile-conditioned LLM reranker scored through the backend, never by parsing text.

For each user the base recommender's top ``n_candidates`` items (training items excluded) are
rescored by the LLM: one chat per (user, candidate) from the ``rerank/yes_no`` template, holding
the user block of :class:`~llmrec.context.view.UserContext` (the user's profile or, without one,
their recent training history) and the candidate's line; the score is
``log P("Yes") - log P("No")`` from :class:`~llmrec.context.scoring.AnswerScorer`, of the next
token (``method="next_token"``) or of summed continuation log-probabilities
(``method="continuation"``). Reranked
candidates are placed above every other item, which keep the base order, so full-ranking
metrics stay defined.

Example:
    >>> from llmrec.backends.hf import TransformersBackend
    >>> rec = LLMReranker(TransformersBackend("smollm2-135m-instruct"), base=EASE(),
    ...                   n_candidates=20, profiles=profiles)  # doctest: +SKIP
    >>> rec.fit(split.train).score(np.array([0]))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np

from llmrec.context.items import render_item_line
from llmrec.context.scoring import AnswerScale, AnswerScorer
from llmrec.context.view import UserContext
from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender

logger = logging.getLogger(__name__)

METHODS = ("next_token", "continuation")


class LLMReranker(Recommender):
    """Rerank a base recommender's candidates with an LLM's yes/no log-probabilities.

    Args:
        backend: A :class:`~llmrec.backends.base.Backend` or a spec for
            :func:`llmrec.backends.load_backend` (``"smollm2-135m-instruct"``).
        base: Recommender giving the candidates (fitted here on the same training data).
        n_candidates: Candidates reranked per user.
        profiles: ``user_id -> profile text`` (from :mod:`llmrec.profiles`); users without a
            profile (or every user, when ``None``) are described by their raw history.
        history: Recent training items shown when no profile is used.
        template: Prompt template name.
        method: ``"next_token"`` or ``"continuation"``.
        answers: The (positive, negative) answers scored.
        prompt_batch: Prompts per backend call (the backend batches further inside).
        progress: Show a progress bar over backend calls (``llmrec eval`` turns it on).
    """

    name = "llm_reranker"

    def __init__(
        self,
        backend: Any,
        base: Recommender,
        n_candidates: int = 20,
        profiles: Mapping[str, str] | None = None,
        history: int = 10,
        template: str = "rerank/yes_no",
        method: str = "next_token",
        answers: tuple[str, str] = ("Yes", "No"),
        prompt_batch: int = 256,
        progress: bool = False,
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method {method!r} is not one of {METHODS}")
        if n_candidates < 1:
            raise ValueError(f"n_candidates must be >= 1, got {n_candidates}")
        self.backend = backend
        self.base = base
        self.n_candidates = n_candidates
        self.profiles = dict(profiles) if profiles is not None else None
        self.history = history
        self.template = template
        self.method = method
        self.answers = tuple(answers)
        self.prompt_batch = prompt_batch
        self.progress = progress

    def config(self) -> dict[str, Any]:
        backend = self.backend
        return {
            "backend": backend
            if isinstance(backend, str)
            else getattr(backend, "fingerprint", "?"),
            "base": self.base.name,
            "n_candidates": self.n_candidates,
            "profiles": None if self.profiles is None else len(self.profiles),
            "history": self.history,
            "template": self.template,
            "method": self.method,
            "answers": list(self.answers),
        }

    def _fit(self, train: InteractionDataset) -> None:
        if isinstance(self.backend, str):
            from llmrec.backends import load_backend

            self.backend = load_backend(self.backend)
        self.base.fit(train)
        # The reranker shows the history without ratings: it asks about taste, not scores.
        self.context_ = UserContext(
            profiles=self.profiles or {},
            history=train,
            max_history=self.history,
            show_ratings=False,
        )

    def _chat(self, user_id: str, candidate_idx: int) -> list[dict[str, str]]:
        from llmrec.prompts import render_chat

        has_profile = self.profiles is not None and user_id in self.profiles
        user = self.context_.render(user_id, "profile" if has_profile else "history")
        candidate = self.train_.items[self.train_.item_ids[candidate_idx]]
        return render_chat(self.template, user_context=user, candidate=render_item_line(candidate))

    def llm_scores(
        self, chats: list[list[dict[str, str]]], groups: list[str] | None = None
    ) -> np.ndarray:
        """``log P(yes) - log P(no)`` for each chat, shape ``(len(chats),)``.

        With ``groups`` (one user id per chat), an in-process transformers backend computes
        each user's shared prompt prefix once (:mod:`llmrec.backends.grouped`): same scores,
        several times fewer prompt tokens.
        """
        yes, no = self.answers
        scorer = AnswerScorer(self.backend, AnswerScale((yes, no)), method=self.method)
        return scorer.score(chats, groups).log_odds(yes, no)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        from tqdm.auto import tqdm

        from llmrec.evaluation.protocols import topk_items, training_mask

        self._check_fitted()
        users = np.asarray(user_idx)
        base = np.asarray(self.base.score(users), dtype=np.float64)  # (n, n_items)
        excluded = training_mask(self.matrix_, users, self.n_items_)
        cands = topk_items(base, self.n_candidates, excluded)  # (n, n_candidates), -1 pads
        rows, cols = np.nonzero(cands >= 0)
        items = cands[rows, cols]
        owners = [str(self.train_.user_ids[int(users[r])]) for r in rows]
        chats = [self._chat(u, int(j)) for u, j in zip(owners, items)]
        llm = np.zeros(len(chats))  # (n_pairs,)
        starts = range(0, len(chats), self.prompt_batch)
        for start in tqdm(starts, desc="llm rerank", unit="batch", disable=not self.progress):
            stop = start + self.prompt_batch
            llm[start:stop] = self.llm_scores(chats[start:stop], owners[start:stop])
        out = np.where(excluded, -np.inf, base)
        finite_max = np.where(np.isfinite(out), out, -np.inf).max(axis=1)  # (n,)
        finite_max = np.where(np.isfinite(finite_max), finite_max, 0.0)
        llm_min = np.full(len(users), np.inf)
        np.minimum.at(llm_min, rows, llm)
        # Candidates go above every other item; among them the LLM decides the order.
        out[rows, items] = finite_max[rows] + 1.0 + (llm - llm_min[rows])
        return out
