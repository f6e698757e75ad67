"""How far can the judge be trusted? Separation on held-out data and agreement with gold users.

Three studies, each run for every judge view (``profile``, ``history``, ``both``) side by side:

- :func:`validate_heldout` (real data, e.g. ml-100k): for each sampled user, the leave-one-out
  test item (a real next item) and ``candidates`` unseen negatives are judged pointwise; the
  negatives come from the positive's popularity decile by default (``negatives="popularity"``;
  with ``"uniform"`` negatives a popularity prior alone scores far above 0.5); profiles and
  history come from ``split.train`` only. Reported: pooled ROC AUC, mean per-user AUC, and the
  pairwise judge's accuracy on (test item, negative) pairs judged in both orders, all with
  bootstrap intervals over users.
- :func:`validate_rated` (real data with ratings): among the items each user rated in a held-out
  later period (a per-user ratio split), liked ones (4-5) against disliked ones (1-2).

Both real-data studies score the same pairs with the non-LLM baselines of
:mod:`llmrec.judge.baselines` (popularity, item mean rating, MiniLM similarity to the history,
genre overlap with the grounded facts) and report each judge view's paired difference in
per-user AUC against the best baseline, with a bootstrap CI over users.
- :func:`validate_synthetic` (synthetic users with gold preferences): candidates spread over the
  gold rating levels; reported: Spearman of judge score vs gold rating, exact accuracy and
  quadratic-weighted kappa on the 1-5 scale, accuracy and Cohen's kappa on relevant
  (gold >= 4) vs not, AUC, and pairwise accuracy against the gold order. A ``gold_profile`` row
  shows the judge given the true traits as its profile (an upper bound on what profiles buy).

Both also report calibration of ``P(relevant)``: ECE before and after a calibrator fitted on a
development half of the users and applied to the other half.

Example:
    >>> result = validate_heldout(backend, split, profiles, HeldoutConfig(users=50))  # doctest: +SKIP
    >>> result["views"]["profile"]["auc_pooled"]  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from llmrec.backends.base import Backend
from llmrec.context.view import UserContext
from llmrec.data.sampling import sample_users
from llmrec.judge.baselines import BASELINES, baseline_scores
from llmrec.judge.calibration import make_calibrator
from llmrec.judge.pairwise import PairwiseJudge, summarize, win_values
from llmrec.judge.pointwise import PointwiseJudge, PointwiseJudgment, parse_summary
from llmrec.metrics.stats import (
    bootstrap_ci,
    cohen_kappa,
    expected_calibration_error,
    paired_bootstrap_ci,
    roc_auc,
    spearman,
)

if TYPE_CHECKING:
    from llmrec.data.records import InteractionDataset
    from llmrec.data.splits import Split
    from llmrec.data.synthetic import SyntheticWorld

logger = logging.getLogger(__name__)

NEGATIVES = ("popularity", "uniform")


@dataclass(frozen=True)
class ValidationConfig:
    """Settings shared by both studies.

    Args:
        users: Users sampled (seeded) among those with a held-out item.
        candidates: Held-out: negatives per user. Synthetic: candidates per user.
        views: Judge views compared side by side.
        negatives: Held-out negatives: ``"popularity"`` (same popularity decile as the
            positive, the default) or ``"uniform"``.
        baselines: Non-LLM baselines scored on the same pairs (real-data studies).
        mode: Pointwise mode, ``"logprob"`` or ``"rationale"``.
        pairwise: Also run the pairwise judge (one pair per user, both orders).
        calibrator: ``"temperature"``, ``"platt"``, ``"isotonic"`` or ``None``.
        dev_fraction: Share of users the calibrator is fitted on.
        max_history: Interactions shown in the raw-history view.
        n_boot: Bootstrap resamples.
        seed: Seed of user, candidate and bootstrap sampling.
    """

    users: int = 50
    candidates: int = 9
    negatives: str = "popularity"
    baselines: tuple[str, ...] = BASELINES
    views: tuple[str, ...] = ("profile", "history", "both")
    mode: str = "logprob"
    pairwise: bool = True
    calibrator: str | None = "isotonic"
    dev_fraction: float = 0.5
    max_history: int = 20
    n_boot: int = 1000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.users < 2:
            raise ValueError(f"users must be >= 2, got {self.users}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be >= 1, got {self.candidates}")
        if not 0 < self.dev_fraction < 1:
            raise ValueError(f"dev_fraction must be in (0, 1), got {self.dev_fraction}")
        if self.negatives not in NEGATIVES:
            raise ValueError(f"negatives must be one of {NEGATIVES}, got {self.negatives!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _groups(users: Sequence[str], rows: np.ndarray) -> list[np.ndarray]:
    """Rows grouped by user (first-seen order), for the user-level bootstrap."""
    order: dict[str, list[int]] = {}
    for k, u in enumerate(users):
        order.setdefault(u, []).append(k)
    return [rows[idx] for idx in order.values()]


def _scores(judgments: Sequence[PointwiseJudgment]) -> np.ndarray:
    return np.array([np.nan if j.score is None else j.score for j in judgments])


def _p_relevant(judgments: Sequence[PointwiseJudgment]) -> np.ndarray | None:
    if any(j.p_relevant is None for j in judgments):
        return None
    return np.array([j.p_relevant for j in judgments])


def calibration_report(
    judgments: Sequence[PointwiseJudgment],
    labels: np.ndarray,
    users: Sequence[str],
    calibrator: str | None,
    dev_fraction: float,
    seed: int,
) -> dict[str, Any] | None:
    """ECE of ``P(relevant)`` on evaluation users, raw and after a calibrator fitted on dev users.

    Returns ``None`` for judgments without probabilities (rationale mode). The report carries
    the arrays needed for the reliability diagram under ``"curves"`` (dropped from JSON).
    """
    p = _p_relevant(judgments)
    if p is None:
        return None
    logprobs = np.array([j.logprobs for j in judgments])  # (n, 5)
    unique = list(dict.fromkeys(users))
    rng = np.random.default_rng(seed)
    dev_users = set(rng.permutation(unique)[: max(1, int(len(unique) * dev_fraction))].tolist())
    dev = np.array([u in dev_users for u in users])
    ev = ~dev
    report: dict[str, Any] = {
        "dev_users": len(dev_users),
        "eval_users": len(unique) - len(dev_users),
        "base_rate_eval": float(labels[ev].mean()) if ev.any() else float("nan"),
        "ece_raw": expected_calibration_error(p[ev], labels[ev]),
        "mean_p_eval": float(p[ev].mean()) if ev.any() else float("nan"),
        "curves": {"raw": (p[ev], labels[ev])},
    }
    if calibrator and ev.any() and dev.any():
        try:
            cal = make_calibrator(calibrator).fit(logprobs[dev], p[dev], labels[dev])
        except ValueError as err:
            report["calibrator"] = {"kind": calibrator, "error": str(err)}
            return report
        p_cal = cal.transform(logprobs[ev], p[ev])
        report["calibrator"] = cal.describe()
        report["ece_calibrated"] = expected_calibration_error(p_cal, labels[ev])
        report["curves"][calibrator] = (p_cal, labels[ev])
    return report


def _context(
    view: str,
    train: InteractionDataset,
    profiles: Mapping[str, str] | None,
    gold_profiles: Mapping[str, str] | None,
    max_history: int,
) -> tuple[UserContext, str]:
    if view == "gold_profile":
        return UserContext(profiles=dict(gold_profiles or {})), "profile"
    return UserContext(profiles=dict(profiles or {}), history=train, max_history=max_history), view


def _pairwise_block(
    backend: Backend, ctx: UserContext, sees: str, triples: list, cfg: ValidationConfig
) -> dict[str, Any]:
    judge = PairwiseJudge(backend, ctx, sees=sees, mode=cfg.mode)
    judgments = judge.compare_items(triples)
    values = win_values(judgments)
    return {
        "accuracy": bootstrap_ci(values, n_resamples=cfg.n_boot, seed=cfg.seed).to_dict(),
        **summarize(judgments).to_dict(),
    }


def heldout_candidates(
    split: Split, user_ids: Sequence[str], negatives: int, seed: int, strategy: str = "popularity"
) -> list[tuple[str, str, list[str]]]:
    """``(user_id, test item id, negative item ids)`` per user; negatives unseen in any part.

    ``strategy="popularity"`` draws each user's negatives from the test item's popularity decile
    (training interactions; nearest deciles when it runs out),
    ``"uniform"`` from the whole catalogue.
    """
    test = split.test.interactions.groupby("user_id")["item_id"].last()
    seen = [split.train, split.valid, split.test]
    ids = split.train.item_ids
    if strategy == "popularity":
        from llmrec.data.sampling import popularity_matched_negatives

        positives = [str(test[u]) for u in user_ids]
        matched = popularity_matched_negatives(
            split.train, list(user_ids), positives, negatives, seed=seed, exclude=seen
        )
        return [
            (u, pos, [ids[j] for j in matched.items[k]])
            for k, (u, pos) in enumerate(zip(user_ids, positives, strict=True))
        ]
    if strategy != "uniform":
        raise ValueError(f"negatives must be one of {NEGATIVES}, got {strategy!r}")
    from llmrec.data.sampling import sample_negatives

    negs = sample_negatives(
        split.train, negatives, user_ids, seed=seed, exclude=seen
    )  # (n_users, negatives) indices into item_ids
    return [(u, str(test[u]), [ids[j] for j in negs[k]]) for k, u in enumerate(user_ids)]


def per_user_auc(labels: np.ndarray, scores: np.ndarray, owner: Sequence[str]) -> np.ndarray:
    """ROC AUC within each user's rows (first-seen user order); ``nan`` for one-class users."""
    rows = np.stack([labels, scores], axis=1)  # (n, 2)
    return np.array([roc_auc(g[:, 0], g[:, 1]) for g in _groups(owner, rows)])


