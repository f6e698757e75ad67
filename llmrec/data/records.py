"""The records everything else speaks: items, users, interactions, and a dataset holding them.

Interactions are stored columnar (a pandas DataFrame sorted by user, then time) because metrics,
splits and baselines want arrays; ``history(user_id)`` gives the record view for prompts.

Example:
    >>> from llmrec.data.records import Item, Interaction, InteractionDataset
    >>> ds = InteractionDataset(
    ...     items=[Item("1", "Toy Story", genres=("Animation", "Comedy"), year=1995)],
    ...     interactions=[Interaction("u1", "1", timestamp=881250949.0, rating=4.0)],
    ... )
    >>> ds.stats().interactions
    1
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.validation import LoadReport

INTERACTION_COLUMNS = ["user_id", "item_id", "timestamp", "rating", "review"]


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Item:
    """A catalogue item.

    Args:
        item_id: Identifier, always a string (``"242"``, ``"B00X..."``).
        title: Display title.
        genres: Categories, in the source's order.
        year: Release year when known.
        description: Free text, optional.
        attributes: Any further fields (director, brand, price, ...), read-only.
    """

    item_id: str
    title: str
    genres: tuple[str, ...] = ()
    year: int | None = None
    description: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "item_id", str(self.item_id))
        object.__setattr__(self, "genres", tuple(self.genres))
        object.__setattr__(self, "attributes", _frozen(self.attributes))

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["genres"] = list(self.genres)
        out["attributes"] = dict(self.attributes)
        return out


@dataclass(frozen=True, slots=True)
class User:
    """A user with optional attributes (age, gender, occupation, ...)."""

    user_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", str(self.user_id))
        object.__setattr__(self, "attributes", _frozen(self.attributes))

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "attributes": dict(self.attributes)}


@dataclass(frozen=True, slots=True)
class Interaction:
    """One user-item event. ``timestamp`` is seconds since the epoch (float) when known."""

    user_id: str
    item_id: str
    timestamp: float | None = None
    rating: float | None = None
    review: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "user_id", str(self.user_id))
        object.__setattr__(self, "item_id", str(self.item_id))


@dataclass(frozen=True)
class DatasetStats:
    """Summary numbers of a dataset; ``to_dict`` gives the JSON of ``llmrec data stats``."""

    name: str
    users: int
    items: int
    interactions: int
    density: float
    history_length_quantiles: dict[str, float]
    rated: bool
    timestamped: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def interactions_frame(rows: Iterable[Interaction] | pd.DataFrame) -> pd.DataFrame:
    """Normalise interactions into the canonical frame: string ids, float time and rating."""
    if isinstance(rows, pd.DataFrame):
        frame = rows.copy()
        for col in INTERACTION_COLUMNS:
            if col not in frame.columns:
                frame[col] = None
        frame = frame[INTERACTION_COLUMNS]
    else:
        frame = pd.DataFrame(
            [(r.user_id, r.item_id, r.timestamp, r.rating, r.review) for r in rows],
            columns=INTERACTION_COLUMNS,
        )
    frame["user_id"] = frame["user_id"].astype(str)
    frame["item_id"] = frame["item_id"].astype(str)
    frame["timestamp"] = pd.to_numeric(frame["timestamp"], errors="raise").astype(float)
    frame["rating"] = pd.to_numeric(frame["rating"], errors="raise").astype(float)
    frame["review"] = frame["review"].astype(object).where(frame["review"].notna(), None)
    # Stable sort keeps the source order among equal timestamps (and for untimed data).
    frame = frame.sort_values(["user_id", "timestamp"], kind="stable", na_position="first")
    return frame.reset_index(drop=True)


class InteractionDataset:
    """A catalogue, its users and their time-ordered interactions.

    Args:
        items: The catalogue (every interacted item must be in it; loaders enforce this).
        interactions: Records or a frame with :data:`INTERACTION_COLUMNS`.
        users: Users with attributes; users seen only in interactions are added bare.
        name: A label for reports.

    The object is treated as immutable: methods return new datasets and never change inputs.
    Loaders set :attr:`load_report` (a :class:`~llmrec.data.validation.LoadReport`: what was found,
    and what was done about it); datasets built otherwise have ``None``.
    """

    load_report: LoadReport | None = None

    def __init__(
        self,
        items: Iterable[Item] | Mapping[str, Item],
        interactions: Iterable[Interaction] | pd.DataFrame,
        users: Iterable[User] | Mapping[str, User] = (),
        name: str = "dataset",
    ) -> None:
        self.name = name
        item_list = list(items.values()) if isinstance(items, Mapping) else list(items)
        self.items: dict[str, Item] = {it.item_id: it for it in item_list}
        self.interactions: pd.DataFrame = interactions_frame(interactions)
        user_list = list(users.values()) if isinstance(users, Mapping) else list(users)
        self.users: dict[str, User] = {u.user_id: u for u in user_list}
        for uid in self.interactions["user_id"].unique():
            if uid not in self.users:
                self.users[uid] = User(uid)

    # -- indexing -------------------------------------------------------------------------
    @cached_property
    def item_ids(self) -> list[str]:
        """Catalogue ids in a fixed order; column ``j`` of score matrices is ``item_ids[j]``."""
        return list(self.items)

    @cached_property
    def item_index(self) -> dict[str, int]:
        return {iid: j for j, iid in enumerate(self.item_ids)}

    @cached_property
    def user_ids(self) -> list[str]:
        return list(self.users)

    @cached_property
    def user_index(self) -> dict[str, int]:
        return {uid: i for i, uid in enumerate(self.user_ids)}

    def item_codes(self) -> np.ndarray:
        """Integer item index of every interaction row, shape ``(n_interactions,)``."""
        return self.interactions["item_id"].map(self.item_index).to_numpy(dtype=np.int64)

    def user_codes(self) -> np.ndarray:
        """Integer user index of every interaction row, shape ``(n_interactions,)``."""
        return self.interactions["user_id"].map(self.user_index).to_numpy(dtype=np.int64)

    def interaction_matrix(self, binary: bool = True):
        """Sparse ``(n_users, n_items)`` CSR matrix; ratings (or 1) as values, duplicates summed."""
        from scipy.sparse import csr_matrix

        values = np.ones(len(self.interactions), dtype=np.float32)
        if not binary and self.interactions["rating"].notna().all():
            values = self.interactions["rating"].to_numpy(np.float32)
        matrix = csr_matrix(
            (values, (self.user_codes(), self.item_codes())),
            shape=(len(self.user_ids), len(self.item_ids)),
        )
        if binary:
            matrix.data[:] = 1.0
        return matrix

    # -- record views ---------------------------------------------------------------------
    @cached_property
    def _groups(self) -> dict[str, np.ndarray]:
        return self.interactions.groupby("user_id", sort=False).indices

    def history(self, user_id: str) -> list[Interaction]:
        """The user's interactions, oldest first (empty list for a user without any)."""
        idx = self._groups.get(str(user_id))
        if idx is None:
            return []
        rows = self.interactions.iloc[idx]
        return [
            Interaction(u, i, None if pd.isna(t) else t, None if pd.isna(r) else r, v)
            for u, i, t, r, v in rows.itertuples(index=False, name=None)
        ]

    def histories(self) -> dict[str, list[Interaction]]:
        return {uid: self.history(uid) for uid in self._groups}

    def history_items(self, user_id: str) -> list[Item]:
        return [self.items[r.item_id] for r in self.history(user_id)]

    def active_users(self) -> list[str]:
        """Users with at least one interaction, in :attr:`user_ids` order."""
        return [u for u in self.user_ids if u in self._groups]

    def item_popularity(self) -> np.ndarray:
        """Interaction count per catalogue item, shape ``(n_items,)``."""
        return np.bincount(self.item_codes(), minlength=len(self.item_ids))

    # -- derived datasets -----------------------------------------------------------------
    def with_interactions(self, interactions: pd.DataFrame, name: str | None = None):
        """Same catalogue and users, other interactions (used by splits and filters)."""
        return InteractionDataset(self.items, interactions, self.users, name or self.name)

    def stats(self) -> DatasetStats:
        n_users = int(self.interactions["user_id"].nunique())
        n_items = len(self.items)
        n = len(self.interactions)
        lengths = self.interactions.groupby("user_id").size().to_numpy()
        qs = {}
        if len(lengths):
            for q in (0.0, 0.25, 0.5, 0.75, 0.9, 1.0):
                qs[f"p{int(q * 100)}"] = float(np.quantile(lengths, q))
        return DatasetStats(
            name=self.name,
            users=n_users,
            items=n_items,
            interactions=n,
            density=n / (n_users * n_items) if n_users and n_items else 0.0,
            history_length_quantiles=qs,
            rated=bool(n) and bool(self.interactions["rating"].notna().all()),
            timestamped=bool(n) and bool(self.interactions["timestamp"].notna().all()),
        )

    def __len__(self) -> int:
        return len(self.interactions)

    def __repr__(self) -> str:
        s = self.stats()
        return (
            f"InteractionDataset(name={self.name!r}, users={s.users}, items={s.items}, "
            f"interactions={s.interactions})"
        )
