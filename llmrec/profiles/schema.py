"""What a profile is: the structured schema, and the record each profile job writes.

Example:
    >>> from llmrec.profiles.schema import StructuredProfile
    >>> p = StructuredProfile(liked_genres="Drama, Comedy", summary="Likes gentle dramas.")
    >>> p.liked_genres
    ['Drama', 'Comedy']
    >>> p.to_text()
    'Likes genres: Drama, Comedy. Summary: Likes gentle dramas.'
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, fields
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

STATUSES = ("ok", "failed")
LIST_FIELDS = (
    "liked_genres",
    "disliked_genres",
    "liked_attributes",
    "disliked_attributes",
    "style",
)
TEXT_FIELDS = ("behaviour", "summary")


def _as_list(value: Any) -> list[str]:
    """Lenient list coercion: ``"A, B"`` and ``{"director": "X"}`` become lists of strings."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in re.split(r"[,;\n]", value) if part.strip()]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items() if str(v).strip()]
    if isinstance(value, (list, tuple)):
        out = []
        for entry in value:
            if isinstance(entry, dict):
                out.extend(_as_list(entry))
            elif entry is not None and str(entry).strip():
                out.append(str(entry).strip())
        return out
    if isinstance(value, (int, float, bool)):
        return [str(value)]
    raise ValueError(f"expected a list of strings, got {type(value).__name__}")


class StructuredProfile(BaseModel):
    """A user profile as JSON: liked/disliked genres and attributes, style, behaviour, summary.

    Validation is lenient about shape (a comma-separated string for a list, a list for a
    string) but strict about content: the object must hold at least one non-empty field, and
    unknown keys are ignored.

    Args:
        liked_genres: Genres the user likes.
        disliked_genres: Genres the user avoids.
        liked_attributes: Other liked qualities (directors, moods, eras, brands).
        disliked_attributes: Other disliked qualities.
        style: Traits such as ``"harsh critic"`` or ``"prefers older classics"``.
        behaviour: How the user watches or buys.
        summary: One or two sentences.
    """

    model_config = ConfigDict(extra="ignore")

    liked_genres: list[str] = []
    disliked_genres: list[str] = []
    liked_attributes: list[str] = []
    disliked_attributes: list[str] = []
    style: list[str] = []
    behaviour: str = ""
    summary: str = ""

    @field_validator(*LIST_FIELDS, mode="before")
    @classmethod
    def _lists(cls, value: Any) -> list[str]:
        # Repeated entries (small models loop) are kept once, first spelling and order kept.
        seen: set[str] = set()
        out = []
        for entry in _as_list(value):
            if entry.casefold() not in seen:
                seen.add(entry.casefold())
                out.append(entry)
        return out

    @field_validator(*TEXT_FIELDS, mode="before")
    @classmethod
    def _texts(cls, value: Any) -> str:
        if value is None:
            return ""
        if isinstance(value, (list, tuple)):
            return "; ".join(str(v).strip() for v in value if str(v).strip())
        if isinstance(value, dict):
            return "; ".join(f"{k}: {v}" for k, v in value.items())
        return str(value).strip()

    @model_validator(mode="after")
    def _not_empty(self) -> StructuredProfile:
        if not any(getattr(self, name) for name in LIST_FIELDS + TEXT_FIELDS):
            raise ValueError("the profile is empty: every field is missing or blank")
        return self

    def to_text(self) -> str:
        """A readable one-paragraph rendering, for prompts that take a profile as text."""
        parts = []
        labels = {
            "liked_genres": "Likes genres",
            "disliked_genres": "Dislikes genres",
            "liked_attributes": "Likes",
            "disliked_attributes": "Dislikes",
            "style": "Style",
        }
        for name, label in labels.items():
            values = getattr(self, name)
            if values:
                parts.append(f"{label}: {', '.join(values)}.")
        if self.behaviour:
            parts.append(f"Behaviour: {self.behaviour.rstrip('.')}.")
        if self.summary:
            parts.append(f"Summary: {self.summary}")
        return " ".join(parts)


@dataclass(frozen=True)
class ProfileRecord:
    """One user's profile as a profile job writes it (one JSON line).

    Args:
        user_id: The user.
        status: ``"ok"``, or ``"failed"`` when no valid profile came out (never dropped).
        text: The profile as text (free text, or :meth:`StructuredProfile.to_text`); empty
            when failed.
        raw: The model's last reply, verbatim.
        structured: The validated :class:`StructuredProfile` as a dict, for the structured
            format.
        error: Why it failed (or what was repaired), else ``None``.
        attempts: Model replies it took (1 plus regenerations).
        format: ``"free"`` or ``"structured"``.
        strategy: The strategy and its settings, e.g. ``"whole(token_budget=768)"``.
        prompt: The template used, with its version (``"profile/free_text@v1"``).
        model: The backend fingerprint.
        n_interactions: Training interactions the profile was built from.
        facts: The facts a grounded profile was written from
            (:class:`~llmrec.context.facts.ProfileFacts` as a dict), else ``None``.
    """

    user_id: str
    status: str
    text: str
    raw: str
    structured: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 1
    format: str = "free"
    strategy: str = ""
    prompt: str = ""
    model: str = ""
    n_interactions: int = 0
    facts: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any], where: str = "record") -> ProfileRecord:
        """Build from a decoded JSON line; ``where`` (``file:line``) is named in errors."""
        names = {f.name for f in fields(cls)}
        missing = [n for n in ("user_id", "status", "text", "raw") if n not in record]
        if missing:
            raise ValueError(
                f"{where}: a profile record needs {missing}; got keys {sorted(record)}"
            )
        try:
            return cls(**{k: v for k, v in record.items() if k in names})
        except (TypeError, ValueError) as err:
            raise ValueError(f"{where}: {err}") from err
