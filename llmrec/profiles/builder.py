"""Turning training histories into profiles with a backend, batched over users.

:class:`ProfileBuilder` renders each user's view (from a strategy) into a prompt, runs the
first stage of multi-stage strategies (chunk notes) for all users in one batched call, generates
the profiles in one batched call, and validates them. Structured profiles that fail validation
are sent back with the error (``max_repairs`` times at most); what still fails becomes a
``failed`` record holding the raw reply: never dropped, never invented.

Example:
    >>> from llmrec.backends import load_backend
    >>> from llmrec.data import load_dataset, leave_one_out
    >>> from llmrec.profiles import ProfileBuilder
    >>> split = leave_one_out(load_dataset("ml-100k"))
    >>> builder = ProfileBuilder(load_backend("smollm2-135m-instruct"), strategy="recent")
    >>> records = builder.build(split.train, ["1", "2"])
    >>> records[0].text
    'The user enjoys ...'
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from llmrec.backends.base import Backend, Chat, GenerationParams
from llmrec.context.facts import ProfileFacts
from llmrec.context.history import (
    LINE_TEMPLATE,
    HistoryEntry,
    history_entries,
    render_lines,
    token_counter,
)
from llmrec.data.records import InteractionDataset
from llmrec.profiles.hygiene import cut_loop
from llmrec.profiles.mentions import polar_mentions
from llmrec.profiles.schema import ProfileRecord, StructuredProfile
from llmrec.profiles.strategies import Strategy, UserView, make_strategy
from llmrec.profiles.structured import parse_structured
from llmrec.prompts import render, render_chat, version_of

logger = logging.getLogger(__name__)

FORMATS = ("free", "structured")
DEFAULT_PROMPTS = {"free": "profile/free_text", "structured": "profile/structured"}
GROUNDED_PROMPT = "profile/grounded"
FACTS_TEMPLATE = "profile/facts"
FACTS_TEXT_TEMPLATE = "profile/facts_text"
DEFAULT_MAX_NEW_TOKENS = {"free": 160, "structured": 224}
# Sentences the model writes from the facts: the whole free-text profile, or the structured
# profile's summary (its other fields come from the facts).
GROUNDED_SENTENCES = {"free": 4, "structured": 2}
GROUNDED_MAX_NEW_TOKENS = {"free": 128, "structured": 96}
# Mild CTRL-style penalty: with greedy decoding and no penalty SmolLM2 loops on a share of
# users (docs/profiles.md, "Generation hygiene"); loops that still happen are cut.
DEFAULT_REPETITION_PENALTY = 1.1


@dataclass
class _Reply:
    """One profile reply on its way to a record, through validation and repair."""

    raw: str
    attempts: int = 1
    error: str | None = None
    note: str | None = None
    structured: dict | None = None
    text: str = ""
    facts: ProfileFacts | None = None


class ProfileBuilder:
    """Builds profiles for users of a dataset (give it ``split.train``).

    Args:
        backend: Any :class:`~llmrec.backends.base.Backend`.
        strategy: A :class:`~llmrec.profiles.strategies.Strategy` or its name (default
            ``"grounded"``: facts computed from the history, written up by the model).
        format: ``"free"`` or ``"structured"``. A grounded structured profile takes its
            fields from the computed facts and only its summary from the model.
        params: Generation parameters of the profile call (default greedy with repetition
            penalty 1.1, 160 new tokens for free text, 224 for structured; 128 and 96 for the
            grounded strategy, whose model part is a short note). Every reply is cut
            at its first repetition loop (:func:`~llmrec.profiles.hygiene.cut_loop`).
        prompt: Template name (``"profile/free_text@v1"``) or a path to your own template;
            default the latest template of the format (``profile/grounded`` for the grounded
            strategy).
        summary_prompt: Template of the hierarchical first stage.
        repair_prompt: Template sent with an invalid structured reply.
        max_repairs: Regenerations allowed for an invalid structured reply.
        summary_tokens: New tokens per chunk note (hierarchical).
        line_template: Template of one history line.
    """

    def __init__(
        self,
        backend: Backend,
        strategy: Strategy | str = "grounded",
        format: str = "free",  # noqa: A002 - the user-facing name
        params: GenerationParams | None = None,
        prompt: str | None = None,
        summary_prompt: str = "profile/chunk_summary",
        repair_prompt: str = "profile/repair",
        max_repairs: int = 2,
        summary_tokens: int = 96,
        line_template: str = LINE_TEMPLATE,
    ) -> None:
        if format not in FORMATS:
            raise ValueError(f"profile format must be one of {FORMATS}, got {format!r}")
        if max_repairs < 0:
            raise ValueError(f"max_repairs must be >= 0, got {max_repairs}")
        self.backend = backend
        self.strategy = make_strategy(strategy) if isinstance(strategy, str) else strategy
        self.format = format
        self.grounded = self.strategy.name == "grounded"
        budget = GROUNDED_MAX_NEW_TOKENS if self.grounded else DEFAULT_MAX_NEW_TOKENS
        self.params = params or GenerationParams(
            max_new_tokens=budget[format], repetition_penalty=DEFAULT_REPETITION_PENALTY
        )
        self.prompt = prompt or (GROUNDED_PROMPT if self.grounded else DEFAULT_PROMPTS[format])
        self.summary_prompt = summary_prompt
        self.repair_prompt = repair_prompt
        self.max_repairs = max_repairs
        self.summary_tokens = summary_tokens
        self.line_template = line_template
        self.prompt_version = version_of(self.prompt)
        self._count = token_counter(backend)
        self._vocab: tuple[str, ...] = ()
        self._bound: Strategy = self.strategy

    # -- prompts ----------------------------------------------------------------------------
    def views(self, dataset: InteractionDataset, user_ids: Sequence[str]) -> list[UserView]:
        """Each user's view under the strategy (from ``dataset``'s interactions only)."""
        self._bound = self.strategy.bind(dataset)
        if self.grounded:
            from llmrec.context.facts import item_values

            attribute = getattr(self._bound, "attribute", "genres")
            self._vocab = tuple(
                sorted({v for it in dataset.items.values() for v in item_values(it, attribute)})
            )
        return [self.view_of(str(uid), history_entries(dataset, str(uid))) for uid in user_ids]

    def view_of(self, user_id: str, entries: Sequence[HistoryEntry]) -> UserView:
        """The strategy's view of the given entries (part of a history, as LettinGo's DPO uses)."""
        return self._bound.view(
            str(user_id), entries, render_lines(entries, self.line_template), self._count
        )

    def summarise(self, views: Sequence[UserView]) -> list[list[str]]:
        """Notes on every chunk of every view, from one batched call (hierarchical stage 1)."""
        chats, owners = [], []
        for k, view in enumerate(views):
            for part, chunk in enumerate(view.chunks, start=1):
                chats.append(
                    render_chat(
                        self.summary_prompt, lines=chunk, part=part, parts=len(view.chunks) + 1
                    )
                )
                owners.append(k)
        notes: list[list[str]] = [[] for _ in views]
        if chats:
            params = GenerationParams(max_new_tokens=self.summary_tokens)
            for k, note in zip(owners, self.backend.generate(chats, params)):
                notes[k].append(note)
        return notes

    def chat(self, view: UserView, notes: Sequence[str] = ()) -> Chat:
        """The final profile prompt of one view."""
        if view.facts is not None:
            return render_chat(
                self.prompt,
                facts=render(FACTS_TEMPLATE, f=view.facts).rstrip(),
                lines=view.lines,
                sentences=GROUNDED_SENTENCES[self.format],
            )
        return render_chat(
            self.prompt,
            lines=view.lines,
            n_omitted=view.n_omitted,
            summaries=list(notes),
            previous=view.previous,
        )

    # -- running ----------------------------------------------------------------------------
    def build(self, dataset: InteractionDataset, user_ids: Sequence[str]) -> list[ProfileRecord]:
        """One profile record per user, in ``user_ids`` order."""
        return [records[0] for records in self._run(dataset, user_ids, self.params)]

    def sample(
        self,
        dataset: InteractionDataset,
        user_ids: Sequence[str],
        n: int,
        temperature: float = 1.0,
        seed: int = 0,
    ) -> dict[str, list[ProfileRecord]]:
        """``n`` sampled profile records per user (see :func:`llmrec.profiles.sample_profiles`)."""
        params = GenerationParams(
            max_new_tokens=self.params.max_new_tokens,
            temperature=temperature,
            top_p=self.params.top_p,
            seed=seed,
            n=n,
            stop=self.params.stop,
            repetition_penalty=self.params.repetition_penalty,
        )
        runs = self._run(dataset, user_ids, params)
        return {str(uid): records for uid, records in zip(user_ids, runs)}

    def _run(
        self, dataset: InteractionDataset, user_ids: Sequence[str], params: GenerationParams
    ) -> list[list[ProfileRecord]]:
        views = self.views(dataset, user_ids)
        active = [k for k, v in enumerate(views) if v.lines or v.chunks]
        notes = self.summarise([views[k] for k in active])
        chats = [self.chat(views[k], note) for k, note in zip(active, notes)]
        flat = self.backend.generate(chats, params) if chats else []
        replies: dict[tuple[int, int], _Reply] = {}
        for pos, k in enumerate(active):
            for j in range(params.n):
                replies[(k, j)] = _Reply(raw=flat[pos * params.n + j], facts=views[k].facts)
        self._validate(replies, params)
        out = []
        for k, view in enumerate(views):
            if k not in active:
                failed = self._record(view, _Reply("", 0, "no training interactions"), "failed")
                out.append([failed] * params.n)
                continue
            out.append([self._finish(view, replies[(k, j)]) for j in range(params.n)])
        return out

    def _validate(self, replies: dict[tuple[int, int], _Reply], params: GenerationParams) -> None:
        for reply in replies.values():
            self._check(reply)
        for round_ in range(self.max_repairs):
            broken = [
                key
                for key, r in replies.items()
                if r.error and self.format == "structured" and r.facts is None
            ]
            if not broken:
                return
            chats = [
                render_chat(self.repair_prompt, raw=replies[key].raw, error=replies[key].error)
                for key in broken
            ]
            repair = GenerationParams(
                max_new_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                seed=None if params.seed is None else params.seed + round_ + 1,
                repetition_penalty=params.repetition_penalty,
            )
            for key, raw in zip(broken, self.backend.generate(chats, repair)):
                reply = replies[key]
                reply.raw, reply.attempts = raw, reply.attempts + 1
                self._check(reply)
                if not reply.error:
                    reply.note = f"valid after {reply.attempts - 1} regeneration(s)"

    def _check(self, reply: _Reply) -> None:
        if reply.facts is not None:
            self._check_grounded(reply)
            return
        if self.format == "free":
            reply.text = cut_loop(reply.raw.strip())
            reply.error = None if reply.text else "empty reply"
            if reply.text and reply.text != reply.raw.strip():
                reply.note = "cut at a repetition loop"
            return
        result = parse_structured(reply.raw)
        reply.error, reply.note = result.error, result.note
        if result.profile is not None:
            reply.structured = result.profile.model_dump()
            reply.text = result.profile.to_text()

    def _check_grounded(self, reply: _Reply) -> None:
        """Facts sentences first, then the model's note: loops cut, ungrounded sentences out."""
        note, notes = ground_note(reply.raw, reply.facts, self._vocab)
        opening = render(FACTS_TEXT_TEMPLATE, f=reply.facts).strip()
        if not note:
            notes.append("the model's note was empty; facts only")
        reply.note = "; ".join(notes) or None
        if self.format == "structured":
            profile = facts_profile(reply.facts, summary=note or opening)
            reply.structured = profile.model_dump()
            reply.text = profile.to_text()
        else:
            # A note repeating a facts sentence would make the whole profile loop: cut it too.
            reply.text = cut_loop(f"{opening} {note}".strip())
        reply.error = None if reply.text else "empty reply"

    def _finish(self, view: UserView, reply: _Reply) -> ProfileRecord:
        if reply.error:
            return self._record(view, reply, "failed")
        return self._record(view, reply, "ok")

    def _record(self, view: UserView, reply: _Reply, status: str) -> ProfileRecord:
        ok = status == "ok"
        return ProfileRecord(
            user_id=view.user_id,
            status=status,
            text=reply.text if ok else "",
            raw=reply.raw,
            structured=reply.structured if ok else None,
            error=reply.note if ok else reply.error,
            attempts=reply.attempts,
            facts=None if view.facts is None else view.facts.to_dict(),
            format=self.format,
            strategy=self.strategy.describe(),
            prompt=self.prompt_version,
            model=self.backend.fingerprint,
            n_interactions=view.n_interactions,
        )

    def settings(self) -> dict[str, str]:
        """What makes two runs comparable: checked when a job resumes into an existing file."""
        return {
            "format": self.format,
            "strategy": self.strategy.describe(),
            "prompt": self.prompt_version,
            "model": self.backend.fingerprint,
        }


