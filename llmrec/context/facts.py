"""Facts about a user computed from the training history, deterministically (no model).

A grounded profile starts here: what the history shows about one categorical attribute (genres
by default; any categorical field of the items, such as ``category`` or ``author``, by name),
counted and averaged, plus eras, rating style, activity pace and recent change. The profile
model is then asked to write from these facts only (:class:`~llmrec.profiles.strategies.Grounded`),
and structured profiles take their fields from here rather than from the model's guess.

Definitions (``n_v``: the user's interactions with value ``v``; ``m_v``: their mean rating;
``mu``: the user's mean rating; ``b_v``: the share of all training interactions with ``v``):

- **clear likes**: values with at least ``like_support`` interactions rated 4-5, ranked by a
  recency-weighted count of such interactions (the recent half counts ``recent_weight`` times,
  so that a taste the user moved to outranks one they left), whose mean rating is not below
  ``mu - like_margin``, and whose weight is at least ``min_relative`` times the first's; at most
  ``max_likes``. A user without
  ratings gets the most frequent values instead (``likes_basis == "count"``).
- **clear dislikes**: values with at least ``min_support`` rated interactions and
  ``m_v <= min(mu - dislike_margin, 3)``; and values the user *avoids*: common in the
  catalogue (``b_v >= avoid_base``) but at most ``avoid_ratio * b_v * n`` of the user's
  ``n`` interactions (expected count shown as support).
- **recent change**: the history is cut in an older and a recent half (by position); a value
  is *rising* when its share grew by at least ``min_shift``, it has ``min_support``
  interactions in the recent half and it is a clear like; *fading* when its share fell by
  ``min_shift``, it had ``min_support`` in the older half and it is not a clear like.

Example:
    >>> from llmrec.context.facts import user_facts
    >>> facts = user_facts(split.train, "1")  # doctest: +SKIP
    >>> facts.likes  # doctest: +SKIP
    ('Drama', 'Comedy', 'Action')
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from llmrec.context.history import HistoryEntry, history_entries
from llmrec.data.records import InteractionDataset, Item

WEEK = 7 * 86400.0


@dataclass(frozen=True)
class FactsConfig:
    """Thresholds of the fact rules (see the module docstring for each)."""

    attribute: str = "genres"
    min_support: int = 2
    like_support: int = 1
    max_likes: int = 3
    max_dislikes: int = 2
    like_margin: float = 1.0
    dislike_margin: float = 0.75
    recent_weight: float = 3.0
    avoid_base: float = 0.08
    avoid_ratio: float = 0.25
    min_shift: float = 0.15
    top_values: int = 6
    min_relative: float = 0.0

    def __post_init__(self) -> None:
        if (
            self.min_support < 1
            or self.like_support < 1
            or self.max_likes < 1
            or self.max_dislikes < 0
        ):
            raise ValueError(
                "FactsConfig: min_support and max_likes must be >= 1 and max_dislikes >= 0, got "
                f"{self.min_support}, {self.max_likes}, {self.max_dislikes}"
            )


@dataclass(frozen=True)
class ValueStat:
    """One attribute value in a user's history: counts and mean rating."""

    value: str
    count: int
    rated: int
    mean_rating: float | None
    high: int  # interactions rated 4-5
    low: int  # interactions rated 1-2


@dataclass(frozen=True)
class ProfileFacts:
    """What a user's training history shows; every number is computed, none generated.

    Args:
        user_id: The user.
        attribute: The categorical attribute the value facts are about (``"genres"``).
        n_interactions: Training interactions used.
        values: Per-value statistics, most frequent first (at most ``top_values``).
        likes: Clear likes, strongest first.
        like_support: ``value -> interactions rated 4-5`` (or count, see ``likes_basis``).
        likes_basis: ``"rating"`` or ``"count"`` (no ratings in the history).
        dislikes: Clear dislikes (low ratings) and avoided values.
        dislike_support: ``value -> "n rated, mean m"`` or ``"k seen, e expected"``.
        decades: ``(decade, count)`` most frequent first, e.g. ``(("1990s", 12), ...)``.
        median_year: Median release year of the history's items.
        mean_rating: The user's mean rating (``None`` without ratings).
        share_high: Share of ratings of 4-5.
        share_low: Share of ratings of 1-2.
        rating_style: ``"generous"``, ``"harsh"``, ``"balanced"`` or ``None``.
        per_week: Interactions per week over the active span (``None`` without timestamps).
        span_days: Days between first and last interaction.
        rising: Values gaining share in the recent half.
        fading: Values losing share in the recent half.
    """

    user_id: str
    attribute: str
    n_interactions: int
    values: tuple[ValueStat, ...] = ()
    likes: tuple[str, ...] = ()
    like_support: Mapping[str, int] = field(default_factory=dict)
    likes_basis: str = "rating"
    dislikes: tuple[str, ...] = ()
    dislike_support: Mapping[str, str] = field(default_factory=dict)
    decades: tuple[tuple[str, int], ...] = ()
    median_year: int | None = None
    mean_rating: float | None = None
    share_high: float | None = None
    share_low: float | None = None
    rating_style: str | None = None
    per_week: float | None = None
    span_days: float | None = None
    rising: tuple[str, ...] = ()
    fading: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["like_support"] = dict(self.like_support)
        out["dislike_support"] = dict(self.dislike_support)
        return out

    def style(self) -> list[str]:
        """Style traits as short phrases (rating style, era, pace)."""
        out = []
        if self.rating_style is not None:
            out.append(f"{self.rating_style} rater (mean {self.mean_rating:.1f}/5)")
        if self.decades:
            out.append(f"mostly {self.decades[0][0]} titles")
        if self.per_week is not None:
            out.append(f"{self.per_week:.1f} interactions a week")
        return out

    def changes(self) -> list[str]:
        """Recent change as phrases (``"more Comedy lately"``)."""
        return [f"more {v} lately" for v in self.rising] + [f"less {v} lately" for v in self.fading]