def separation_table(
    labels: np.ndarray,
    owner: Sequence[str],
    scores: Mapping[str, np.ndarray],
    n_boot: int,
    seed: int,
) -> dict[str, Any]:
    """Per-user and pooled AUC of every scorer on the same rows, with bootstrap CIs over users.

    Returns ``{name: {"auc_per_user": ci, "auc_pooled": ci}}`` and, under ``"_per_user"``, the
    per-user AUC arrays (for paired differences; dropped from JSON by the callers).
    """
    out: dict[str, Any] = {"_per_user": {}}
    for name, s in scores.items():
        s = np.where(np.isnan(s), -np.inf, s)
        rows = np.stack([labels, s], axis=1)  # (n, 2): label, score
        groups = _groups(owner, rows)
        per_user = per_user_auc(labels, s, owner)
        out["_per_user"][name] = per_user
        out[name] = {
            "auc_per_user": bootstrap_ci(
                per_user[~np.isnan(per_user)], n_resamples=n_boot, seed=seed
            ).to_dict(),
            "auc_pooled": bootstrap_ci(
                groups, lambda r: roc_auc(r[:, 0], r[:, 1]), n_boot, seed=seed
            ).to_dict(),
        }
    return out


def versus_best(
    judge_auc: np.ndarray, baseline_auc: Mapping[str, np.ndarray], n_boot: int, seed: int
) -> dict[str, Any]:
    """Paired difference in mean per-user AUC: judge minus the best baseline (by mean AUC).

    Users where either AUC is undefined are left out of the difference.
    """
    if not baseline_auc:
        return {}
    best = max(baseline_auc, key=lambda k: float(np.nanmean(baseline_auc[k])))
    b = baseline_auc[best]
    ok = ~np.isnan(judge_auc) & ~np.isnan(b)
    if not ok.any():
        return {"best_baseline": best}
    diff = paired_bootstrap_ci(judge_auc[ok] - b[ok], n_boot, seed=seed)
    return {"best_baseline": best, "auc_difference": diff.to_dict(), "users": int(ok.sum())}