def facts_profile(facts: ProfileFacts, summary: str) -> StructuredProfile:
    """A structured profile whose fields are the computed facts; only ``summary`` is generated.

    ``liked_genres`` / ``disliked_genres`` hold the clear likes and dislikes of the facts'
    attribute (genres, categories, authors, ...), ``liked_attributes`` the leading eras and rising
    values, ``disliked_attributes`` the fading ones, ``style`` the rating style, era and pace.
    """
    era = [f"{decade} titles" for decade, _ in facts.decades[:1]]
    behaviour = f"{facts.n_interactions} interactions"
    if facts.per_week is not None:
        behaviour += f", about {facts.per_week:.1f} a week over {facts.span_days:.0f} days"
    return StructuredProfile(
        liked_genres=list(facts.likes),
        disliked_genres=list(facts.dislikes),
        liked_attributes=era + [f"more {v} lately" for v in facts.rising],
        disliked_attributes=[f"less {v} lately" for v in facts.fading],
        style=facts.style(),
        behaviour=behaviour,
        summary=summary,
    )


def ground_note(raw: str, facts: ProfileFacts, vocabulary: Sequence[str]) -> tuple[str, list[str]]:
    """The model's note on the facts, kept only where it agrees with them.

    The reply is cut at its first repetition loop; then every sentence is read by clause
    polarity (:func:`~llmrec.profiles.mentions.polar_mentions` over ``vocabulary``, all genres
    say) and dropped unless what it states as liked is among the likes or rising values and
    what it states as disliked among the dislikes or fading values. So the note can add words,
    never a taste the facts do not show. Returns ``(note, what was done)``.
    """
    done = []
    text = cut_loop(raw.strip())
    if text != raw.strip():
        done.append("cut at a repetition loop")
    positive = set(facts.likes) | set(facts.rising)
    negative = set(facts.dislikes) | set(facts.fading)
    kept, dropped = [], 0
    for sentence in re.split(r"(?<=[.!?])\s+", text):
        if not sentence.strip():
            continue
        liked, disliked = polar_mentions(sentence, vocabulary)
        if set(liked) - positive or set(disliked) - negative:
            dropped += 1
            continue
        kept.append(sentence.strip())
    if dropped:
        done.append(f"dropped {dropped} sentence(s) stating tastes the facts do not show")
    return " ".join(kept), done