def item_values(item: Item, attribute: str = "genres") -> tuple[str, ...]:
    """The values of a categorical attribute of an item (a list field or one string).

    Raises:
        TypeError: when the attribute holds something other than strings.
    """
    if attribute == "genres":
        raw: Any = item.genres
    elif attribute == "year":
        raw = None if item.year is None else str(item.year)
    else:
        raw = item.attributes.get(attribute)
    if raw is None:
        return ()
    if isinstance(raw, str):
        return (raw.strip(),) if raw.strip() else ()
    if isinstance(raw, (list, tuple)):
        return tuple(str(v).strip() for v in raw if str(v).strip())
    raise TypeError(
        f"item {item.item_id!r}: attribute {attribute!r} must be a string or a list of strings "
        f"for grounded facts, got {type(raw).__name__}"
    )


def base_shares(dataset: InteractionDataset, attribute: str = "genres") -> dict[str, float]:
    """Share of the dataset's interactions whose item has each value (pass ``split.train``)."""
    per_item = dataset.interactions["item_id"].value_counts()
    total = float(per_item.sum()) or 1.0
    counts: Counter[str] = Counter()
    for item_id, n in per_item.items():
        for value in item_values(dataset.items[item_id], attribute):
            counts[value] += int(n)
    return {v: c / total for v, c in counts.items()}


def _value_stats(entries: Sequence[HistoryEntry], attribute: str) -> list[ValueStat]:
    ratings: dict[str, list[float]] = defaultdict(list)
    counts: Counter[str] = Counter()
    for e in entries:
        for value in item_values(e.item, attribute):
            counts[value] += 1
            if e.interaction.rating is not None:
                ratings[value].append(float(e.interaction.rating))
    stats = []
    for value, n in counts.items():
        r = np.array(ratings[value])
        stats.append(
            ValueStat(
                value=value,
                count=n,
                rated=len(r),
                mean_rating=round(float(r.mean()), 2) if len(r) else None,
                high=int((r >= 4).sum()),
                low=int((r <= 2).sum()),
            )
        )
    # Most frequent first; ties by name so the order never depends on dict order.
    return sorted(stats, key=lambda s: (-s.count, s.value))


def _likes(entries, attribute, mu, cfg, by_value):
    half = len(entries) // 2
    weight: Counter[str] = Counter()
    rated = mu is not None
    for pos, e in enumerate(entries):
        if rated and (e.interaction.rating is None or e.interaction.rating < 4):
            continue
        w = cfg.recent_weight if pos >= half else 1.0
        for value in item_values(e.item, attribute):
            weight[value] += w
    picked = []
    ranked = sorted(weight.items(), key=lambda kv: (-kv[1], kv[0]))
    for value, w in ranked:
        if w < cfg.min_relative * ranked[0][1]:
            break
        stat = by_value[value]
        support = stat.high if rated else stat.count
        if support < cfg.like_support:
            continue
        if rated and stat.mean_rating is not None and stat.mean_rating < mu - cfg.like_margin:
            continue
        picked.append((value, support))
        if len(picked) == cfg.max_likes:
            break
    if not picked and by_value:  # a short history: name the most frequent value, with support
        top = max(by_value.values(), key=lambda s: (s.count, s.value))
        picked = [(top.value, top.count)]
        rated = False
    return picked, "rating" if rated else "count"


