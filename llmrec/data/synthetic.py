"""A synthetic world with ground truth: users with hidden preferences, and what they watched.

Each user has a gold profile (liked and disliked genres, liked and disliked attribute values such
as a director, a mood or an era, a style trait or two, and optionally a drift: one liked genre
replaced by another at some time). Interactions are sampled from those preferences, so profile
fidelity, judge validity and simulated users can be measured against the truth.

The model, all of it vectorised over users and items:

* affinity ``a(u, i) = G(u, i) + A(u, i) + S(u, i) + q_i`` where ``G`` sums ``+like_weight`` per
  liked and ``-dislike_weight`` per disliked genre of the item (clipped to ``[-2, 2]``), ``A`` adds
  ``+attribute_weight`` for a liked and ``-attribute_weight`` for a disliked attribute value,
  ``S`` is ``+-recency_weight * z(year)`` for users who prefer recent releases / classics, and
  ``q_i ~ N(0, quality_sd)`` is a fixed item quality;
* a history of length ``L_u`` is drawn without replacement with probability proportional to
  ``exp(a(u, i) / T_u) * pop_i ** popularity_bias`` (Gumbel top-k), ``T_u`` the user's
  temperature (higher for users who explore widely);
* the gold rating is ``clip(round(rating_offset + a(u, i) + b_u), 1, 5)`` with ``b_u`` the user's rating
  bias (harsh critic / generous rater); observed ratings add ``N(0, rating_noise)`` before
  rounding.

Example:
    >>> from llmrec.data.synthetic import SyntheticConfig, generate_world
    >>> world = generate_world(SyntheticConfig(n_users=50, n_items=80, seed=0))
    >>> world.dataset.stats().users
    50
    >>> world.gold[world.dataset.user_ids[0]].traits()[0].startswith("likes ")
    True
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.records import InteractionDataset, Item, User

GENRES = (
    "Drama",
    "Comedy",
    "Action",
    "Thriller",
    "Romance",
    "Sci-Fi",
    "Horror",
    "Crime",
    "Adventure",
    "Animation",
    "Documentary",
    "Fantasy",
    "Mystery",
    "Musical",
    "Western",
    "War",
)
MOODS = (
    "uplifting",
    "dark",
    "whimsical",
    "tense",
    "romantic",
    "thoughtful",
    "gritty",
    "lighthearted",
)
ATTRIBUTE_KINDS = ("director", "mood", "era")

#: Style traits, in groups of mutually exclusive choices (a user takes at most one per group).
STYLE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("prefers recent releases", "prefers older classics"),
    ("harsh critic", "generous rater"),
    ("binge watcher",),
    ("explores widely", "sticks to favourites"),
)

_ADJECTIVES = [
    "Silent",
    "Broken",
    "Hidden",
    "Golden",
    "Last",
    "Crimson",
    "Midnight",
    "Frozen",
    "Burning",
    "Distant",
    "Lost",
    "Secret",
    "Electric",
    "Wild",
    "Quiet",
    "Hollow",
    "Savage",
    "Gentle",
    "Bright",
    "Restless",
    "Iron",
    "Velvet",
    "Paper",
    "Glass",
    "Eternal",
    "Final",
    "Forgotten",
    "Sacred",
    "Northern",
    "Shattered",
    "Neon",
    "Lonely",
    "Wicked",
    "Brave",
    "Falling",
    "Endless",
]
_NOUNS = [
    "Harbor",
    "Protocol",
    "Garden",
    "Kingdom",
    "Horizon",
    "Witness",
    "Orchard",
    "Signal",
    "Frontier",
    "Empire",
    "Echo",
    "Island",
    "Machine",
    "Letter",
    "River",
    "Crown",
    "Shadow",
    "Summer",
    "Winter",
    "Mirror",
    "Station",
    "Promise",
    "Storm",
    "Circus",
    "Engine",
    "Voyage",
    "Legacy",
    "Canyon",
    "Lantern",
    "Carnival",
    "Paradox",
    "Tide",
    "Orbit",
    "Verdict",
    "Ballad",
    "Cipher",
    "Fortress",
    "Meadow",
    "Outpost",
    "Requiem",
]
_PLACES = [
    "Avalon",
    "Brooklyn",
    "Cairo",
    "Dakota",
    "Eldridge",
    "Fairhaven",
    "Granada",
    "Havana",
    "Istanbul",
    "Juniper",
    "Kyoto",
    "Lisbon",
    "Marrakesh",
    "Nightfall",
    "Oakridge",
    "Providence",
    "Quebec",
    "Riverside",
    "Santiago",
    "Tangier",
]
_FIRST = [
    "Ada",
    "Bruno",
    "Clara",
    "Dev",
    "Elena",
    "Felix",
    "Greta",
    "Hugo",
    "Ines",
    "Jonas",
    "Kira",
    "Luca",
    "Maya",
    "Nils",
    "Olga",
    "Pavel",
    "Rosa",
    "Soren",
    "Talia",
    "Umar",
    "Vera",
    "Wes",
    "Xenia",
    "Yusuf",
    "Zoe",
    "Arjun",
    "Beatriz",
    "Cyrus",
    "Dario",
    "Eun",
]
_LAST = [
    "Abbott",
    "Baptiste",
    "Castellano",
    "Dimitrov",
    "Eriksen",
    "Fontaine",
    "Gallo",
    "Hartmann",
    "Iwasaki",
    "Jovanovic",
    "Kowalski",
    "Lindqvist",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quintero",
    "Rahman",
    "Santos",
    "Tanaka",
    "Ulrich",
    "Varga",
    "Whitaker",
    "Xu",
    "Yilmaz",
    "Zielinski",
    "Brennan",
    "Costa",
    "Delgado",
    "Engel",
]
_OCCUPATIONS = [
    "student",
    "engineer",
    "artist",
    "teacher",
    "writer",
    "nurse",
    "programmer",
    "scientist",
    "lawyer",
    "retired",
    "salesman",
    "administrator",
    "technician",
    "librarian",
    "executive",
]
_ROMAN = ("II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X")


@dataclass(frozen=True)
class SyntheticConfig:
    """Knobs of the synthetic world; every field has a working default.

    Args:
        n_users: Number of users (all of them get at least ``min_history`` interactions).
        n_items: Catalogue size.
        genres: Genre names, or an int to take the first ``n`` of :data:`GENRES`.
        n_directors: Size of the director pool (default ``max(5, n_items // 8)``).
        moods: Mood values an item can have.
        year_range: Release years are drawn in this closed range, skewed to recent years.
        n_liked_genres: Liked genres per user.
        n_disliked_genres: Disliked genres per user.
        n_liked_attributes: Attribute kinds (director, mood, era) with a liked value, per user.
        n_disliked_attributes: Attribute kinds with a disliked value (never a liked kind).
        mean_history: Mean number of interactions per user.
        min_history: Minimum number of interactions per user.
        drift_probability: Chance that a user swaps one liked genre for another mid-history.
        like_weight: Affinity added per liked genre of an item.
        dislike_weight: Affinity removed per disliked genre of an item.
        attribute_weight: Affinity added (removed) for a liked (disliked) attribute value.
        recency_weight: Affinity per standard deviation of release year for recency styles.
        quality_sd: Standard deviation of the fixed item quality term.
        temperature: Softmax temperature of item choice (lower means more preference-driven).
        popularity_bias: Exponent on the Zipf item popularity in the choice weights.
        rating_offset: Rating of a neutral item, before rounding (``offset + affinity + bias``).
        rating_noise: Standard deviation of the noise on observed ratings.
        start_time: Earliest interaction, seconds since the epoch (default 2021-01-01 UTC).
        span_days: Users start within the first half of this span; histories grow from there.
        seed: Seed of ``np.random.default_rng``; the same config gives the same world.
    """

    n_users: int = 1000
    n_items: int = 500
    genres: int | tuple[str, ...] = 12
    n_directors: int | None = None
    moods: tuple[str, ...] = MOODS
    year_range: tuple[int, int] = (1960, 2023)
    n_liked_genres: int = 2
    n_disliked_genres: int = 1
    n_liked_attributes: int = 1
    n_disliked_attributes: int = 1
    mean_history: float = 30.0
    min_history: int = 5
    drift_probability: float = 0.2
    like_weight: float = 1.0
    dislike_weight: float = 1.5
    attribute_weight: float = 0.8
    recency_weight: float = 0.5
    quality_sd: float = 0.3
    temperature: float = 0.5
    popularity_bias: float = 0.5
    rating_offset: float = 2.7
    rating_noise: float = 0.6
    start_time: float = 1609459200.0
    span_days: float = 730.0
    seed: int = 0

    def __post_init__(self) -> None:
        self._coerce_strings()
        genres = self.genre_names
        if len(set(genres)) != len(genres):
            raise ValueError(f"genres must be distinct, got {genres}")
        checks = [
            ("n_users", self.n_users >= 1, ">= 1"),
            ("n_items", self.n_items >= 2, ">= 2"),
            ("min_history", self.min_history >= 1, ">= 1"),
            ("n_liked_genres", self.n_liked_genres >= 1, ">= 1"),
            ("n_disliked_genres", self.n_disliked_genres >= 0, ">= 0"),
            ("mean_history", self.mean_history >= self.min_history, ">= min_history"),
            ("min_history", self.min_history <= self.n_items // 2, "<= n_items // 2"),
            ("drift_probability", 0.0 <= self.drift_probability <= 1.0, "in [0, 1]"),
            ("temperature", self.temperature > 0, "> 0"),
            ("rating_noise", self.rating_noise >= 0, ">= 0"),
            ("span_days", self.span_days > 0, "> 0"),
            ("year_range", self.year_range[0] <= self.year_range[1], "(low, high), low <= high"),
            ("moods", len(self.moods) >= 2, "at least 2 values"),
            (
                "genres",
                len(genres) >= self.n_liked_genres + self.n_disliked_genres + 1,
                "more than n_liked_genres + n_disliked_genres (drift needs a spare genre)",
            ),
            (
                "n_liked_attributes",
                0 <= self.n_liked_attributes + self.n_disliked_attributes <= len(ATTRIBUTE_KINDS),
                f"n_liked_attributes + n_disliked_attributes <= {len(ATTRIBUTE_KINDS)}",
            ),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(
                    f"SyntheticConfig.{name}={getattr(self, name)!r}: must be {allowed}"
                )
        if self.n_directors is not None and self.n_directors < 1:
            raise ValueError(f"SyntheticConfig.n_directors={self.n_directors!r}: must be >= 1")

    def _coerce_strings(self) -> None:
        """Accept ``"0.5"`` for a float and ``"200"`` for an int (CLI specs), lists for tuples."""
        for f in fields(self):
            value, default = getattr(self, f.name), f.default
            if isinstance(value, list):  # from JSON: keep the config hashable
                object.__setattr__(self, f.name, tuple(value))
                continue
            if not isinstance(value, str) or isinstance(default, str):
                continue
            if isinstance(default, float):
                kind = float
            elif isinstance(default, int) or default is None:  # n_directors: int | None
                kind = int
            else:
                continue
            try:
                object.__setattr__(self, f.name, kind(value))
            except ValueError:
                raise ValueError(
                    f"SyntheticConfig.{f.name}={value!r}: expected {kind.__name__}"
                ) from None

    @property
    def genre_names(self) -> tuple[str, ...]:
        if isinstance(self.genres, int):
            if not 1 <= self.genres <= len(GENRES):
                raise ValueError(
                    f"SyntheticConfig.genres={self.genres}: an int must be in 1..{len(GENRES)}; "
                    "pass a tuple of names for more"
                )
            return GENRES[: self.genres]
        return tuple(self.genres)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class GenreDrift:
    """A change of taste: from ``at`` on, ``genre_after`` replaces liked ``genre_before``."""

    at: float
    genre_before: str
    genre_after: str

    def trait(self) -> str:
        when = datetime.fromtimestamp(self.at, tz=timezone.utc).strftime("%Y-%m-%d")
        return f"used to like {self.genre_before} but switched to {self.genre_after} around {when}"


@dataclass(frozen=True)
class GoldProfile:
    """The hidden truth about one user. Genres and attributes are the *current* preferences.

    Args:
        user_id: The user.
        liked_genres: Genres liked now (after any drift).
        disliked_genres: Genres disliked.
        liked_attributes: Attribute kind -> liked value (``{"mood": "dark"}``).
        disliked_attributes: Attribute kind -> disliked value.
        style: Style traits from :data:`STYLE_GROUPS`.
        drift: The change of taste, if the user has one.
    """

    user_id: str
    liked_genres: tuple[str, ...]
    disliked_genres: tuple[str, ...]
    liked_attributes: Mapping[str, str] = field(default_factory=dict)
    disliked_attributes: Mapping[str, str] = field(default_factory=dict)
    style: tuple[str, ...] = ()
    drift: GenreDrift | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "liked_genres", tuple(self.liked_genres))
        object.__setattr__(self, "disliked_genres", tuple(self.disliked_genres))
        object.__setattr__(self, "style", tuple(self.style))
        for name in ("liked_attributes", "disliked_attributes"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))

    def traits(self) -> list[str]:
        """Natural-language trait lines, e.g. ``["likes Comedy", "dislikes Horror", ...]``."""
        lines = [f"likes {g}" for g in self.liked_genres]
        lines += [f"dislikes {g}" for g in self.disliked_genres]
        lines += [_attribute_trait("likes", k, v) for k, v in self.liked_attributes.items()]
        lines += [_attribute_trait("dislikes", k, v) for k, v in self.disliked_attributes.items()]
        lines += list(self.style)
        if self.drift is not None:
            lines.append(self.drift.trait())
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            "liked_genres": list(self.liked_genres),
            "disliked_genres": list(self.disliked_genres),
            "liked_attributes": dict(self.liked_attributes),
            "disliked_attributes": dict(self.disliked_attributes),
            "style": list(self.style),
            "drift": None if self.drift is None else vars(self.drift).copy(),
            "traits": self.traits(),
        }

    @classmethod
    def from_dict(cls, record: Mapping[str, Any]) -> GoldProfile:
        drift = record.get("drift")
        return cls(
            user_id=str(record["user_id"]),
            liked_genres=tuple(record["liked_genres"]),
            disliked_genres=tuple(record["disliked_genres"]),
            liked_attributes=record.get("liked_attributes", {}),
            disliked_attributes=record.get("disliked_attributes", {}),
            style=tuple(record.get("style", ())),
            drift=None if drift is None else GenreDrift(**drift),
        )


def _attribute_trait(verb: str, kind: str, value: str) -> str:
    if kind == "director":
        return f"{verb} films directed by {value}"
    if kind == "era":
        return f"{verb} films from the {value}"
    return f"{verb} {value} films"


def load_gold_profiles(path: str | os.PathLike) -> dict[str, GoldProfile]:
    """Read a file written by :meth:`SyntheticWorld.gold_profiles_jsonl`."""
    out = {}
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                profile = GoldProfile.from_dict(json.loads(line))
                out[profile.user_id] = profile
    return out


@dataclass
class _Latent:
    """Arrays behind the world (row ``u`` is ``dataset.user_ids[u]``, column ``i`` the item)."""

    item_genres: np.ndarray  # (n_items, n_genres) multi-hot
    item_attr: np.ndarray  # (n_items, n_kinds) int codes into each kind's values
    year_z: np.ndarray  # (n_items,) standardised release year
    quality: np.ndarray  # (n_items,)
    genre_pref_before: np.ndarray  # (n_users, n_genres) +like / -dislike weights before drift
    genre_pref_after: np.ndarray  # (n_users, n_genres) current weights
    attr_like: np.ndarray  # (n_users, n_kinds) liked value code or -1
    attr_dislike: np.ndarray  # (n_users, n_kinds) disliked value code or -1
    attr_sizes: tuple[int, ...]  # number of values of each attribute kind
    recency: np.ndarray  # (n_users,) +1 recent, -1 classics, 0
    bias: np.ndarray  # (n_users,) rating bias
    drift_at: np.ndarray  # (n_users,) drift time, +inf without drift


class SyntheticWorld:
    """A generated dataset with the gold profiles and the utility it was sampled from.

    Attributes:
        dataset: The interactions, catalogue (genres, year, director/mood/era) and users.
        gold: ``user_id -> GoldProfile``.
        config: The :class:`SyntheticConfig` that made it.
    """

    def __init__(
        self,
        dataset: InteractionDataset,
        gold: dict[str, GoldProfile],
        config: SyntheticConfig,
        latent: _Latent,
    ) -> None:
        self.dataset, self.gold, self.config = dataset, gold, config
        self._latent = latent

    @cached_property
    def _user_row(self) -> dict[str, int]:
        return {uid: u for u, uid in enumerate(self.dataset.user_ids)}

    def _rows(self, user_ids: Sequence[str] | None) -> np.ndarray:
        if user_ids is None:
            return np.arange(len(self.dataset.user_ids))
        try:
            return np.array([self._user_row[str(u)] for u in user_ids], dtype=np.int64)
        except KeyError as err:
            raise KeyError(f"unknown user {err.args[0]!r} in this synthetic world") from None

    def _cols(self, item_ids: Sequence[str] | None) -> np.ndarray:
        if item_ids is None:
            return np.arange(len(self.dataset.item_ids))
        index = self.dataset.item_index
        try:
            return np.array([index[str(i)] for i in item_ids], dtype=np.int64)
        except KeyError as err:
            raise KeyError(f"unknown item {err.args[0]!r} in this synthetic world") from None

    def affinity_matrix(
        self,
        user_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        at: float | None = None,
    ) -> np.ndarray:
        """Latent utility, shape ``(n_users, n_items)`` in the order given (default: all).

        Args:
            user_ids: Rows; default ``dataset.user_ids``.
            item_ids: Columns; default ``dataset.item_ids``.
            at: A time (seconds); users whose drift lies after ``at`` use their earlier tastes.
                Default: current tastes.
        """
        rows, cols = self._rows(user_ids), self._cols(item_ids)
        return _affinity(self._latent, self.config, rows, cols, at)

    def affinity(self, user_id: str, item_id: str, at: float | None = None) -> float:
        """Latent utility of one item for one user (current tastes unless ``at`` is given)."""
        return float(self.affinity_matrix([user_id], [item_id], at)[0, 0])

    def gold_rating_matrix(
        self,
        user_ids: Sequence[str] | None = None,
        item_ids: Sequence[str] | None = None,
        at: float | None = None,
    ) -> np.ndarray:
        """Noise-free ratings ``clip(round(offset + affinity + bias), 1, 5)``, int ``(users, items)``."""
        rows = self._rows(user_ids)
        aff = self.affinity_matrix(user_ids, item_ids, at)
        return _to_rating(aff + self._latent.bias[rows, None], self.config.rating_offset)

    def gold_rating(self, user_id: str, item_id: str, at: float | None = None) -> int:
        """The rating (1..5) this user would give this item without noise."""
        return int(self.gold_rating_matrix([user_id], [item_id], at)[0, 0])

    def gold_profiles_jsonl(self, path: str | os.PathLike) -> None:
        """Write one JSON object per user (fields of :class:`GoldProfile` plus ``traits``)."""
        with open(path, "w", encoding="utf-8") as handle:
            for profile in self.gold.values():
                handle.write(json.dumps(profile.to_dict(), ensure_ascii=False) + "\n")

    def gold_profiles_json(self, path: str | os.PathLike) -> None:
        """Write the config and all gold profiles as one JSON document."""
        payload = {
            "config": self.config.to_dict(),
            "profiles": [p.to_dict() for p in self.gold.values()],
        }
        with open(path, "w", encoding="utf-8") as handle:
            json.dump(payload, handle, ensure_ascii=False, indent=1)

    def __repr__(self) -> str:
        return f"SyntheticWorld({self.dataset!r}, seed={self.config.seed})"


def _to_rating(values: np.ndarray, offset: float) -> np.ndarray:
    return np.clip(np.rint(offset + values), 1, 5).astype(np.int64)


def _affinity(
    lat: _Latent, cfg: SyntheticConfig, rows: np.ndarray, cols: np.ndarray, at: float | None
) -> np.ndarray:
    """Affinity of users ``rows`` for items ``cols``, shape ``(len(rows), len(cols))``."""
    from scipy.sparse import csr_matrix

    pref = lat.genre_pref_after[rows]
    if at is not None:
        before = lat.drift_at[rows] > at
        pref = np.where(before[:, None], lat.genre_pref_before[rows], pref)
    out = pref @ lat.item_genres[cols].T  # (users, items)
    np.clip(out, -2.0, 2.0, out=out)
    # Attribute term as one sparse product: users hold +w / -w on their liked / disliked values.
    offsets = np.cumsum([0, *lat.attr_sizes[:-1]])  # (kinds,)
    n_values = int(sum(lat.attr_sizes))
    codes = np.concatenate([lat.attr_like[rows], lat.attr_dislike[rows]], axis=1)  # (users, 2k)
    signs = np.repeat([cfg.attribute_weight, -cfg.attribute_weight], len(offsets))
    user_row, slot = np.nonzero(codes >= 0)
    user_attr = csr_matrix(
        (signs[slot], (user_row, codes[user_row, slot] + np.tile(offsets, 2)[slot])),
        shape=(len(rows), n_values),
    )
    item_onehot = np.zeros((n_values, len(cols)))  # (values, items)
    item_onehot[lat.item_attr[cols] + offsets, np.arange(len(cols))[:, None]] = 1.0
    out += user_attr @ item_onehot
    if cfg.recency_weight:
        out += np.outer(cfg.recency_weight * lat.recency[rows], lat.year_z[cols])
    out += lat.quality[None, cols]
    return out


def _gumbel_top(rng: np.random.Generator, logits: np.ndarray, k: int | None = None) -> np.ndarray:
    """First ``k`` columns of a weighted sample without replacement per row (Gumbel top-k)."""
    keys = logits + rng.gumbel(size=logits.shape)
    k = keys.shape[1] if k is None else min(k, keys.shape[1])
    if k < keys.shape[1]:
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(keys.shape[1]), keys.shape)
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _titles(rng: np.random.Generator, n: int) -> list[str]:
    pattern = rng.integers(0, 4, n)
    adj = rng.choice(_ADJECTIVES, n)
    noun = rng.choice(_NOUNS, n)
    noun2 = rng.choice(_NOUNS, n)
    place = rng.choice(_PLACES, n)
    seen: dict[str, int] = {}
    out = []
    for p, a, b, c, d in zip(pattern, adj, noun, noun2, place):
        base = (f"The {a} {b}", f"{b} of {d}", f"{a} {b}", f"The {b} and the {c}")[p]
        k = seen.get(base, 0)
        seen[base] = k + 1
        out.append(base if k == 0 else f"{base} {_ROMAN[k - 1] if k <= len(_ROMAN) else k + 1}")
    return out


def _catalogue(rng: np.random.Generator, cfg: SyntheticConfig):
    genres = cfg.genre_names
    n, g = cfg.n_items, len(genres)
    genre_weight = rng.dirichlet(np.full(g, 2.0))
    primary = rng.choice(g, n, p=genre_weight)
    n_genres = rng.choice([1, 2, 3], n, p=[0.4, 0.4, 0.2])
    keys = rng.random((n, g))
    keys[np.arange(n), primary] = 2.0  # primary genre first
    order = np.argsort(-keys, axis=1)
    multi = np.zeros((n, g))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(g)[None, :].repeat(n, 0), axis=1)
    multi[rank < n_genres[:, None]] = 1.0

    low, high = cfg.year_range
    years = np.clip(high - np.floor(rng.exponential(max(1.0, (high - low) / 3), n)), low, high)
    years = years.astype(np.int64)
    eras = sorted({f"{(y // 10) * 10}s" for y in range(low, high + 1)})
    era_code = np.array([eras.index(f"{(y // 10) * 10}s") for y in years])

    n_dir = cfg.n_directors or max(5, n // 8)
    combos = len(_FIRST) * len(_LAST)
    picks = rng.choice(combos, min(n_dir, combos), replace=False)
    directors = [f"{_FIRST[c // len(_LAST)]} {_LAST[c % len(_LAST)]}" for c in picks]
    directors += [f"Director {k}" for k in range(len(directors), n_dir)]
    dir_weight = rng.dirichlet(np.full(n_dir, 1.0))
    dir_code = rng.choice(n_dir, n, p=dir_weight)
    mood_code = rng.choice(len(cfg.moods), n)

    values = {"director": directors, "mood": list(cfg.moods), "era": eras}
    attr = np.stack([dir_code, mood_code, era_code], axis=1)
    titles = _titles(rng, n)
    width = len(str(n))
    items = []
    for j in range(n):
        gs = tuple(genres[k] for k in order[j, : n_genres[j]])
        director, mood = directors[dir_code[j]], cfg.moods[mood_code[j]]
        desc = f"A {mood} {gs[0].lower()} film from {years[j]}, directed by {director}."
        items.append(
            Item(
                f"i{j:0{width}d}",
                titles[j],
                gs,
                int(years[j]),
                desc,
                {"director": director, "mood": mood, "era": eras[era_code[j]]},
            )
        )
    year_z = (years - years.mean()) / (years.std() + 1e-9)
    # Zipf-like popularity over a random permutation of the catalogue.
    popularity = 1.0 / (1.0 + rng.permutation(n)) ** 0.8
    quality = rng.normal(0.0, cfg.quality_sd, n)
    return items, multi, attr, values, year_z, quality, popularity, genre_weight


def _pick_styles(rng: np.random.Generator, n_users: int) -> list[list[str]]:
    chosen = np.zeros((n_users, len(STYLE_GROUPS)), dtype=np.int64)  # 0 = none, k = option k
    for g, group in enumerate(STYLE_GROUPS):
        take = rng.random(n_users) < 0.35
        chosen[:, g] = np.where(take, 1 + rng.integers(0, len(group), n_users), 0)
    empty = (chosen == 0).all(axis=1)
    forced = rng.integers(0, len(STYLE_GROUPS), n_users)
    for g, group in enumerate(STYLE_GROUPS):
        fill = empty & (forced == g)
        chosen[fill, g] = 1 + rng.integers(0, len(group), int(fill.sum()))
    return [[STYLE_GROUPS[g][c - 1] for g, c in enumerate(row) if c] for row in chosen.tolist()]


def _sample_histories(
    rng: np.random.Generator,
    lat: _Latent,
    cfg: SyntheticConfig,
    lengths: np.ndarray,
    cut: np.ndarray,
    temperature: np.ndarray,
    log_pop: np.ndarray,
    chunk_cells: int = 4_000_000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw each user's items without replacement; chunks of users bound the memory.

    The first ``cut[u]`` items follow the earlier tastes, the remaining ``lengths[u] - cut[u]``
    (drifting users only) the current ones, never repeating an item.

    Returns:
        ``(user_rows, item_cols, phase)`` flat arrays (phase 0 = before the drift, 1 = after).
    """
    n_users, n_items = len(lengths), len(log_pop)
    all_cols = np.arange(n_items)
    width = int(lengths.max())
    slot = np.arange(width)[None, :]
    step = max(1, chunk_cells // n_items)
    users, items, phases = [], [], []
    for start in range(0, n_users, step):
        rows = np.arange(start, min(start + step, n_users))
        aff = _affinity(lat, cfg, rows, all_cols, at=-np.inf)  # (chunk, items), earlier tastes
        order = _gumbel_top(rng, aff / temperature[rows, None] + log_pop, width)  # (chunk, width)
        keep = slot < cut[rows, None]
        users.append(np.broadcast_to(rows[:, None], order.shape)[keep])
        items.append(order[keep])
        phases.append(np.zeros(int(keep.sum()), dtype=np.int64))
        later = np.flatnonzero(lengths[rows] > cut[rows])  # chunk positions of drifting users
        if later.size:
            d = rows[later]
            logits = _affinity(lat, cfg, d, all_cols, at=None) / temperature[d, None] + log_pop
            rr, cc = np.nonzero(keep[later])
            logits[rr, order[later[rr], cc]] = -np.inf  # no item twice in one history
            after = _gumbel_top(rng, logits, width)
            keep_after = slot < (lengths[d] - cut[d])[:, None]
            users.append(np.broadcast_to(d[:, None], after.shape)[keep_after])
            items.append(after[keep_after])
            phases.append(np.ones(int(keep_after.sum()), dtype=np.int64))
    return np.concatenate(users), np.concatenate(items), np.concatenate(phases)


@dataclass
class _Tastes:
    """Hidden preferences of all users, as arrays (row ``u`` is user ``u``)."""

    liked: np.ndarray  # (n_users, n_liked) genre indices, before any drift
    disliked: np.ndarray  # (n_users, n_disliked) genre indices
    drifts: np.ndarray  # (n_users,) bool
    swapped: np.ndarray  # (n_users,) liked genre given up at the drift
    spare: np.ndarray  # (n_users,) genre liked after the drift
    pref_before: np.ndarray  # (n_users, n_genres) +like / -dislike weights
    pref_after: np.ndarray  # (n_users, n_genres)
    attr_like: np.ndarray  # (n_users, n_kinds) value code or -1
    attr_dislike: np.ndarray  # (n_users, n_kinds) value code or -1
    styles: list[list[str]]

    def has(self, style: str) -> np.ndarray:
        return np.array([style in row for row in self.styles])


def _draw_tastes(
    rng: np.random.Generator,
    cfg: SyntheticConfig,
    genre_weight: np.ndarray,
    item_attr: np.ndarray,
    values: dict[str, list[str]],
) -> _Tastes:
    n_users, n_like, n_dis = cfg.n_users, cfg.n_liked_genres, cfg.n_disliked_genres
    # Liked genres follow genre frequencies; disliked and the drift target are uniform.
    order = _gumbel_top(rng, np.log(genre_weight)[None, :].repeat(n_users, 0))
    liked, rest = order[:, :n_like], order[:, n_like:]
    pick = np.argsort(rng.random(rest.shape), axis=1)[:, : n_dis + 1]
    disliked = np.take_along_axis(rest, pick[:, :n_dis], axis=1)
    spare = np.take_along_axis(rest, pick[:, n_dis:], axis=1)[:, 0]

    rows = np.arange(n_users)[:, None]
    pref_before = np.zeros((n_users, len(genre_weight)))
    pref_before[rows, liked] = cfg.like_weight
    pref_before[rows, disliked] = -cfg.dislike_weight
    drifts = rng.random(n_users) < cfg.drift_probability
    swapped = liked[np.arange(n_users), rng.integers(0, n_like, n_users)]
    pref_after = pref_before.copy()
    d = np.flatnonzero(drifts)
    pref_after[d, swapped[d]] = 0.0
    pref_after[d, spare[d]] = cfg.like_weight

    # Each user's attribute kinds in random order: the first get a liked value, the next a
    # disliked one, so no kind is both liked and disliked.
    n_kinds = len(ATTRIBUTE_KINDS)
    kind_order = np.argsort(rng.random((n_users, n_kinds)), axis=1)
    attr_like = np.full((n_users, n_kinds), -1, dtype=np.int64)
    attr_dislike = np.full((n_users, n_kinds), -1, dtype=np.int64)
    for k, kind in enumerate(ATTRIBUTE_KINDS):
        counts = np.bincount(item_attr[:, k], minlength=len(values[kind])) + 0.1
        p = counts / counts.sum()  # values with items are the likely ones
        like_value = rng.choice(len(values[kind]), n_users, p=p)
        dislike_value = rng.choice(len(values[kind]), n_users, p=p)
        position = np.argmax(kind_order == k, axis=1)
        is_like = position < cfg.n_liked_attributes
        is_dislike = ~is_like & (position < cfg.n_liked_attributes + cfg.n_disliked_attributes)
        attr_like[is_like, k] = like_value[is_like]
        attr_dislike[is_dislike, k] = dislike_value[is_dislike]
    styles = _pick_styles(rng, n_users)
    return _Tastes(
        liked,
        disliked,
        drifts,
        swapped,
        spare,
        pref_before,
        pref_after,
        attr_like,
        attr_dislike,
        styles,
    )


def _history_lengths(
    rng: np.random.Generator, cfg: SyntheticConfig, drifts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(lengths, cut)``: history sizes and how many items follow the earlier tastes."""
    extra = cfg.mean_history - cfg.min_history
    lengths = np.full(cfg.n_users, cfg.min_history)
    if extra > 0:
        shape = 1.5  # negative binomial: a long tail of heavy users
        lengths = lengths + rng.negative_binomial(shape, shape / (shape + extra), cfg.n_users)
    lengths = np.minimum(lengths, max(cfg.min_history, cfg.n_items // 2))
    cut = np.where(drifts, np.rint(lengths * rng.uniform(0.3, 0.7, cfg.n_users)), lengths)
    return lengths, cut.astype(np.int64)


def _timestamps(
    rng: np.random.Generator, cfg: SyntheticConfig, u_idx: np.ndarray, binge: np.ndarray
) -> np.ndarray:
    """Seconds for rows grouped by user: a start in the first half of the span, then gaps.

    Gaps are exponential; binge watchers' are mostly 45-minute bursts with rarer long breaks.
    """
    day = 86400.0
    mean_gap = cfg.span_days * day / 2 / max(cfg.mean_history, 1.0)
    binge = binge[u_idx]
    burst = binge & (rng.random(u_idx.size) < 0.8)
    gaps = rng.exponential(1.0, u_idx.size) * np.where(burst, 2700.0, mean_gap)
    gaps = np.where(binge & ~burst, gaps * 4, gaps)
    starts = np.flatnonzero(np.r_[True, u_idx[1:] != u_idx[:-1]])
    csum = np.cumsum(gaps)
    offset = np.repeat(csum[starts] - gaps[starts], np.diff(np.r_[starts, u_idx.size]))
    user_start = cfg.start_time + rng.uniform(0, cfg.span_days * day / 2, cfg.n_users)
    return np.floor(user_start[u_idx] + csum - offset)


def _drift_times(
    times: np.ndarray, u_idx: np.ndarray, phase: np.ndarray, n_users: int
) -> np.ndarray:
    """Midway between each drifting user's last earlier-taste and first later-taste event."""
    drift_at = np.full(n_users, np.inf)
    last_before = pd.Series(times[phase == 0]).groupby(u_idx[phase == 0]).max()
    first_after = pd.Series(times[phase == 1]).groupby(u_idx[phase == 1]).min()
    both = first_after.index.intersection(last_before.index)
    drift_at[both] = (last_before[both].to_numpy() + first_after[both].to_numpy()) / 2
    only_after = first_after.index.difference(last_before.index)
    drift_at[only_after] = first_after[only_after].to_numpy() - 1.0
    return drift_at


def _gold_profiles(
    user_ids: Sequence[str],
    tastes: _Tastes,
    drift_at: np.ndarray,
    genres: tuple[str, ...],
    values: dict[str, list[str]],
) -> dict[str, GoldProfile]:
    def attributes(codes: np.ndarray) -> dict[str, str]:
        return {kind: values[kind][c] for kind, c in zip(ATTRIBUTE_KINDS, codes) if c >= 0}

    gold = {}
    for u, uid in enumerate(user_ids):
        drift = None
        if tastes.drifts[u]:
            before, after = genres[tastes.swapped[u]], genres[tastes.spare[u]]
            drift = GenreDrift(float(drift_at[u]), before, after)
        gold[uid] = GoldProfile(
            user_id=uid,
            liked_genres=tuple(genres[g] for g in np.flatnonzero(tastes.pref_after[u] > 0)),
            disliked_genres=tuple(genres[g] for g in tastes.disliked[u]),
            liked_attributes=attributes(tastes.attr_like[u]),
            disliked_attributes=attributes(tastes.attr_dislike[u]),
            style=tuple(tastes.styles[u]),
            drift=drift,
        )
    return gold


def generate_world(config: SyntheticConfig | None = None, **overrides: Any) -> SyntheticWorld:
    """Generate a seeded synthetic world (10k users in a few seconds on a laptop CPU).

    Args:
        config: The settings; default :class:`SyntheticConfig()`.
        **overrides: Fields replacing those of ``config`` (``generate_world(n_users=200)``).

    Returns:
        A :class:`SyntheticWorld` whose ``dataset`` has time-ordered interactions with ratings
        1..5 and timestamps, and whose ``gold`` holds every user's :class:`GoldProfile`.

    Example:
        >>> world = generate_world(n_users=20, n_items=60, seed=1)
        >>> len(world.gold)
        20
    """
    cfg = config or SyntheticConfig()
    if overrides:
        cfg = SyntheticConfig(**{**cfg.to_dict(), **overrides})
    rng = np.random.default_rng(cfg.seed)
    genres = cfg.genre_names
    items, multi, item_attr, values, year_z, quality, popularity, genre_w = _catalogue(rng, cfg)
    tastes = _draw_tastes(rng, cfg, genre_w, item_attr, values)
    recency = tastes.has("prefers recent releases").astype(float)
    recency -= tastes.has("prefers older classics")
    bias = 0.7 * (tastes.has("generous rater").astype(float) - tastes.has("harsh critic"))
    explore = np.where(tastes.has("sticks to favourites"), 0.6, 1.0)
    temperature = cfg.temperature * np.where(tastes.has("explores widely"), 2.0, explore)
    latent = _Latent(
        item_genres=multi,
        item_attr=item_attr,
        year_z=year_z,
        quality=quality,
        genre_pref_before=tastes.pref_before,
        genre_pref_after=tastes.pref_after,
        attr_like=tastes.attr_like,
        attr_dislike=tastes.attr_dislike,
        attr_sizes=tuple(len(values[kind]) for kind in ATTRIBUTE_KINDS),
        recency=recency,
        bias=bias,
        drift_at=np.full(cfg.n_users, np.inf),
    )

    lengths, cut = _history_lengths(rng, cfg, tastes.drifts)
    log_pop = cfg.popularity_bias * np.log(popularity)
    u_idx, i_idx, phase = _sample_histories(rng, latent, cfg, lengths, cut, temperature, log_pop)
    # Random order within each (user, phase): the Gumbel order would put favourites first.
    perm = np.lexsort((rng.random(u_idx.size), phase, u_idx))
    u_idx, i_idx, phase = u_idx[perm], i_idx[perm], phase[perm]
    times = _timestamps(rng, cfg, u_idx, tastes.has("binge watcher"))
    latent.drift_at = _drift_times(times, u_idx, phase, cfg.n_users)

    aff = np.where(
        phase == 1,
        _affinity_pairs(latent, cfg, u_idx, i_idx, after=True),
        _affinity_pairs(latent, cfg, u_idx, i_idx, after=False),
    )
    noise = rng.normal(0.0, cfg.rating_noise, u_idx.size) if cfg.rating_noise else 0.0
    ratings = _to_rating(aff + bias[u_idx] + noise, cfg.rating_offset).astype(float)

    width = len(str(cfg.n_users))
    user_ids = np.array([f"u{u:0{width}d}" for u in range(cfg.n_users)])
    item_ids = np.array([it.item_id for it in items])
    frame = pd.DataFrame(
        {
            "user_id": user_ids[u_idx],
            "item_id": item_ids[i_idx],
            "timestamp": times,
            "rating": ratings,
            "review": None,
        }
    )
    ages = np.clip(rng.normal(34, 11, cfg.n_users), 16, 80).astype(int)
    gender = rng.choice(["F", "M", "X"], cfg.n_users, p=[0.48, 0.48, 0.04])
    occupation = rng.choice(_OCCUPATIONS, cfg.n_users)
    users = [
        User(uid, {"age": int(a), "gender": str(g), "occupation": str(o)})
        for uid, a, g, o in zip(user_ids.tolist(), ages, gender, occupation)
    ]
    dataset = InteractionDataset(items, frame, users, name=f"synthetic-seed{cfg.seed}")
    gold = _gold_profiles(user_ids.tolist(), tastes, latent.drift_at, genres, values)
    return SyntheticWorld(dataset, gold, cfg, latent)


def _affinity_pairs(
    lat: _Latent, cfg: SyntheticConfig, u: np.ndarray, i: np.ndarray, after: bool
) -> np.ndarray:
    """Affinity of aligned ``(u[k], i[k])`` pairs, shape ``(n_pairs,)``."""
    pref = lat.genre_pref_after if after else lat.genre_pref_before
    genre = np.clip(np.einsum("kg,kg->k", pref[u], lat.item_genres[i]), -2.0, 2.0)
    codes = lat.item_attr[i]
    attr = cfg.attribute_weight * (
        (lat.attr_like[u] == codes).sum(1) - (lat.attr_dislike[u] == codes).sum(1)
    )
    style = cfg.recency_weight * lat.recency[u] * lat.year_z[i]
    return genre + attr + style + lat.quality[i]
