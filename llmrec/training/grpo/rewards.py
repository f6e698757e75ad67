"""RLPA rewards for a policy that answers ``<profile>...</profile><response>...</response>``.

Every reward here is a trl reward function ``(completions, **columns) -> list[float]``:
trl's ``GRPOTrainer`` passes the dataset's extra columns (``gold_traits``, ``revealed_traits``)
as keyword arguments, and conversational completions as ``[{"role": "assistant", ...}]``.

* :class:`ProfileF1Reward`: format-gated profile F1 (Zhao et al., RLPA, arXiv 2505.15456). With
  ``n`` = inferred profile lines that match a gold trait (after :func:`normalise_trait`),
  ``P = n / lines``, ``R = n / gold traits``, reward ``F1 = 2PR / (P + R)``; 0 when the reply is
  malformed.
* :class:`ResponseRelevanceReward`: the lightweight response reward used when no judge model is
  configured: 1 when the response block is relevant to what the user revealed, of a sensible
  length and not repetitive, else 0 (also format-gated).
* :class:`KeepTalkingJudgeReward`: RLPA's response judge on any llmrec backend: the judge plays the
  user and the reward is ``P("Yes")`` to "would you keep talking?", normalised over Yes/No.
* :class:`FormatGatedReward`: puts any text reward (e.g. ``llmrec.judge.JudgeReward``) behind
  the format gate, showing it the response block only.
* :func:`tag_count_reward`: optional shaping, 0.25 per format tag present exactly once (as in
  open-r1's ``tag_count_reward``), so a policy that never hits the format still gets a signal.

Example:
    >>> reward = ProfileF1Reward()
    >>> reward(["<profile>\\nlikes Drama\\n</profile>\\n<response>\\nAny drama tonight?\\n</response>"],
    ...        gold_traits=[["likes Drama", "dislikes Horror"]])
    [0.6666666666666666]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

REPLY_RE = re.compile(
    r"^\s*<profile>(?P<profile>.*?)</profile>\s*<response>(?P<response>.*?)</response>\s*$",
    re.DOTALL,
)
TAGS = ("<profile>", "</profile>", "<response>", "</response>")
_BULLET = re.compile(r"^\s*(?:[-*\u2022]+|\d+[.)])\s*")
# Paraphrases of the verbs of synthetic traits, mapped to the canonical form of GoldProfile.
_VERBS = (
    (re.compile(r"^(?:the user |user |i )?(?:does not|doesn't|don't|do not) like "), "dislikes "),
    (re.compile(r"^(?:the user |user |i )?(?:dislike|dislikes|hate|hates) "), "dislikes "),
    (re.compile(r"^(?:the user |user |i )?(?:like|likes|love|loves|enjoy|enjoys) "), "likes "),
    (re.compile(r"^(?:the user |user |i )?(?:prefer|prefers) "), "prefers "),
    (re.compile(r"^(?:the user |user )?(?:i am|i'm|is) (?:a |an )?"), ""),
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "of",
        "from",
        "by",
        "and",
        "or",
        "to",
        "in",
        "on",
        "for",
        "with",
        "films",
        "film",
        "movies",
        "movie",
        "likes",
        "dislikes",
        "prefers",
        "used",
        "like",
        "but",
        "switched",
        "around",
    ]
)


@dataclass(frozen=True)
class PolicyReply:
    """A parsed reply: profile lines (non-empty, stripped) and the response text."""

    profile: list[str]
    response: str


def completion_text(completion: Any) -> str:
    """The text of a trl completion: a string, or the last message's content of a chat."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence) and completion and isinstance(completion[-1], dict):
        return str(completion[-1].get("content", ""))
    raise TypeError(f"a completion is a str or a list of messages, got {type(completion).__name__}")


def parse_reply(text: str) -> PolicyReply | None:
    """Parse ``<profile>...</profile><response>...</response>`` (whitespace around allowed).

    Returns ``None`` when the reply is malformed: tags missing, out of order, repeated, text
    outside the two blocks, or an empty response.
    """
    match = REPLY_RE.match(text)
    if match is None or any(text.count(tag) != 1 for tag in TAGS):
        return None
    response = match["response"].strip()
    if not response:
        return None
    lines = [_BULLET.sub("", line).strip() for line in match["profile"].splitlines()]
    return PolicyReply(profile=[line for line in lines if line], response=response)


def normalise_trait(text: str) -> str:
    """Canonical form of a trait line for exact matching against synthetic gold traits.

    Lower-cases, drops bullets and trailing punctuation, collapses whitespace and maps verb
    paraphrases ("I love", "the user enjoys", "doesn't like") onto the gold wording.

    Example:
        >>> normalise_trait("- I don't like Horror.")
        'dislikes horror'
    """
    value = _BULLET.sub("", text).strip().lower().rstrip(".!;,")
    value = re.sub(r"\s+", " ", value)
    for pattern, replacement in _VERBS:
        value, n = pattern.subn(replacement, value, count=1)
        if n:
            break
    return value.strip()