def _real_data_study(
    backend: Backend,
    train: InteractionDataset,
    profiles: Mapping[str, str] | None,
    pairs: list,
    labels: np.ndarray,
    owner: list[str],
    triples: list,
    cfg: ValidationConfig,
    progress: bool,
    encoder: Any = None,
) -> dict[str, Any]:
    """Judge views and baselines on the same labelled pairs: AUCs, differences, calibration."""
    names = [b for b in cfg.baselines if b != "item_mean" or _has_ratings(train)]
    base = baseline_scores(train, pairs, names, encoder=encoder)
    base_table = separation_table(labels, owner, base, cfg.n_boot, cfg.seed)
    base_auc = base_table.pop("_per_user")
    views: dict[str, Any] = {}
    for view in cfg.views:
        ctx, sees = _context(view, train, profiles, None, cfg.max_history)
        judge = PointwiseJudge(backend, ctx, sees=sees, mode=cfg.mode, progress=progress)
        judgments = judge.judge(pairs)
        s = _scores(judgments)
        table = separation_table(labels, owner, {view: s}, cfg.n_boot, cfg.seed)
        judge_auc = table.pop("_per_user")[view]
        block: dict[str, Any] = {
            **table[view],
            "vs_best_baseline": versus_best(judge_auc, base_auc, cfg.n_boot, cfg.seed),
            "mean_score_positive": float(np.nanmean(s[labels == 1])),
            "mean_score_negative": float(np.nanmean(s[labels == 0])),
            "parse": parse_summary(judgments),
            "judge": judge.describe(),
        }
        if cfg.pairwise and triples:
            block["pairwise"] = _pairwise_block(backend, ctx, sees, triples, cfg)
        calib = calibration_report(
            judgments, labels, owner, cfg.calibrator, cfg.dev_fraction, cfg.seed
        )
        if calib is not None:
            block["calibration"] = calib
        views[view] = block
        logger.info("view=%s auc=%s", view, block["auc_per_user"])
    return {"baselines": base_table, "views": views}


