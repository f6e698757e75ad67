"""The load report: every finding counted by class and action, with the first examples."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np

from llmrec.data.errors import DataFormatError
from llmrec.data.validation.policy import ERROR, SKIP, ValidationPolicy

logger = logging.getLogger(__name__)


class LoadReport:
    """What a load found and did: counts by class and action, first examples with file:line.

    Args:
        policy: The policy deciding each finding.
        collect: Record ``error`` findings (and drop their rows) instead of raising at the
            first; ``llmrec data check`` loads this way to list every error at once.

    ``skipped`` + ``kept`` accounts for every row read from the interactions file.
    """

    max_examples = 5

    def __init__(self, policy: ValidationPolicy | None = None, collect: bool = False) -> None:
        self.policy = policy or ValidationPolicy()
        self.collect = collect
        self.counts: Counter[tuple[str, str]] = Counter()
        self.per_file: Counter[tuple[str, str]] = Counter()  # (file, action) -> rows
        self.examples: dict[str, list[str]] = {}
        self.notes: list[str] = []
        self.kept: dict[str, int] = {}

    # -- recording ------------------------------------------------------------------------
    def finding(self, name: str, error: DataFormatError, n: int = 1) -> str:
        """Record ``n`` findings of class ``name``; return the action taken.

        Raises ``error`` when the action is ``error`` (unless collecting); a collected error
        returns ``"error"`` and its rows are dropped like skipped ones.
        """
        action = self.policy.action(name)
        if action == ERROR and not self.collect:
            error.finding = name
            raise error
        return self.record(name, action, error, n)

    def record(self, name: str, action: str, error: DataFormatError, n: int = 1) -> str:
        """Count ``n`` findings of ``name`` handled by ``action`` (no policy lookup)."""
        self.counts[name, action] += n
        if action in (ERROR, SKIP):
            self.per_file[error.path, "dropped"] += n
        shown = self.examples.setdefault(name, [])
        if len(shown) < self.max_examples:
            shown.append(str(error))
        return action

    def handle(self, error: DataFormatError, name: str | None = None) -> str:
        """Route a row's :class:`DataFormatError` by its class (``error.finding`` by default)."""
        return self.finding(name or getattr(error, "finding", None) or "schema", error)

    def rows(
        self,
        name: str,
        mask: np.ndarray,
        lines: np.ndarray,
        path: object,
        field_name: str | None,
        message: Callable[[int], str],
    ) -> str | None:
        """Apply class ``name`` to the rows in ``mask`` at once; return the action (or ``None``).

        ``message(k)`` describes row ``k``. Raising names the first row and how many there are.
        """
        idx = np.flatnonzero(mask)
        if not len(idx):
            return None
        first = int(idx[0])
        more = f" ({len(idx)} such rows)" if len(idx) > 1 else ""
        action = self.policy.action(name)
        if action == ERROR and not self.collect:
            err = DataFormatError(path, int(lines[first]), field_name, message(first) + more)
            err.finding = name
            raise err
        shown = self.examples.setdefault(name, [])
        for k in idx[: max(0, self.max_examples - len(shown))]:
            shown.append(str(DataFormatError(path, int(lines[k]), field_name, message(int(k)))))
        self.counts[name, action] += len(idx)
        if action in (ERROR, SKIP):
            self.per_file[str(path), "dropped"] += len(idx)
        return action

    def note(self, text: str) -> None:
        """Record something worth knowing that is not a finding (no item file, observed range)."""
        if text not in self.notes:
            self.notes.append(text)

    def set_kept(self, path: object, n: int) -> None:
        self.kept[str(path)] = int(n)

    # -- reading --------------------------------------------------------------------------
    @property
    def errors(self) -> int:
        """Error findings recorded (only when collecting; otherwise the first one raised)."""
        return sum(n for (_, action), n in self.counts.items() if action == ERROR)

    @property
    def skipped(self) -> int:
        return sum(n for (_, action), n in self.counts.items() if action == SKIP)

    def dropped(self, path: object) -> int:
        """Rows of ``path`` dropped (skipped, or collected as errors)."""
        return self.per_file[str(path), "dropped"]

    def by_class(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for (name, action), n in sorted(self.counts.items()):
            out.setdefault(name, {})[action] = n
        return out

    def summary(self) -> str:
        """One line: what was dropped, fixed or kept, by class."""
        if not self.counts:
            return "no findings"
        parts = [
            f"{name}: " + ", ".join(f"{n} {action}" for action, n in actions.items())
            for name, actions in self.by_class().items()
        ]
        return "; ".join(parts)

    def format(self) -> str:
        """The report as ``llmrec data check`` prints it."""
        lines = []
        for path, kept in self.kept.items():
            dropped = self.dropped(path)
            lines.append(f"{path}: {kept + dropped} rows read, {kept} kept, {dropped} dropped")
        if not self.counts:
            lines.append("no findings")
        for name, actions in self.by_class().items():
            counts = ", ".join(f"{n} {action}" for action, n in actions.items())
            lines.append(f"  {name}: {counts}")
            lines.extend(f"    {example}" for example in self.examples.get(name, []))
        lines.extend(f"  note: {text}" for text in self.notes)
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": {p: {"kept": k, "dropped": self.dropped(p)} for p, k in self.kept.items()},
            "findings": self.by_class(),
            "examples": {k: list(v) for k, v in self.examples.items()},
            "notes": list(self.notes),
            "errors": self.errors,
        }

    def log(self) -> None:
        if self.counts:
            logger.warning("%s", self.summary())

    def __repr__(self) -> str:
        return f"LoadReport({self.summary()})"
