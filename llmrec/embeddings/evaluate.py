"""Evaluating user embeddings: linear probes, next-item retrieval, instruction sensitivity.

Protocol (``llmrec embed eval``):

- Users are split by :func:`~llmrec.embeddings.train.user_partition` (the same seeded hash the
  recipe uses), and only the evaluation users are scored: a trained encoder never saw them.
- Inputs are the users' TRAINING histories (leave-one-out). User attributes are withheld from
  every encoder, since the probes and questions ask for them.
- Classification (linear probes and zero-shot answers) is reported as accuracy, balanced
  accuracy (mean per-class recall: a constant answer scores ``1/K``) and macro-F1, beside the
  ``majority`` row (the evaluation users' most frequent class given to everyone). Probes:
  logistic regression on the embedding (under the attribute's instruction for instruction-
  aware methods), ``folds``-fold stratified cross-validation, out-of-fold predictions.
  Zero-shot: the answer text closest to ``u(X, I)`` among the task's answers.
- A synthetic world (a dataset folder with ``gold_profiles.jsonl``) adds probes of the gold
  traits the world was generated from (liked and disliked genres, recency, rating style,
  pace, exploration).
- Retrieval: user embedding (under the ``next_item`` instruction) against item embeddings;
  full ranking of the catalogue with training and validation items masked, the test item as
  target, pessimistic ties (Recall@k, NDCG@k), and the same on the test item plus popularity-
  matched negatives (``pm_*``: same training-popularity decile, so popularity alone cannot
  rank them). Retrieval baselines (most-popular, EASE) come in as score matrices from the
  caller, since this layer may not import :mod:`llmrec.evaluation`.
- Instruction sensitivity: the neighbour change ``1 - Jaccard`` between each user's 10 nearest
  users with and without the instruction.
- Confidence intervals: 95% percentile bootstrap over evaluation users
  (:mod:`llmrec.metrics.stats`); each method is compared, paired on the same resamples, with
  the history mean, the majority row and each retrieval baseline.

Example:
    >>> from llmrec.embeddings.evaluate import evaluate_embeddings
    >>> results = evaluate_embeddings("ml-100k", trained="runs/embed/minilm-userqa")  # doctest: +SKIP
    >>> print(results["table"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from llmrec.embeddings.userqa import (
    answer,
    answer_classes,
    attribute_labels,
    favourite_genres,
    question,
    typical_eras,
)

logger = logging.getLogger(__name__)

PROBE_TASKS = ("age_band", "gender", "occupation")
PROBE_C = 0.1
ZERO_SHOT_TASKS = (
    "favourite_genre",
    "typical_era",
    "will_like",
    "age_band",
    "gender",
    "occupation",
)


@dataclass
class Method:
    """One way of embedding users: ``users(instruction)`` and the texts/items in its space.

    Args:
        name: Row label.
        users: ``users(instruction or per-user list or None) -> (n_eval_users, dim)``.
        texts: ``texts(list[str]) -> (n, dim)`` for answer candidates.
        items: ``(n_items, dim)`` item embeddings in the same space.
        instructed: Whether ``users`` uses the instruction.
    """

    name: str
    users: Callable[[Any], np.ndarray]
    texts: Callable[[list[str]], np.ndarray]
    items: np.ndarray
    instructed: bool


# -- statistics -------------------------------------------------------------------------------
def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y_true`` or ``y_pred`` (as scikit-learn's
    ``f1_score(average="macro")``): the mean over classes of ``2 TP / (2 TP + FP + FN)``."""
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = codes[: len(y_true)], codes[len(y_true) :]
    n = len(classes)
    tp = np.bincount(t[t == p], minlength=n)
    denominator = np.bincount(t, minlength=n) + np.bincount(p, minlength=n)  # 2TP + FP + FN
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(n), where=denominator > 0)))


