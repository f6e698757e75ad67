"""Adapters that let outside models be evaluated: a scoring callable, or a file of rankings.

Ranking files (the output of another toolkit, e.g. RecBole's top-k export) come in two shapes:

- long: one row per (user, item) with a ``rank`` (1 = best) or ``score`` column;
- lists: one row per user with the ranked items in one field, a JSON list or a space-separated
  string (RecBole's ``item_id_list:token_seq``).

CSV/TSV, JSONL and Parquet are read; RecBole's typed headers (``user_id:token``) are accepted.
Unlisted items score ``-inf``: under the pessimistic tie policy a held-out item outside a user's
list ranks last, so metrics at cut-offs up to the list length are exact.

Example:
    >>> rec = PrecomputedRankings("runs/recbole_top100.tsv").fit(split.train)  # doctest: +SKIP
    >>> rec = CallableRecommender(lambda users: my_model.scores(users))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from llmrec.data.records import InteractionDataset
from llmrec.evaluation.recommenders.base import Recommender

logger = logging.getLogger(__name__)

USER_COLUMNS = ("user_id", "user", "uid")
LIST_COLUMNS = ("item_id_list", "items", "item_ids", "ranking", "topk")
ITEM_COLUMNS = ("item_id", "item", "iid")


class CallableRecommender(Recommender):
    """Wrap ``score_fn(user_idx) -> (n, n_items)`` (and an optional ``fit_fn(train)``).

    Args:
        score_fn: Scores for user indices (columns in ``train.item_ids`` order).
        fit_fn: Called with the training dataset on :meth:`fit`.
        name: Label in reports.
    """

    def __init__(
        self,
        score_fn: Callable[[np.ndarray], np.ndarray],
        fit_fn: Callable[[InteractionDataset], Any] | None = None,
        name: str = "callable",
    ) -> None:
        self.score_fn = score_fn
        self.fit_fn = fit_fn
        self.name = name

    def config(self) -> dict[str, Any]:
        return {"score_fn": getattr(self.score_fn, "__name__", repr(self.score_fn))}

    def _fit(self, train: InteractionDataset) -> None:
        if self.fit_fn is not None:
            self.fit_fn(train)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        out = np.asarray(self.score_fn(np.asarray(user_idx)), dtype=np.float64)
        if out.shape != (len(user_idx), self.n_items_):
            raise ValueError(
                f"{self.name}: score_fn returned shape {out.shape}, "
                f"expected {(len(user_idx), self.n_items_)}"
            )
        return out


def _strip_types(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.rename(columns={c: str(c).split(":", 1)[0].strip() for c in frame.columns})


def _read(path: Path) -> pd.DataFrame:
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=True, dtype=False)
    if suffix in (".csv", ".tsv", ".txt", ".inter"):
        sep = "," if suffix == ".csv" else "\t"
        return pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    raise ValueError(f"{path}: unknown ranking file type {suffix!r}; use csv, tsv, jsonl, parquet")


def _pick(frame: pd.DataFrame, names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def _as_list(value: Any, path: Path, line: int) -> list[str]:
    if isinstance(value, (list, tuple, np.ndarray)):
        return [str(v) for v in value]
    text = str(value).strip()
    if text.startswith("["):
        try:
            return [str(v) for v in json.loads(text)]
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{line}: item list is not valid JSON: {err}") from err
    return text.replace(",", " ").split()


def read_rankings(path: str | Path) -> dict[str, list[str]]:
    """``user_id -> ranked item ids`` from a ranking file (see the module docstring).

    Raises:
        ValueError: naming the file (and line) on a missing column or malformed row.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ranking file {path} does not exist")
    frame = _strip_types(_read(path))
    first_line = 1 if path.suffix.lower() in (".jsonl", ".json") else 2
    user_col = _pick(frame, USER_COLUMNS)
    if user_col is None:
        raise ValueError(f"{path}: no user column; expected one of {USER_COLUMNS}")
    list_col = _pick(frame, LIST_COLUMNS)
    out: dict[str, list[str]] = {}
    if list_col is not None:
        for pos, (user, value) in enumerate(zip(frame[user_col], frame[list_col])):
            out[str(user)] = _as_list(value, path, pos + first_line)
        return out
    item_col = _pick(frame, ITEM_COLUMNS)
    if item_col is None:
        raise ValueError(
            f"{path}: no item column; expected a list column {LIST_COLUMNS} "
            f"or an item column {ITEM_COLUMNS} with 'rank' or 'score'"
        )
    frame = frame.assign(_line=np.arange(len(frame)) + first_line)
    if "rank" in frame.columns:
        key = pd.to_numeric(frame["rank"], errors="coerce")
        ascending = True
    elif "score" in frame.columns:
        key = pd.to_numeric(frame["score"], errors="coerce")
        ascending = False
    else:
        key = pd.Series(np.arange(len(frame)), index=frame.index)  # file order
        ascending = True
    if key.isna().any():
        bad = int(frame.loc[key.isna(), "_line"].iloc[0])
        raise ValueError(f"{path}:{bad}: rank/score is not a number")
    frame = frame.assign(_key=key).sort_values([user_col, "_key"], ascending=[True, ascending])
    for user, group in frame.groupby(user_col, sort=False):
        out[str(user)] = [str(v) for v in group[item_col]]
    return out


class PrecomputedRankings(Recommender):
    """Rankings read from a file; item at position ``p`` of a list of ``L`` scores ``L - p``.

    Args:
        path: Ranking file (CSV/TSV/JSONL/Parquet, long or list shape).
        name: Label in reports.
        strict: Raise on item ids not in the catalogue (else drop them with a warning).
    """

    def __init__(self, path: str | Path, name: str = "precomputed", strict: bool = True) -> None:
        self.path = str(path)
        self.name = name
        self.strict = strict

    def _fit(self, train: InteractionDataset) -> None:
        rankings = read_rankings(self.path)
        index = train.item_index
        self.lists_: dict[int, np.ndarray] = {}
        unknown_users = 0
        for user, items in rankings.items():
            u = train.user_index.get(user)
            if u is None:
                unknown_users += 1
                continue
            missing = [i for i in items if i not in index]
            if missing and self.strict:
                raise ValueError(
                    f"{self.path}: user {user!r} lists item(s) not in the catalogue: {missing[:5]}"
                )
            codes = [index[i] for i in items if i in index]
            self.lists_[u] = np.array(list(dict.fromkeys(codes)), dtype=np.int64)
        if unknown_users:
            logger.warning("%s: %d users not in the dataset were skipped", self.path, unknown_users)

    def score(self, user_idx: np.ndarray) -> np.ndarray:
        self._check_fitted()
        out = np.full((len(user_idx), self.n_items_), -np.inf)
        for row, u in enumerate(np.asarray(user_idx)):
            items = self.lists_.get(int(u))
            if items is not None and len(items):
                out[row, items] = np.arange(len(items), 0, -1, dtype=np.float64)
        return out