def _dislikes(stats, n, mu, base, liked, cfg):
    out: dict[str, str] = {}
    if mu is not None:
        cutoff = min(mu - cfg.dislike_margin, 3.0)
        lows = [
            s
            for s in stats
            if s.rated >= cfg.min_support and s.mean_rating is not None and s.mean_rating <= cutoff
        ]
        for s in sorted(lows, key=lambda s: (s.mean_rating, -s.rated, s.value)):
            if s.value not in liked:
                out[s.value] = f"{s.rated} rated, mean {s.mean_rating:.1f}"
    seen = {s.value: s.count for s in stats}
    avoided = []
    for value, share in base.items():
        expected = share * n
        common = share >= cfg.avoid_base and expected >= cfg.min_support
        rare = seen.get(value, 0) <= cfg.avoid_ratio * expected
        if common and rare and value not in liked and value not in out:
            avoided.append((seen.get(value, 0) / expected, -expected, value))
    for _, neg_expected, value in sorted(avoided):
        out[value] = f"{seen.get(value, 0)} seen, {-neg_expected:.0f} expected"
    keep = list(out)[: cfg.max_dislikes]
    return tuple(keep), {v: out[v] for v in keep}


def _changes(entries, attribute, cfg):
    half = len(entries) // 2
    if half < cfg.min_support:
        return (), ()
    old, new = Counter(), Counter()
    for pos, e in enumerate(entries):
        (new if pos >= half else old).update(item_values(e.item, attribute))
    n_old, n_new = half, len(entries) - half
    rising, fading = [], []
    for value in sorted(set(old) | set(new)):
        shift = new[value] / n_new - old[value] / n_old
        if shift >= cfg.min_shift and new[value] >= cfg.min_support:
            rising.append((-shift, value))
        elif shift <= -cfg.min_shift and old[value] >= cfg.min_support:
            fading.append((shift, value))
    return tuple(v for _, v in sorted(rising)), tuple(v for _, v in sorted(fading))


def compute_facts(
    user_id: str,
    entries: Sequence[HistoryEntry],
    base: Mapping[str, float] | None = None,
    config: FactsConfig | None = None,
) -> ProfileFacts:
    """Facts from one user's history entries (oldest first; training interactions only).

    Args:
        user_id: The user.
        entries: The history (:func:`~llmrec.context.history.history_entries` of
            ``split.train``).
        base: Catalogue shares of each value (:func:`base_shares`); without it no value is
            reported as avoided.
        config: Thresholds.
    """
    cfg = config or FactsConfig()
    n = len(entries)
    if n == 0:
        return ProfileFacts(user_id=user_id, attribute=cfg.attribute, n_interactions=0)
    stats = _value_stats(entries, cfg.attribute)
    by_value = {s.value: s for s in stats}
    ratings = np.array([e.interaction.rating for e in entries if e.interaction.rating is not None])
    mu = float(ratings.mean()) if len(ratings) else None
    likes, basis = _likes(entries, cfg.attribute, mu, cfg, by_value)
    liked = {v for v, _ in likes}
    dislikes, dislike_support = _dislikes(stats, n, mu, base or {}, liked, cfg)
    years = [e.item.year for e in entries if e.item.year]
    decades = Counter(f"{y // 10 * 10}s" for y in years)
    times = [e.interaction.timestamp for e in entries if e.interaction.timestamp is not None]
    span = (max(times) - min(times)) / 86400.0 if len(times) >= 2 else None
    per_week = None
    if span is not None:
        per_week = round(len(times) / max(span * 86400.0 / WEEK, 1.0), 2)
    style = None
    if mu is not None:
        style = "generous" if mu >= 4.0 else "harsh" if mu <= 3.0 else "balanced"
    rising, fading = _changes(entries, cfg.attribute, cfg)
    # A change is reported where it agrees with the likes: rising values that are clear likes
    # (the taste the user moved to), fading values that are not (the taste they left).
    rising = tuple(v for v in rising if v in liked)
    fading = tuple(v for v in fading if v not in liked)
    return ProfileFacts(
        user_id=user_id,
        attribute=cfg.attribute,
        n_interactions=n,
        values=tuple(stats[: cfg.top_values]),
        likes=tuple(v for v, _ in likes),
        like_support=dict(likes),
        likes_basis=basis,
        dislikes=dislikes,
        dislike_support=dislike_support,
        decades=tuple(sorted(decades.items(), key=lambda kv: (-kv[1], kv[0]))[:3]),
        median_year=int(np.median(years)) if years else None,
        mean_rating=round(mu, 2) if mu is not None else None,
        share_high=round(float((ratings >= 4).mean()), 3) if mu is not None else None,
        share_low=round(float((ratings <= 2).mean()), 3) if mu is not None else None,
        rating_style=style,
        per_week=per_week,
        span_days=round(span, 1) if span is not None else None,
        rising=rising,
        fading=fading,
    )


def user_facts(
    dataset: InteractionDataset,
    user_id: str,
    config: FactsConfig | None = None,
    base: Mapping[str, float] | None = None,
) -> ProfileFacts:
    """Facts of one user of ``dataset`` (pass ``split.train``: held-out data never enters).

    ``base`` defaults to :func:`base_shares` of ``dataset``; pass it when computing many users.
    """
    cfg = config or FactsConfig()
    if base is None:
        base = base_shares(dataset, cfg.attribute)
    return compute_facts(str(user_id), history_entries(dataset, str(user_id)), base, cfg)