_macro_f1 = macro_f1  # the earlier private name


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in ``y_true`` (scikit-learn's
    ``balanced_accuracy_score``): ``1/K sum_c TP_c / N_c``. Always answering one class scores
    ``1/K``, whatever the class frequencies."""
    classes, t = np.unique(y_true, return_inverse=True)
    hit = np.asarray(y_pred) == np.asarray(y_true)  # (n,)
    per_class = np.bincount(t, weights=hit, minlength=len(classes)) / np.bincount(
        t, minlength=len(classes)
    )
    return float(per_class.mean()) if len(classes) else float("nan")


def multilabel_balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean over labels (columns of ``(n, L)`` bool arrays) of the binary balanced accuracy,
    over the labels with both values present in ``y_true``."""
    scores = [
        balanced_accuracy(y_true[:, j], y_pred[:, j])
        for j in range(y_true.shape[1])
        if 0 < y_true[:, j].sum() < len(y_true)
    ]
    return float(np.mean(scores)) if scores else float("nan")


STATISTICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "balanced_accuracy": balanced_accuracy,
    "macro_f1": macro_f1,
    "multilabel_balanced_accuracy": multilabel_balanced_accuracy,
}


@dataclass(frozen=True)
class Samples:
    """Per-user results of one metric; ``stat(idx)`` is the metric on the users ``idx``.

    ``kind`` is ``"mean"`` (``values``: one number per user) or a name of :data:`STATISTICS`
    (``values``: the ``(y_true, y_pred)`` pair, one row per user).
    """

    kind: str
    values: Any

    def stat(self, idx: np.ndarray) -> float:
        if self.kind == "mean":
            return float(np.mean(self.values[idx]))
        y_true, y_pred = self.values
        return STATISTICS[self.kind](y_true[idx], y_pred[idx])

    @property
    def n(self) -> int:
        return len(self.values) if self.kind == "mean" else len(self.values[0])


def classification_samples(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Samples]:
    """``accuracy``, ``balanced_accuracy`` and ``macro_f1`` samples of one set of predictions."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    # Integer codes: the bootstrap recomputes these statistics a thousand times per metric.
    _, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    y_true, y_pred = codes[: len(y_true)], codes[len(y_true) :]
    return {
        "accuracy": Samples("mean", (y_true == y_pred).astype(float)),
        "balanced_accuracy": Samples("balanced_accuracy", (y_true, y_pred)),
        "macro_f1": Samples("macro_f1", (y_true, y_pred)),
    }


def bootstrap(
    samples: Samples, n_boot: int, seed: int, baseline: Samples | None = None
) -> dict[str, float]:
    """Point estimate and 95% percentile-bootstrap interval over users (of the paired
    difference to ``baseline`` when given: the same resampled users for both sides).

    Returns:
        :meth:`llmrec.metrics.stats.Interval.to_dict` (``value``, ``low``, ``high``, ``n``, ...);
        ``n_boot=0`` gives the point estimate with ``nan`` bounds.
    """
    from llmrec.metrics.stats import bootstrap_ci, paired_bootstrap_ci, paired_difference_ci

    if baseline is not None and baseline.n != samples.n:
        raise ValueError(f"paired samples need the same users, got {samples.n} and {baseline.n}")
    if samples.kind == "mean" and baseline is None:
        return paired_bootstrap_ci(samples.values, n_boot, seed=seed).to_dict()
    if samples.kind == "mean" and baseline.kind == "mean":
        return paired_difference_ci(samples.values, baseline.values, n_boot, seed=seed).to_dict()

    def value(idx: np.ndarray) -> float:
        v = samples.stat(idx)
        return v - baseline.stat(idx) if baseline is not None else v

    # The statistic sees the resampled user indices: a difference uses the same resamples.
    return bootstrap_ci(np.arange(samples.n), value, n_resamples=n_boot, seed=seed).to_dict()


# -- the three measurements --------------------------------------------------------------------
def probe(vectors: np.ndarray, labels: Sequence[str], folds: int = 5, seed: int = 0) -> np.ndarray:
    """Out-of-fold predictions of a linear probe, shape ``(n,)``.

    The probe standardises each dimension and fits an L2 logistic regression with
    ``C = PROBE_C`` (0.1: a few hundred users and 384 dimensions overfit with weaker
    regularisation), in stratified folds.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(labels)
    pred = np.empty(len(y), dtype=y.dtype)
    _, counts = np.unique(y, return_counts=True)
    n_splits = max(2, min(folds, int(counts.max())))
    splitter = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rare occupations have fewer members than folds
        for train_idx, test_idx in splitter.split(vectors, y):
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=PROBE_C))
            clf.fit(vectors[train_idx], y[train_idx])
            pred[test_idx] = clf.predict(vectors[test_idx])
    return pred


