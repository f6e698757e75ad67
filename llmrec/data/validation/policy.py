"""Classes of finding, the actions a policy can take on each, and the rating scale."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

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