def _has_ratings(train: InteractionDataset) -> bool:
    return bool(train.interactions["rating"].notna().any())


def validate_heldout(
    backend: Backend,
    split: Split,
    profiles: Mapping[str, str] | None,
    config: ValidationConfig | None = None,
    user_ids: Sequence[str] | None = None,
    progress: bool = False,
    encoder: Any = None,
) -> dict[str, Any]:
    """Separation of real next items from matched negatives, per judge view and per baseline.

    Args:
        backend: The judge model.
        split: A leave-one-out split; prompts see ``split.train`` only.
        profiles: Profiles built from ``split.train`` (needed for ``profile`` and ``both``).
        config: Study settings (``candidates`` = negatives per user, ``negatives`` = how they
            are drawn).
        user_ids: Users to study; default ``config.users`` sampled among users with a test item.
        progress: Progress bars.
        encoder: Sentence encoder of the ``minilm`` baseline (default all-MiniLM-L6-v2).

    Returns:
        ``{"study": "heldout", "config": ..., "users": n, "baselines": {name: metrics},
        "views": {view: metrics}}``.
    """
    cfg = config or ValidationConfig()
    eligible = list(dict.fromkeys(split.test.interactions["user_id"].tolist()))
    users = list(user_ids) if user_ids is not None else sample_users(eligible, cfg.users, cfg.seed)
    cands = heldout_candidates(split, users, cfg.candidates, cfg.seed, cfg.negatives)
    labelled = [(u, [pos, *negs], [1] + [0] * len(negs)) for u, pos, negs in cands]
    return _labelled_study("heldout", backend, split, profiles, labelled, cfg, progress, encoder)


def _labelled_study(
    study: str,
    backend: Backend,
    split: Split,
    profiles: Mapping[str, str] | None,
    labelled: list[tuple[str, list[str], list[int]]],
    cfg: ValidationConfig,
    progress: bool,
    encoder: Any,
) -> dict[str, Any]:
    """A real-data study over ``(user, item ids, 1/0 labels)``; the pairwise judge compares each
    user's first positive with their first negative."""
    items = split.train.items
    pairs, labels, owner, triples = [], [], [], []
    for u, iids, ys in labelled:
        for iid, y in zip(iids, ys, strict=True):
            pairs.append((u, items[iid]))
            labels.append(y)
            owner.append(u)
        triples.append((u, items[iids[ys.index(1)]], items[iids[ys.index(0)]]))
    result = _real_data_study(
        backend,
        split.train,
        profiles,
        pairs,
        np.array(labels),
        owner,
        triples,
        cfg,
        progress,
        encoder,
    )
    return {
        "study": study,
        "dataset": split.train.name,
        "config": cfg.to_dict(),
        "users": len(labelled),
        "judgments_per_view": len(pairs),
        **result,
    }