def zero_shot(users: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Index of the closest candidate answer per user (cosine), shape ``(n_users,)``."""
    return np.argmax(users @ candidates.T, axis=1)


def neighbour_change(a: np.ndarray, b: np.ndarray, k: int = 10) -> np.ndarray:
    """Per user ``1 - |N_k(a) & N_k(b)| / |N_k(a) | N_k(b)|`` over nearest users (self excluded)."""
    from llmrec.embeddings.search import topk

    exclude = [[i] for i in range(len(a))]
    _, na = topk(a, a, k=k, exclude=exclude)
    _, nb = topk(b, b, k=k, exclude=exclude)
    out = np.empty(len(a))
    for i in range(len(a)):
        sa, sb = set(na[i].tolist()), set(nb[i].tolist())
        out[i] = 1.0 - len(sa & sb) / len(sa | sb)
    return out


# -- labels ------------------------------------------------------------------------------------
def _labels(split: Any, users: list[str]) -> dict[str, list[str | None]]:
    labels: dict[str, list[str | None]] = {}
    fav, eras = favourite_genres(split.train), typical_eras(split.train)
    labels["favourite_genre"] = [fav.get(u) for u in users]
    labels["typical_era"] = [eras.get(u) for u in users]
    for task in PROBE_TASKS:
        lab = attribute_labels(split.train, task)
        labels[task] = [lab.get(u) for u in users]
    test = split.test.interactions.drop_duplicates("user_id").set_index("user_id")
    likes = []
    for u in users:
        rating = test["rating"].get(u) if u in test.index else None
        likes.append(
            None if rating is None or np.isnan(rating) else ("Yes" if rating >= 4 else "No")
        )
    labels["will_like"] = likes
    return labels


def _style(profile: Any, options: Sequence[str], default: str) -> str:
    found = [s for s in profile.style if s in options]
    return found[0] if found else default


def gold_labels(gold: Mapping[str, Any], users: Sequence[str]) -> dict[str, Any]:
    """Probe labels of a synthetic world's gold profiles (:mod:`llmrec.data.synthetic`).

    Returns:
        ``gold_liked_genres``: ``(genres, (n_users, n_genres) bool)`` (multi-label);
        single-label lists (``None`` where unknown) for ``gold_disliked_genre`` (users with
        exactly one), ``gold_recency`` (recent / older classics / neither),
        ``gold_rating_style`` (harsh / generous / neither), ``gold_pace`` (binge watcher or
        not) and ``gold_exploration`` (explores widely / sticks to favourites / neither).
    """
    missing = [u for u in users if u not in gold]
    if missing:
        raise ValueError(f"no gold profile for users {missing[:5]}")
    profiles = [gold[u] for u in users]
    genres = sorted({g for p in profiles for g in p.liked_genres})
    liked = np.array([[g in p.liked_genres for g in genres] for p in profiles], bool)
    return {
        "gold_liked_genres": (genres, liked),
        "gold_disliked_genre": [
            p.disliked_genres[0] if len(p.disliked_genres) == 1 else None for p in profiles
        ],
        "gold_recency": [
            _style(p, ("prefers recent releases", "prefers older classics"), "neither")
            for p in profiles
        ],
        "gold_rating_style": [
            _style(p, ("harsh critic", "generous rater"), "neither") for p in profiles
        ],
        "gold_pace": [_style(p, ("binge watcher",), "not a binge watcher") for p in profiles],
        "gold_exploration": [
            _style(p, ("explores widely", "sticks to favourites"), "neither") for p in profiles
        ],
    }


# The embedding a gold probe reads for instruction-aware rows (None: the general one).
GOLD_INSTRUCTION = {
    "gold_liked_genres": "favourite_genre",
    "gold_disliked_genre": "favourite_genre",
    "gold_recency": "typical_era",
    "gold_rating_style": None,
    "gold_pace": None,
    "gold_exploration": None,
}


# -- driver ------------------------------------------------------------------------------------
def evaluate_methods(
    methods: Sequence[Method],
    split: Any,
    users: list[str],
    k: int = 10,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    baseline: str | None = "history_mean",
    rankers: Mapping[str, np.ndarray] | None = None,
    popmatched: np.ndarray | None = None,
    gold: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run all measurements for each method on the evaluation ``users``.

    Besides ``methods``, two kinds of baseline rows: ``majority`` (always the evaluation users'
    most frequent class) on every classification metric, and ``rankers`` (score matrices of
    non-embedding recommenders such as most-popular and EASE) on the retrieval metrics.

    Args:
        methods: Embedding methods.
        split: The leave-one-out split (inputs: ``split.train``; targets: ``split.test``).
        users: Evaluation users.
        k: Cut-off of the retrieval metrics.
        folds: Folds of the probes' cross-validation.
        n_boot: Bootstrap resamples.
        seed: Seed of probes and bootstrap.
        baseline: Row the paired differences in ``vs_baseline`` are taken against.
        rankers: ``{name: (len(users), n_items) scores}`` of retrieval-only baselines.
        popmatched: ``(len(users), 1 + m)`` item indices, the test item first, then ``m``
            popularity-matched negatives (``pm_recall@k``, ``pm_ndcg@k``): popularity alone
            cannot rank these.
        gold: Gold labels (:func:`gold_labels`) for the ``probe_gold_*`` metrics.

    Returns:
        ``{"methods": {name: {metric: Interval dict}}}, "vs": {baseline: {name:
        {metric: paired difference}}}, "vs_baseline": vs[baseline], "vs_majority": ...,
        "majority": {task: rate}}``. Metric names: ``probe_<task>_<m>``,
        ``zeroshot_<task>_<m>`` (``m`` in accuracy, balanced_accuracy, macro_f1),
        ``recall@k``, ``ndcg@k``, ``pm_recall@k``, ``pm_ndcg@k``, ``neighbour_change_<task>``.
    """
    from llmrec.metrics.ranking import ndcg, rank_targets, recall

    labels = _labels(split, users)
    item_index = split.train.item_index
    test = split.test.interactions.drop_duplicates("user_id").set_index("user_id")["item_id"]
    targets = np.array([item_index[test[u]] if u in test.index else -1 for u in users])
    import pandas as pd

    seen = pd.concat([split.train.interactions, split.valid.interactions])
    excluded = np.zeros((len(users), len(item_index)), bool)
    pos = {u: i for i, u in enumerate(users)}
    for u, iid in zip(seen["user_id"], seen["item_id"]):
        if u in pos:
            excluded[pos[u], item_index[iid]] = True
    has_target = targets >= 0

    def retrieval(scores: np.ndarray) -> dict[str, Samples]:
        """scores: (len(users), n_items)."""
        ranks = rank_targets(
            scores[has_target], targets[has_target][:, None], "pessimistic", excluded[has_target]
        )  # (n, 1)
        out = {f"recall@{k}": Samples("mean", recall(ranks, k))}
        out[f"ndcg@{k}"] = Samples("mean", ndcg(ranks, k))
        if popmatched is not None:
            # the candidates' scores, the test item in column 0
            picked = np.take_along_axis(scores[has_target], popmatched[has_target], axis=1)
            pm = rank_targets(picked, np.zeros((len(picked), 1), np.int64), "pessimistic")
            out[f"pm_recall@{k}"] = Samples("mean", recall(pm, k))
            out[f"pm_ndcg@{k}"] = Samples("mean", ndcg(pm, k))
        return out

    def classify(prefix: str, y: np.ndarray, pred: np.ndarray, out: dict[str, Samples]) -> None:
        for name, sample in classification_samples(y, pred).items():
            out[f"{prefix}_{name}"] = sample

    samples: dict[str, dict[str, Samples]] = {}
    majority: dict[str, Samples] = {}  # always answering the most frequent class
    for method in methods:
        started = time.perf_counter()
        out: dict[str, Samples] = {}
        general = method.users(None)  # (n_users, dim)
        per_task = {}
        for task in ZERO_SHOT_TASKS + ("next_item",):
            if not method.instructed:
                per_task[task] = general
            elif task == "will_like":
                titles = [split.test.items[test[u]].title if u in test.index else "" for u in users]
                per_task[task] = method.users([question(task, title=t) for t in titles])
            else:
                per_task[task] = method.users(question(task))
        # probes
        for task in PROBE_TASKS:
            keep = np.array([v is not None for v in labels[task]])
            y = np.array([v for v in labels[task] if v is not None])
            if len(np.unique(y)) < 2:
                continue
            classify(f"probe_{task}", y, probe(per_task[task][keep], y, folds, seed), out)
            most = np.full(len(y), max(set(y.tolist()), key=y.tolist().count))
            classify(f"probe_{task}", y, most, majority)
        for task, value in (gold or {}).items():
            vectors = per_task.get(GOLD_INSTRUCTION.get(task) or "", general)
            if task == "gold_liked_genres":
                _, y = value  # (n_users, n_genres) bool
                pred = np.zeros_like(y)
                for j in range(y.shape[1]):
                    if 0 < y[:, j].sum() < len(y):
                        pred[:, j] = probe(vectors, y[:, j], folds, seed)
                out[f"probe_{task}_balanced_accuracy"] = Samples(
                    "multilabel_balanced_accuracy", (y, pred)
                )
                majority[f"probe_{task}_balanced_accuracy"] = Samples(
                    "multilabel_balanced_accuracy", (y, np.zeros_like(y))
                )
                continue
            keep = np.array([v is not None for v in value])
            y = np.array([v for v in value if v is not None])
            classify(f"probe_{task}", y, probe(vectors[keep], y, folds, seed), out)
            most = np.full(len(y), max(set(y.tolist()), key=y.tolist().count))
            classify(f"probe_{task}", y, most, majority)
        # retrieval
        out.update(retrieval(per_task["next_item"] @ method.items.T))
        # zero-shot answers per instruction, and neighbour change
        for task in ZERO_SHOT_TASKS:
            cands = answer_classes(split.train, task)
            cand_vecs = method.texts([answer(task, c) for c in cands])
            keep = np.array([v in cands for v in labels[task]])
            y = np.array([cands.index(v) for v in labels[task] if v in cands])
            pred = zero_shot(per_task[task][keep], cand_vecs)
            classify(f"zeroshot_{task}", y, pred, out)
            most = int(np.argmax(np.bincount(y, minlength=len(cands))))
            classify(f"zeroshot_{task}", y, np.full(len(y), most), majority)
            out[f"neighbour_change_{task}"] = Samples(
                "mean", neighbour_change(per_task[task], general)
            )
        samples[method.name] = out
        logger.info("%s evaluated in %.0f s", method.name, time.perf_counter() - started)
    samples["majority"] = majority
    for name, scores in (rankers or {}).items():
        if scores.shape != (len(users), len(item_index)):
            raise ValueError(
                f"ranker {name!r}: scores of shape {scores.shape}, expected "
                f"({len(users)}, {len(item_index)}) (evaluation users x catalogue)"
            )
        samples[name] = retrieval(scores)

    result: dict[str, Any] = {"methods": {}, "vs": {}}
    for name, out in samples.items():
        result["methods"][name] = {m: bootstrap(s, n_boot, seed) for m, s in out.items()}
    references = [b for b in (baseline, "majority", *(rankers or {})) if b in samples]
    for ref in dict.fromkeys(references):
        result["vs"][ref] = {
            name: {
                m: bootstrap(s, n_boot, seed, samples[ref][m])
                for m, s in out.items()
                if m in samples[ref] and not m.startswith("neighbour_change")
            }
            for name, out in samples.items()
            if name != ref and name not in (rankers or {}) and name != "majority"
        }
    result["vs_baseline"] = result["vs"].get(baseline, {})
    result["vs_majority"] = result["vs"].get("majority", {})
    result["majority"] = {
        task: round(
            max(np.unique([v for v in labels[task] if v is not None], return_counts=True)[1])
            / sum(v is not None for v in labels[task]),
            4,
        )
        for task in ZERO_SHOT_TASKS
    }
    return result


METHODS = (
    "history_mean",
    "base_no_instruction",
    "base_instruction",
    "trained_no_instruction",
    "trained_instruction",
)


def evaluate_embeddings(
    dataset: str = "ml-100k",
    trained: str | None = None,
    base: str = "all-minilm-l6-v2",
    eval_fraction: float = 0.5,
    split_seed: int = 0,
    max_users: int | None = None,
    max_history_tokens: int = 64,
    k: int = 10,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    device: str | None = None,
    show_progress: bool = False,
    methods: Sequence[str] | None = None,
    rankers: Mapping[str, Callable[[Any, list[str]], np.ndarray]] | None = None,
    popmatched_negatives: int = 99,
    cache_dir: str | None = None,
) -> dict[str, Any]:
    """The ``llmrec embed eval`` run: baselines (and a trained encoder) on one dataset.

    Methods: ``history_mean`` (mean of the base model's item embeddings over the whole
    training history), ``base_no_instruction``, ``base_instruction``, and, with ``trained``
    (a :class:`~llmrec.embeddings.encoder.UserEncoder` or
    :class:`~llmrec.embeddings.residual.ResidualUserModel` folder),
    ``trained_no_instruction`` and ``trained_instruction``; plus the ``majority`` row. Paired
    differences are taken against ``history_mean`` (``vs_baseline``), the majority class and
    each ranker. A dataset folder with a ``gold_profiles.jsonl`` (a synthetic world from
    ``llmrec data synth``) adds the gold-trait probes.

    Args:
        rankers: ``{name: fit_and_score(train, users) -> (len(users), n_items)}``, retrieval
            baselines computed by the caller (the CLI passes most-popular and EASE from
            :mod:`llmrec.evaluation.recommenders`, a layer this one may not import).
        popmatched_negatives: Popularity-matched negatives per test item for ``pm_*`` metrics
            (:func:`llmrec.data.sampling.popularity_matched_negatives`); 0 for none.
        cache_dir: Cache of a residual model's text embeddings (two heads trained on one
            frozen text encoder then share them; see
            :class:`~llmrec.embeddings.residual.ResidualUserModel`).

    Returns:
        The :func:`evaluate_methods` result plus ``config``, ``verdict``, ``table`` (markdown)
        and ``seconds``.
    """
    from pathlib import Path

    from llmrec.data import leave_one_out, load_dataset
    from llmrec.embeddings.encoder import UserEncoder, history_mean
    from llmrec.embeddings.residual import ResidualUserModel, is_residual
    from llmrec.embeddings.train import user_partition

    wanted = set(METHODS if methods is None else methods) | {"history_mean"}
    if wanted - set(METHODS):
        raise ValueError(
            f"unknown methods {sorted(wanted - set(METHODS))}; allowed: {list(METHODS)}"
        )
    started = time.perf_counter()
    split = leave_one_out(load_dataset(dataset))
    _, users = user_partition(split.train.active_users(), eval_fraction, split_seed)
    if max_users is not None:
        users = users[:max_users]
    if len(users) < 10:
        raise ValueError(f"only {len(users)} evaluation users; raise max_users or eval_fraction")
    gold = None
    gold_file = Path(str(dataset)) / "gold_profiles.jsonl"
    if gold_file.is_file():
        from llmrec.data.synthetic import load_gold_profiles

        gold = gold_labels(load_gold_profiles(gold_file), users)

    def withheld(encoder: UserEncoder) -> dict[str, list[str]]:
        texts = encoder.user_texts(split.train, users)
        if "attributes" in texts:
            texts["attributes"] = [""] * len(users)  # withheld: the probes ask for them
        return texts

    def make(encoder: UserEncoder, name: str, instructed: bool) -> Method:
        texts = withheld(encoder)
        items = encoder.encode_items(split.train.items).take(split.train.item_ids)
        return Method(
            name,
            users=lambda ins: encoder.encode_sources(texts, ins),
            texts=lambda t: encoder.encode_texts(t),
            items=items,
            instructed=instructed,
        )

    kwargs = {"max_history_tokens": max_history_tokens, "show_progress": show_progress}
    base_encoder = UserEncoder(base, sources=("history",), device=device, **kwargs)
    item_table = base_encoder.encode_items(split.train.items)
    mean_users = history_mean(split.train, item_table, users).vectors
    rows: list[Method] = [
        Method(
            "history_mean",
            users=lambda ins: mean_users,
            texts=lambda t: base_encoder.encode_texts(t),
            items=item_table.take(split.train.item_ids),
            instructed=False,
        )
    ]
    if wanted & {"base_no_instruction", "base_instruction"}:
        base_method = make(base_encoder, "base_no_instruction", False)
        rows.append(base_method)
        rows.append(
            Method(
                "base_instruction", base_method.users, base_method.texts, base_method.items, True
            )
        )
    if trained:
        if is_residual(trained):
            model = ResidualUserModel.load(trained, device=device, cache_dir=cache_dir, **kwargs)
            if model.tower.fingerprint() == base_encoder.fingerprint():
                model.use_item_table(split.train.items, item_table)  # same weights: reuse
            texts = withheld(model.encoder)
            means = model.history_means(split.train, users)
            trained_users = lambda ins: model.combine(means, texts, ins)  # noqa: E731
            trained_texts = model.encode_texts
            trained_items = model.encode_items(split.train.items).take(split.train.item_ids)
        else:
            encoder = UserEncoder.load(trained, device=device, **kwargs)
            plain = make(encoder, "trained_no_instruction", False)
            trained_users, trained_texts, trained_items = plain.users, plain.texts, plain.items
        for name, instructed in (("trained_no_instruction", False), ("trained_instruction", True)):
            rows.append(Method(name, trained_users, trained_texts, trained_items, instructed))
    rows = [m for m in rows if m.name in wanted]
    popmatched = None
    if popmatched_negatives:
        popmatched = popularity_matched_candidates(split, users, popmatched_negatives, seed)
    scores = {name: fit(split.train, users) for name, fit in (rankers or {}).items()}
    result = evaluate_methods(
        rows, split, users, k, folds, n_boot, seed, "history_mean", scores, popmatched, gold
    )
    result["config"] = {
        "dataset": str(dataset),
        "trained": trained,
        "base": base,
        "eval_fraction": eval_fraction,
        "split_seed": split_seed,
        "users": len(users),
        "max_history_tokens": max_history_tokens,
        "k": k,
        "folds": folds,
        "n_boot": n_boot,
        "seed": seed,
        "popmatched_negatives": popmatched_negatives,
        "gold": gold is not None,
        "inputs": "training history only (attributes withheld)",
    }
    result["verdict"] = {
        ref: {name: verdict(result, name, ref) for name in result["vs"][ref]}
        for ref in result["vs"]
    }
    result["table"] = results_table(result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def popularity_matched_candidates(split: Any, users: list[str], n: int, seed: int) -> np.ndarray:
    """``(len(users), 1 + n)``: each user's test item, then ``n`` negatives from its training-
    popularity decile that the user has not interacted with (training or validation), via
    :func:`llmrec.data.sampling.popularity_matched_negatives`. Users without a test item get
    ``-1`` rows (they are not scored)."""
    from llmrec.data.sampling import popularity_matched_negatives

    test = split.test.interactions.drop_duplicates("user_id").set_index("user_id")["item_id"]
    out = np.full((len(users), 1 + n), -1, dtype=np.int64)
    rows = [i for i, u in enumerate(users) if u in test.index]
    targets = [test[users[i]] for i in rows]
    matched = popularity_matched_negatives(
        split.train,
        [users[i] for i in rows],
        targets,
        n,
        seed=seed,
        exclude=[split.train, split.valid],
    )
    out[rows, 0] = [split.train.item_index[t] for t in targets]
    out[rows, 1:] = matched.items
    return out


def verdict(result: dict[str, Any], method: str, baseline: str | None = None) -> dict[str, str]:
    """Per metric, how ``method`` compares with a baseline by its paired 95% CI.

    Args:
        result: An :func:`evaluate_methods` result.
        method: The compared row.
        baseline: Key of ``result["vs"]``; default the primary baseline (``vs_baseline``).

    Returns:
        ``{metric: "better" | "worse" | "tie"}``: ``better`` when the whole interval of the
        paired difference is above zero, ``worse`` when below, ``tie`` when it contains zero.
    """
    diffs = result["vs_baseline"] if baseline is None else result["vs"][baseline]
    out = {}
    for metric, diff in diffs[method].items():
        if diff["low"] > 0:
            out[metric] = "better"
        elif diff["high"] < 0:
            out[metric] = "worse"
        else:
            out[metric] = "tie"
    return out


def _cell(r: Mapping[str, float] | None, signed: bool = False) -> str:
    if r is None:
        return "—"
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(r['value'])} [{f.format(r['low'])}, {f.format(r['high'])}]"


def results_table(
    result: dict[str, Any],
    paired: str | None = "trained_instruction",
    baselines: Sequence[str] | None = None,
) -> str:
    """A markdown table, one row per metric and one column per method: ``mean [low, high]``
    (``—`` where a row does not apply, e.g. retrieval for ``majority``).

    With ``paired`` among the compared methods, one more column per baseline (default: every
    key of ``result["vs"]``, else the primary ``vs_baseline``) holds the paired difference and
    the verdict (:func:`verdict`).
    """
    names = list(result["methods"])
    metrics = list(dict.fromkeys(m for r in result["methods"].values() for m in r))
    vs = result.get("vs") or {"baseline": result.get("vs_baseline", {})}
    refs = [b for b in (baselines or list(vs)) if paired and paired in vs.get(b, {})]
    header = names + [f"{paired} − {b} (paired)" for b in refs]
    lines = ["| metric | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for metric in metrics:
        cells = [_cell(result["methods"][name].get(metric)) for name in names]
        for ref in refs:
            d = vs[ref][paired].get(metric)
            if d is None:
                cells.append("—")
                continue
            mark = "tie"
            if d["low"] > 0:
                mark = "**better**"
            elif d["high"] < 0:
                mark = "**worse**"
            cells.append(f"{_cell(d, signed=True)} {mark}")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