def profile_f1(predicted: Sequence[str], gold: Sequence[str]) -> float:
    """F1 of predicted trait lines against gold traits, matched after :func:`normalise_trait`.

    Duplicate predicted lines count once; ``P = n / |pred|``, ``R = n / |gold|``.

    Example:
        >>> profile_f1(["likes drama", "likes comedy"], ["likes Drama", "dislikes Horror"])
        0.5
    """
    pred = {normalise_trait(p) for p in predicted} - {""}
    gold_set = {normalise_trait(g) for g in gold} - {""}
    n = len(pred & gold_set)
    if n == 0:
        return 0.0
    precision, recall = n / len(pred), n / len(gold_set)
    return 2 * precision * recall / (precision + recall)


def content_words(traits: Sequence[str]) -> set[str]:
    """Lower-case words of trait lines that name something (genres, moods, directors, eras)."""
    words = set()
    for trait in traits:
        for word in re.findall(r"[a-z0-9][a-z0-9'-]*", trait.lower()):
            if word not in _STOPWORDS and len(word) > 2:
                words.add(word)
    return words


def format_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """1.0 for a well-formed reply (:func:`parse_reply`), else 0.0."""
    return [float(parse_reply(completion_text(c)) is not None) for c in completions]


def tag_count_reward(completions: Sequence[Any], **kwargs: Any) -> list[float]:
    """0.25 for each of the four tags that appears exactly once (shaping towards the format)."""
    out = []
    for c in completions:
        text = completion_text(c)
        out.append(sum(0.25 for tag in TAGS if text.count(tag) == 1))
    return out


class ProfileF1Reward:
    """Format-gated profile F1 against a column of trait lists.

    Args:
        target: Dataset column with the traits to match: ``"gold_traits"`` (RLPA: the whole
            hidden profile) or ``"revealed_traits"`` (only what the user said so far).
    """

    def __init__(self, target: str = "gold_traits") -> None:
        self.target = target
        self.__name__ = "profile_f1"

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        if self.target not in kwargs:
            raise ValueError(
                f"profile reward needs the dataset column {self.target!r}; got columns "
                f"{sorted(kwargs)}"
            )
        out = []
        for completion, traits in zip(completions, kwargs[self.target]):
            reply = parse_reply(completion_text(completion))
            out.append(0.0 if reply is None else profile_f1(reply.profile, traits))
        return out


class ResponseRelevanceReward:
    """Binary "would the user keep talking?" by rules, for runs without a judge model.

    A well-formed reply earns 1.0 when its response block (a) names at least one thing the user
    revealed (a genre, mood, director or era from ``revealed_traits``), (b) has between
    ``min_words`` and ``max_words`` words, (c) repeats no sentence and keeps a distinct-word
    ratio of at least ``min_distinct``, and (d) does not just echo the profile block. Otherwise
    0.0. Before the user has revealed anything, (a) is waived.

    Args:
        min_words: Shortest acceptable response.
        max_words: Longest acceptable response.
        min_distinct: Minimum share of distinct words among all words.
    """

    def __init__(self, min_words: int = 4, max_words: int = 80, min_distinct: float = 0.5) -> None:
        self.min_words, self.max_words, self.min_distinct = min_words, max_words, min_distinct
        self.__name__ = "response_relevance"

    def score(self, text: str, revealed: Sequence[str]) -> float:
        """The reward of one completion text given the traits revealed so far."""
        reply = parse_reply(text)
        if reply is None:
            return 0.0
        words = re.findall(r"[a-z0-9'-]+", reply.response.lower())
        if not self.min_words <= len(words) <= self.max_words:
            return 0.0
        if len(set(words)) / len(words) < self.min_distinct:
            return 0.0
        sentences = [s.strip() for s in re.split(r"[.!?\n]+", reply.response.lower()) if s.strip()]
        if len(sentences) != len(set(sentences)):
            return 0.0
        profile_lines = {line.lower() for line in reply.profile}
        if sentences and all(s in profile_lines for s in sentences):
            return 0.0
        wanted = content_words(revealed)
        if wanted and not wanted & set(words):
            return 0.0
        return 1.0

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        revealed = kwargs.get("revealed_traits")
        if revealed is None:
            raise ValueError(
                f"response reward needs the column 'revealed_traits'; got {sorted(kwargs)}"
            )
        return [self.score(completion_text(c), r) for c, r in zip(completions, revealed)]