def rated_candidates(
    split: Split, user_ids: Sequence[str], per_class: int, seed: int
) -> list[tuple[str, list[str], list[int]]]:
    """Per user: up to ``per_class`` held-out items rated 4-5 and as many rated 1-2, labels 1/0.

    Users without at least one of each are skipped. Items are drawn seeded, without replacement.
    """
    rng = np.random.default_rng(seed)
    held = split.test.interactions.dropna(subset=["rating"])
    out = []
    for u in user_ids:
        rows = held[held["user_id"] == u]
        liked = rows.loc[rows["rating"] >= 4, "item_id"].astype(str).tolist()
        disliked = rows.loc[rows["rating"] <= 2, "item_id"].astype(str).tolist()
        if not liked or not disliked:
            continue
        pick_l = [liked[k] for k in rng.permutation(len(liked))[:per_class]]
        pick_d = [disliked[k] for k in rng.permutation(len(disliked))[:per_class]]
        out.append((u, pick_l + pick_d, [1] * len(pick_l) + [0] * len(pick_d)))
    return out


def rated_users(split: Split) -> list[str]:
    """Users with at least one held-out item rated 4-5 and one rated 1-2, in first-seen order."""
    held = split.test.interactions.dropna(subset=["rating"])
    has_l = set(held.loc[held["rating"] >= 4, "user_id"])
    has_d = set(held.loc[held["rating"] <= 2, "user_id"])
    return [u for u in dict.fromkeys(held["user_id"]) if u in has_l and u in has_d]


def validate_rated(
    backend: Backend,
    split: Split,
    profiles: Mapping[str, str] | None,
    config: ValidationConfig | None = None,
    user_ids: Sequence[str] | None = None,
    progress: bool = False,
    encoder: Any = None,
) -> dict[str, Any]:
    """Liked (4-5) against disliked (1-2) among items users rated in a held-out later period.

    Args:
        backend: The judge model.
        split: A per-user split whose ``test`` holds each user's later interactions
            (:func:`~llmrec.data.splits.ratio_split`); prompts see ``split.train`` only.
        profiles: Profiles built from ``split.train``.
        config: Study settings; ``candidates`` is the most items per class and user.
        user_ids: Users; default ``config.users`` sampled among users with both classes.
        progress: Progress bars.
        encoder: Sentence encoder of the ``minilm`` baseline.
    """
    cfg = config or ValidationConfig(candidates=4)
    users = (
        list(user_ids)
        if user_ids is not None
        else sample_users(rated_users(split), cfg.users, cfg.seed)
    )
    cands = rated_candidates(split, users, cfg.candidates, cfg.seed)
    return _labelled_study("rated", backend, split, profiles, cands, cfg, progress, encoder)


def synthetic_candidates(
    world: SyntheticWorld,
    train: InteractionDataset,
    user_ids: Sequence[str],
    n: int,
    seed: int,
) -> list[tuple[str, list[str], np.ndarray]]:
    """Per user: ``n`` unseen items spread over the gold rating levels, and their gold ratings.

    Items are drawn round-robin over rating levels 5, 1, 4, 2, 3 (so that even small ``n``
    holds both ends of the scale), uniformly within a level.
    """
    rng = np.random.default_rng(seed)
    item_ids = np.array(train.item_ids)
    gold = world.gold_rating_matrix(list(user_ids), list(item_ids))  # (n_users, n_items)
    out = []
    for k, u in enumerate(user_ids):
        seen = {r.item_id for r in world.dataset.history(u)}
        unseen = np.array([iid not in seen for iid in item_ids])
        by_level = {
            lvl: list(rng.permutation(np.flatnonzero(unseen & (gold[k] == lvl))))
            for lvl in (5, 1, 4, 2, 3)
        }
        picked: list[int] = []
        while len(picked) < n and any(by_level.values()):
            for lvl in (5, 1, 4, 2, 3):
                if by_level[lvl] and len(picked) < n:
                    picked.append(int(by_level[lvl].pop()))
        out.append((u, [str(item_ids[j]) for j in picked], gold[k, picked]))
    return out


def gold_profile_texts(world: SyntheticWorld, user_ids: Sequence[str]) -> dict[str, str]:
    """The gold traits of each user as a profile text (``"likes Comedy; dislikes Horror; ..."``)."""
    return {u: "; ".join(world.gold[u].traits()) + "." for u in user_ids}


