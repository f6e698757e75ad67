"""One validation layer for every loader: a policy per class of finding, and the load report.

Every loader (MovieLens, RecBole, Amazon, tables, Hugging Face) parses its files into rows and
sends them through the same checks; each finding belongs to a class, and the
:class:`ValidationPolicy` says for each class what happens:

* ``error``: stop with a :class:`~llmrec.data.errors.DataFormatError` naming file, line, field
  and what was expected;
* ``skip-and-report``: drop the row, count it under its class, keep the first examples;
* ``fix-and-report``: repair as the class documents (read milliseconds as such, add a bare
  item, keep the first of two item rows) and count it;
* ``keep-and-report``: keep the row as it is and count it (exact duplicate interactions).

Whatever is done is in the :class:`LoadReport` attached to the dataset as
``dataset.load_report`` and printed by ``llmrec data check PATH``. Some findings are always
errors, whatever the policy: a file that holds no interactions (or none left after skipping),
a directory or a symlink loop where a file is expected, a header without a required column.

Example:
    >>> from llmrec.data.validation import ValidationPolicy
    >>> policy = ValidationPolicy({"rating_range": "skip-and-report"}, rating_scale=(1, 5))
    >>> policy.action("rating_range"), policy.action("duplicate_item")
    ('skip-and-report', 'error')
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.errors import DataFormatError

logger = logging.getLogger(__name__)

ERROR = "error"
FIX = "fix-and-report"
SKIP = "skip-and-report"
KEEP = "keep-and-report"
ACTIONS = (ERROR, FIX, SKIP, KEEP)
_SHORT = {"raise": ERROR, "fix": FIX, "skip": SKIP, "keep": KEEP, "add": FIX}


@dataclass(frozen=True)
class FindingClass:
    """A class of finding: its default action, the actions it allows, and what ``fix`` does."""

    default: str
    allowed: tuple[str, ...]
    meaning: str


FINDINGS: Mapping[str, FindingClass] = MappingProxyType(
    {
        "schema": FindingClass(
            ERROR,
            (ERROR, SKIP),
            "a row that does not parse: wrong field count, invalid JSON or CSV, a value of the "
            "wrong type, a blank id",
        ),
        "missing_value": FindingClass(
            ERROR,
            (ERROR, SKIP),
            "a value the format requires is blank (MovieLens and Amazon ratings and timestamps)",
        ),
        "rating_range": FindingClass(
            ERROR, (ERROR, SKIP), "a rating outside the dataset's scale, or not finite"
        ),
        "timestamp_range": FindingClass(
            ERROR,
            (ERROR, SKIP),
            "a timestamp before the minimum (default 1970-01-01) or after the maximum "
            "(default 2100-01-01)",
        ),
        "timestamp_unit": FindingClass(
            FIX,
            (ERROR, FIX),
            "every timestamp is implausible in the declared unit and plausible in the other "
            "(milliseconds read as seconds, or the reverse); fix converts the column",
        ),
        "lossy_id": FindingClass(
            ERROR,
            (ERROR, SKIP),
            "an id stored as a floating-point number beyond 2**53, whose digits may be lost",
        ),
        "unknown_item": FindingClass(
            ERROR,
            (ERROR, SKIP, FIX),
            "an interaction whose item is not in the item file; fix adds a bare item",
        ),
        "unknown_user": FindingClass(
            ERROR,
            (ERROR, SKIP, FIX),
            "an interaction whose user is not in the user file; fix adds a bare user",
        ),
        "duplicate_item": FindingClass(
            ERROR,
            (ERROR, FIX),
            "two rows of the item file with one id and different fields; fix keeps the first "
            "(identical rows are always merged and counted)",
        ),
        "duplicate_user": FindingClass(
            ERROR,
            (ERROR, FIX),
            "two rows of the user file with one id and different fields; fix keeps the first",
        ),
        "duplicate_row": FindingClass(
            KEEP, (ERROR, SKIP, KEEP), "an interaction row identical to an earlier one"
        ),
        "missing_item_file": FindingClass(
            ERROR,
            (ERROR, FIX),
            "the format has an item file (u.item, movies.dat, movies.csv, meta_*.jsonl) but it "
            "is absent or has no rows; fix makes bare items from the interaction ids",
        ),
        "encoding": FindingClass(
            FIX,
            (ERROR, FIX),
            "a UTF-8 byte-order mark, gzip content under a plain name, or a MovieLens line in "
            "latin-1; fix reads them as such",
        ),
    }
)
TIMESTAMP_MAX = 4_102_444_800.0  # 2100-01-01 UTC
ROW_CLASSES = ("schema", "missing_value", "rating_range", "timestamp_range", "lossy_id")


def _action(value: str, name: str) -> str:
    action = _SHORT.get(value, value)
    if name not in FINDINGS:
        raise ValueError(f"unknown finding class {name!r}; classes: {sorted(FINDINGS)}")
    allowed = FINDINGS[name].allowed
    if action not in allowed:
        raise ValueError(f"{name} allows the actions {allowed}, got {value!r}")
    return action


@dataclass(frozen=True)
class RatingScale:
    """The ratings a dataset allows: ``low <= r <= high``, on multiples of ``step`` from ``low``."""

    low: float
    high: float
    step: float | None = None

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise ValueError(f"rating scale needs low <= high, got {self.low}..{self.high}")

    def outside(self, ratings: np.ndarray) -> np.ndarray:
        """Mask of finite-or-not ratings off the scale; NaN (missing) is never outside."""
        known = ~np.isnan(ratings)
        off = known & ((ratings < self.low) | (ratings > self.high) | ~np.isfinite(ratings))
        if self.step:
            steps = (ratings - self.low) / self.step
            off |= known & np.isfinite(ratings) & (np.abs(steps - np.round(steps)) > 1e-9)
        return off

    def __str__(self) -> str:
        step = f" in steps of {self.step:g}" if self.step else ""
        return f"{self.low:g}..{self.high:g}{step}"


@dataclass(frozen=True)
class ValidationPolicy:
    """What happens to each class of finding, and the domains values must fall in.

    Args:
        actions: Finding class -> action, overriding the defaults of :data:`FINDINGS`. Actions
            are ``error``, ``skip-and-report``, ``fix-and-report``, ``keep-and-report``
            (or ``raise``, ``skip``, ``fix``, ``keep``).
        rating_scale: ``(low, high)`` or ``(low, high, step)`` declared by the user; it replaces
            the scale a format knows (MovieLens 1..5, Amazon 1..5). Without either, ratings
            only need to be finite.
        timestamp_min: Earliest plausible time, seconds since the epoch (default 0, 1970).
        timestamp_max: Latest plausible time (default 2100-01-01). A fixed bound rather than
            "now", so a load does not change with the clock (synthetic worlds run into 2027);
            the year 3000 and milliseconds read as seconds are far beyond it.

    Example:
        >>> ValidationPolicy.from_options(on_error="skip").action("schema")
        'skip-and-report'
    """

    actions: Mapping[str, str] = field(default_factory=dict)
    rating_scale: RatingScale | tuple[float, ...] | None = None
    timestamp_min: float = 0.0
    timestamp_max: float = TIMESTAMP_MAX

    def __post_init__(self) -> None:
        resolved = {name: _action(value, name) for name, value in dict(self.actions).items()}
        object.__setattr__(self, "actions", MappingProxyType(resolved))
        scale = self.rating_scale
        if scale is not None and not isinstance(scale, RatingScale):
            scale = RatingScale(*(float(v) for v in scale))
        object.__setattr__(self, "rating_scale", scale)

    def action(self, name: str) -> str:
        """The action for finding class ``name``."""
        if name not in FINDINGS:
            raise ValueError(f"unknown finding class {name!r}; classes: {sorted(FINDINGS)}")
        return self.actions.get(name, FINDINGS[name].default)

    @classmethod
    def from_options(
        cls,
        policy: ValidationPolicy | Mapping[str, str] | None = None,
        *,
        on_error: str | None = None,
        unknown_items: str | None = None,
        dedupe: bool = False,
        rating_scale: tuple[float, ...] | None = None,
    ) -> ValidationPolicy:
        """The policy from a loader's keywords (the older switches are shortcuts into it).

        ``on_error="skip"`` skips every row-level class (:data:`ROW_CLASSES`);
        ``unknown_items`` is ``raise`` / ``skip`` / ``add``; ``dedupe=True`` skips duplicate
        rows. Entries of ``policy`` win over the shortcuts.
        """
        base = policy if isinstance(policy, ValidationPolicy) else None
        actions: dict[str, str] = {}
        if on_error is not None:
            if on_error not in ("raise", "skip"):
                raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
            actions.update({name: _SHORT[on_error] for name in ROW_CLASSES})
        if unknown_items is not None:
            if unknown_items not in ("raise", "skip", "add"):
                raise ValueError(
                    f"unknown_items must be one of ('raise', 'skip', 'add'), got {unknown_items!r}"
                )
            actions["unknown_item"] = _SHORT[unknown_items]
        if dedupe:
            actions["duplicate_row"] = SKIP
        if base is not None:
            actions = {**actions, **base.actions}
        elif policy is not None:
            actions.update(policy)
        scale = rating_scale if rating_scale is not None else (base and base.rating_scale)
        return cls(
            actions,
            rating_scale=scale or None,
            timestamp_min=base.timestamp_min if base else 0.0,
            timestamp_max=base.timestamp_max if base else TIMESTAMP_MAX,
        )


def _date(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%d")
    except (OverflowError, OSError, ValueError):
        return f"{seconds:.6g} s"


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

    # -- the interaction checks -----------------------------------------------------------
    def check_interactions(
        self,
        frame: pd.DataFrame,
        lines: np.ndarray,
        path: object,
        *,
        fields: Mapping[str, str] | None = None,
        rating_scale: RatingScale | tuple[float, ...] | None = None,
        required: tuple[str, ...] = (),
        timestamp_unit: str = "s",
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """Domains of the parsed interactions: required values, timestamps, ratings.

        Args:
            frame: ``user_id, item_id, timestamp (s), rating, review`` as parsed.
            lines: Source line of each row.
            path: The interactions file.
            fields: Canonical name -> the file's name for messages (``{"rating": "stars"}``).
            rating_scale: The format's scale; a scale in the policy replaces it.
            required: Canonical fields that must not be blank (``("rating", "timestamp")``).
            timestamp_unit: The unit numbers were read in (``"s"`` or ``"ms"``).

        Returns:
            The frame and lines without the dropped rows (timestamps converted if fixed).
        """
        fields = dict(fields or {})
        name_of = {k: fields.get(k, k) for k in ("timestamp", "rating")}
        drop = np.zeros(len(frame), bool)
        for canonical in required:
            blank = frame[canonical].isna().to_numpy() & ~drop
            got = self.rows(
                "missing_value",
                blank,
                lines,
                path,
                name_of.get(canonical, canonical),
                lambda k: "is required by this format, got nothing",
            )
            if got in (ERROR, SKIP):
                drop |= blank
        ts = frame["timestamp"].to_numpy(dtype=float)
        ts = self._fix_unit(ts, lines, path, name_of["timestamp"], timestamp_unit, drop)
        low = self.policy.timestamp_min
        high = self.policy.timestamp_max
        with np.errstate(invalid="ignore"):
            off = ~np.isnan(ts) & ((ts < low) | (ts > high) | ~np.isfinite(ts)) & ~drop
        got = self.rows(
            "timestamp_range",
            off,
            lines,
            path,
            name_of["timestamp"],
            lambda k: (
                f"{ts[k]:.10g} s ({_date(ts[k])}) is outside the plausible range "
                f"{_date(low)}..{_date(high)}"
            ),
        )
        if got in (ERROR, SKIP):
            drop |= off
        scale = self.policy.rating_scale or rating_scale
        if scale is not None and not isinstance(scale, RatingScale):
            scale = RatingScale(*scale)
        ratings = frame["rating"].to_numpy(dtype=float)
        if scale is not None:
            off = scale.outside(ratings) & ~drop
            what = f"the rating scale {scale}"
        else:
            off = ~np.isnan(ratings) & ~np.isfinite(ratings) & ~drop
            what = "a finite number"
        got = self.rows(
            "rating_range",
            off,
            lines,
            path,
            name_of["rating"],
            lambda k: f"{ratings[k]:g} is outside {what}",
        )
        if got in (ERROR, SKIP):
            drop |= off
        frame = frame.assign(timestamp=ts)
        known = ratings[~drop & ~np.isnan(ratings)]
        if scale is None and len(known):
            self.note(
                f"ratings observed {known.min():g}..{known.max():g}; no scale declared "
                "(pass rating_scale=(low, high) to check them)"
            )
        if drop.any():
            return frame[~drop].reset_index(drop=True), lines[~drop]
        return frame, lines

    def _fix_unit(
        self,
        ts: np.ndarray,
        lines: np.ndarray,
        path: object,
        field_name: str,
        unit: str,
        drop: np.ndarray,
    ) -> np.ndarray:
        """Detect milliseconds read as seconds (and the reverse) over the whole column."""
        known = ts[~np.isnan(ts) & ~drop]
        if not len(known) or not np.isfinite(known).all():
            return ts
        low, high = self.policy.timestamp_min, self.policy.timestamp_max
        plausible = lambda v: (v >= low).all() and (v <= high).all()  # noqa: E731
        # 1e11 s is the year 5138: beyond any ISO date a file would hold, so these are numbers.
        # Read as milliseconds, seconds since 2000 fall in January 1970 (below 1e8 s, 1973).
        if unit == "s" and (known > max(high, 1e11)).all() and plausible(known / 1000.0):
            factor, said, real = 1 / 1000.0, "seconds", "milliseconds"
        elif unit == "ms" and (known < 1e8).all() and plausible(known * 1000.0):
            factor, said, real = 1000.0, "milliseconds", "seconds"
        else:
            return ts
        first = int(np.flatnonzero(~np.isnan(ts) & ~drop)[0])
        err = DataFormatError(
            path,
            int(lines[first]),
            field_name,
            f"all {len(known)} timestamps are implausible as {said} "
            f"({_date(known.min() if unit == 's' else known.max())}) and plausible as {real} "
            f"({_date(known.min() * factor)}..{_date(known.max() * factor)})",
        )
        if self.finding("timestamp_unit", err, n=len(known)) == FIX:
            return ts * factor
        return ts


class Catalogue:
    """The rows of an item or user file keyed by id; a repeated id is a finding.

    Identical repeats are merged and counted (``fix-and-report`` always); repeats that differ
    follow the policy for ``duplicate_item`` / ``duplicate_user``: an error, or the first row
    wins and the report says which line was kept.

    Args:
        kind: ``"item"`` or ``"user"``.
        path: The file, for messages.
        report: The load report.
    """

    def __init__(self, kind: str, path: object, report: LoadReport) -> None:
        self.kind, self.path, self.report = kind, path, report
        self.rows: dict[str, Any] = {}
        self.lines: dict[str, int] = {}

    def add(self, key: str, value: Any, line: int, field_name: str | None = None) -> None:
        if key not in self.rows:
            self.rows[key], self.lines[key] = value, line
            return
        first = self.lines[key]
        name = f"duplicate_{self.kind}"
        if self.rows[key] == value:
            err = DataFormatError(
                self.path, line, field_name, f"repeats line {first} exactly; merged into one"
            )
            self.report.record(name, FIX, err)
            return
        err = DataFormatError(
            self.path,
            line,
            field_name,
            f"{self.kind} {key!r} is also on line {first} with different fields; "
            f"which one is meant is unknown (policy {name}=fix keeps line {first})",
        )
        self.report.finding(name, err)