class KeepTalkingJudgeReward:
    """RLPA's response judge on an llmrec backend: ``P(Yes)`` that the user keeps talking.

    The judge (``prompts/rlpa/response_judge``) plays the user, who holds the traits in
    ``judge_traits_column`` (default the gold traits), reads the last user turn and the
    assistant's response, and is asked one Yes/No question; the reward is
    ``p(Yes) / (p(Yes) + p(No))`` from one scoring pass
    (:class:`~llmrec.context.scoring.AnswerScorer`). Malformed replies get 0.

    Args:
        backend: Any :class:`~llmrec.backends.base.Backend` (or a spec for
            :func:`llmrec.backends.load_backend`).
        judge_traits_column: Column with the traits the judge role-plays.
        prompt: Template name of the judge prompt.
    """

    def __init__(
        self,
        backend: Any,
        judge_traits_column: str = "gold_traits",
        prompt: str = "rlpa/response_judge",
    ) -> None:
        if isinstance(backend, str):
            from llmrec.backends import load_backend

            backend = load_backend(backend)
        self.backend = backend
        self.column = judge_traits_column
        self.prompt = prompt
        self.__name__ = "keep_talking_judge"

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        from llmrec.context.scoring import AnswerScorer
        from llmrec.prompts import render_chat

        traits, prompts = kwargs.get(self.column), kwargs.get("prompts")
        if traits is None or prompts is None:
            raise ValueError(
                f"judge reward needs the columns {self.column!r} and 'prompts'; got {sorted(kwargs)}"
            )
        out = [0.0] * len(completions)
        chats, rows = [], []
        for row, (completion, prompt, user_traits) in enumerate(zip(completions, prompts, traits)):
            reply = parse_reply(completion_text(completion))
            if reply is None:
                continue
            last_user = next(
                (m["content"] for m in reversed(prompt) if m["role"] == "user"),
                str(prompt) if isinstance(prompt, str) else "",
            )
            chats.append(
                render_chat(
                    self.prompt, traits=list(user_traits), user=last_user, response=reply.response
                )
            )
            rows.append(row)
        if chats:
            p_yes = AnswerScorer(self.backend, "yes_no").score(chats).p("Yes")  # (n,)
            for row, p in zip(rows, p_yes):
                out[row] = float(p)
        return out


class FormatGatedReward:
    """Any trl reward function, shown only the response block of well-formed replies.

    Malformed replies get 0 without reaching ``reward_fn``; the other rows' columns are passed
    through, cut to those rows. This puts a judge that scores plain text (for example
    :class:`llmrec.judge.reward.JudgeReward`, which judges the item a completion names) behind
    RLPA's format gate.

    Args:
        reward_fn: ``(completions, **columns) -> list[float]``.
        name: Name trl logs the reward under (default: ``reward_fn.__name__``).

    Example:
        >>> gated = FormatGatedReward(lambda completions, **kw: [len(c) for c in completions])
        >>> gated(["<profile>\n</profile><response>Hi</response>", "Hi"])
        [2.0, 0.0]
    """

    def __init__(self, reward_fn: Any, name: str | None = None) -> None:
        self.reward_fn = reward_fn
        self.__name__ = name or getattr(reward_fn, "__name__", "gated_reward")

    def __call__(self, completions: Sequence[Any], **kwargs: Any) -> list[float]:
        parsed = [parse_reply(completion_text(c)) for c in completions]
        rows = [i for i, reply in enumerate(parsed) if reply is not None]
        out = [0.0] * len(completions)
        if not rows:
            return out
        n = len(completions)
        columns = {
            key: [value[i] for i in rows]
            if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == n
            else value
            for key, value in kwargs.items()
        }
        scores = self.reward_fn([parsed[i].response for i in rows], **columns)
        for i, score in zip(rows, scores):
            out[i] = float(score)
        return out


RESPONSE_REWARDS = ("relevance", "judge", "none")


def response_reward(kind: str = "relevance", judge_model: str | None = None, **options: Any):
    """The response reward a recipe config names.

    Args:
        kind: ``"relevance"`` (:class:`ResponseRelevanceReward`), ``"judge"``
            (:class:`KeepTalkingJudgeReward` on ``judge_model``) or ``"none"``.
        judge_model: Backend spec of the judge (alias, path, ``openai:<url>#<model>``).
        **options: Passed to the reward's constructor.

    Returns:
        A reward function, or ``None`` for ``"none"``.
    """
    if kind == "relevance":
        return ResponseRelevanceReward(**options)
    if kind == "judge":
        if not judge_model:
            raise ValueError("response_reward 'judge' needs judge_model (a backend spec)")
        return KeepTalkingJudgeReward(judge_model, **options)
    if kind == "none":
        return None
    raise ValueError(f"unknown response reward {kind!r}; valid: {list(RESPONSE_REWARDS)}")