def validate_synthetic(
    backend: Backend,
    world: SyntheticWorld,
    split: Split,
    profiles: Mapping[str, str] | None,
    config: ValidationConfig | None = None,
    user_ids: Sequence[str] | None = None,
    include_gold: bool = True,
    progress: bool = False,
) -> dict[str, Any]:
    """Agreement of the judge with gold preferences of synthetic users, per judge view.

    Args:
        backend: The judge model.
        world: The synthetic world (gold ratings).
        split: A split of ``world.dataset``; prompts see ``split.train`` only.
        profiles: Profiles built from ``split.train``.
        config: Study settings (``candidates`` = items judged per user).
        user_ids: Users; default ``config.users`` sampled.
        include_gold: Add the ``gold_profile`` row (judge given the true traits).
        progress: Progress bars.
    """
    cfg = config or ValidationConfig(candidates=8)
    users = (
        list(user_ids)
        if user_ids is not None
        else sample_users(world.dataset.active_users(), cfg.users, cfg.seed)
    )
    cands = synthetic_candidates(world, split.train, users, cfg.candidates, cfg.seed)
    items = split.train.items
    pairs, gold, owner = [], [], []
    for u, iids, ratings in cands:
        for iid, r in zip(iids, ratings, strict=True):
            pairs.append((u, items[iid]))
            gold.append(int(r))
            owner.append(u)
    g = np.array(gold)
    relevant = (g >= 4).astype(int)
    gold_texts = gold_profile_texts(world, users) if include_gold else None
    view_names = list(cfg.views) + (["gold_profile"] if include_gold else [])
    views: dict[str, Any] = {}
    for view in view_names:
        ctx, sees = _context(view, split.train, profiles, gold_texts, cfg.max_history)
        judge = PointwiseJudge(backend, ctx, sees=sees, mode=cfg.mode, progress=progress)
        judgments = judge.judge(pairs)
        s = _scores(judgments)
        ok = ~np.isnan(s)
        p = _p_relevant(judgments)
        says_relevant = (p >= 0.5) if p is not None else (np.nan_to_num(s) >= 4)
        rounded = np.clip(np.floor(np.nan_to_num(s, nan=0.0) + 0.5), 0, 5).astype(int)
        # (n, 5): gold rating, score (nan -> -inf), rounded score, gold relevant, judge relevant
        rows = np.stack([g, np.where(ok, s, -np.inf), rounded, relevant, says_relevant], axis=1)
        groups = _groups(owner, rows.astype(float))

        def ci(stat, groups=groups):
            return bootstrap_ci(groups, stat, cfg.n_boot, seed=cfg.seed).to_dict()

        block: dict[str, Any] = {
            "spearman": ci(lambda r: spearman(r[:, 1], r[:, 0])),
            "accuracy_exact": ci(lambda r: float(np.mean(r[:, 2] == r[:, 0]))),
            "kappa_quadratic": ci(
                lambda r: cohen_kappa(r[:, 0], r[:, 2], "quadratic", labels=range(0, 6))
            ),
            "accuracy_relevant": ci(lambda r: float(np.mean(r[:, 3] == r[:, 4]))),
            "kappa_relevant": ci(lambda r: cohen_kappa(r[:, 3], r[:, 4], labels=[0, 1])),
            "auc_relevant": ci(lambda r: roc_auc(r[:, 3], r[:, 1])),
            "parse": parse_summary(judgments),
            "judge": judge.describe(),
        }
        if cfg.pairwise:
            triples = []
            for u, iids, ratings in cands:
                hi, lo = int(np.argmax(ratings)), int(np.argmin(ratings))
                if ratings[hi] > ratings[lo]:
                    triples.append((u, items[iids[hi]], items[iids[lo]]))
            if triples:
                block["pairwise"] = _pairwise_block(backend, ctx, sees, triples, cfg)
        calib = calibration_report(
            judgments, relevant, owner, cfg.calibrator, cfg.dev_fraction, cfg.seed
        )
        if calib is not None:
            block["calibration"] = calib
        views[view] = block
        logger.info("synthetic view=%s spearman=%s", view, block["spearman"])
    return {
        "study": "synthetic",
        "dataset": world.dataset.name,
        "config": cfg.to_dict(),
        "users": len(users),
        "judgments_per_view": len(pairs),
        "gold_rating_counts": {str(k): int((g == k).sum()) for k in range(1, 6)},
        "views": views,
    }


def split_curves(result: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Separate the reliability-diagram arrays from a result: ``(json_ready, panels)``."""
    panels: dict[str, Any] = {}
    clean = {**result, "views": {}}
    for view, block in result["views"].items():
        block = dict(block)
        if "calibration" in block:
            calib = dict(block["calibration"])
            panels[view] = calib.pop("curves", {})
            block["calibration"] = calib
        clean["views"][view] = block
    return clean, panels
