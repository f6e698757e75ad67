"""Errors and the bad-row policy shared by every loader."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)


class DataFormatError(ValueError):
    """A row or field does not match what its format requires.

    The message names the file, the line (1-based, header included) and the field, and says what
    was expected.
    """

    def __init__(self, path: object, line: int | None, field_name: str | None, message: str):
        self.path, self.line, self.field = str(path), line, field_name
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field {field_name!r}" if field_name else ""
        super().__init__(f"{where}:{what} {message}")


@dataclass
class BadRows:
    """Collects skipped rows when a loader runs with ``on_error="skip"``.

    Nothing is dropped silently: every skip is counted by reason, and the first few are kept.
    """

    on_error: str = "raise"
    count: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if self.on_error not in ("raise", "skip"):
            raise ValueError(f"on_error must be 'raise' or 'skip', got {self.on_error!r}")

    def handle(self, error: DataFormatError, reason: str) -> None:
        if self.on_error == "raise":
            raise error
        self.count += 1
        self.reasons[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(str(error))

    def skip(self, error: DataFormatError | str, reason: str) -> None:
        """Count a row dropped by an explicit policy (``unknown_items="skip"``, ``dedupe``)."""
        self.count += 1
        self.reasons[reason] += 1
        if len(self.examples) < 10:
            self.examples.append(str(error))

    def note(self, reason: str, n: int = 1) -> None:
        """Record something kept but worth reporting (duplicate rows kept, latin-1 lines)."""
        if n:
            self.notes[reason] += n

    def report(self) -> str:
        kept = "; ".join(f"kept {n} {why}" for why, n in self.notes.most_common())
        if not self.count:
            return "no rows skipped" + (f"; {kept}" if kept else "")
        parts = ", ".join(f"{n} {why}" for why, n in self.reasons.most_common())
        text = f"skipped {self.count} rows ({parts}); first: {self.examples[0]}"
        return text + (f"; {kept}" if kept else "")

    def to_dict(self) -> dict:
        return {
            "skipped": self.count,
            "reasons": dict(self.reasons),
            "kept": dict(self.notes),
            "examples": list(self.examples),
        }

    def log(self, path: object) -> None:
        if self.count or self.notes:
            logger.warning("%s: %s", path, self.report())
