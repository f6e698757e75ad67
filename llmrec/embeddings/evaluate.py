"""Evaluating user embeddings: linear probes, next-item retrieval, instruction sensitivity.

Protocol (``llmrec embed eval``):

- Users are split by :func:`~llmrec.embeddings.train.user_partition` (the same seeded hash the
  recipe uses), and only the evaluation users are scored: a trained encoder never saw them.
- Inputs are the users' TRAINING histories (leave-one-out), most recent first, fitted to
  ``max_history_tokens``. User attributes are withheld from every encoder, since the probes and
  questions ask for them (a fused encoder sees the attribute source as missing).
- Linear probes: logistic regression on the embedding (under the attribute's instruction for
  instruction-aware methods), ``folds``-fold stratified cross-validation over the evaluation
  users; accuracy and macro-F1 of the out-of-fold predictions.
- Retrieval: user embedding (under the ``next_item`` instruction) against item-text embeddings,
  full ranking of the catalogue with training and validation items masked, the test item as
  target, pessimistic ties; Recall@10 and NDCG@10 from :mod:`llmrec.metrics.ranking`.
- Instruction sensitivity: zero-shot accuracy per instruction (the answer whose embedding is
  closest to ``u(X, I)`` among the task's answer texts, e.g. "This user is female.") and the
  neighbour change ``1 - Jaccard`` between each user's 10 nearest users with and without the
  instruction.
- Confidence intervals: percentile bootstrap over evaluation users (``n_boot`` resamples); the
  trained encoder is compared with the no-instruction baseline by a paired bootstrap of the
  difference on the same resamples (:func:`llmrec.metrics.stats.bootstrap_ci`).

Example:
    >>> from llmrec.embeddings.evaluate import evaluate_embeddings
    >>> results = evaluate_embeddings("ml-100k", trained="runs/embed/minilm-userqa")  # doctest: +SKIP
    >>> print(results["table"])  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
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
from llmrec.metrics.stats import bootstrap_ci

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
def _macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Macro-F1 over the classes present in ``y_true`` or ``y_pred`` (as scikit-learn's
    ``f1_score(average="macro")``): the mean over classes of ``2 TP / (2 TP + FP + FN)``."""
    classes, codes = np.unique(np.concatenate([y_true, y_pred]), return_inverse=True)
    t, p = codes[: len(y_true)], codes[len(y_true) :]
    n = len(classes)
    tp = np.bincount(t[t == p], minlength=n)
    denominator = np.bincount(t, minlength=n) + np.bincount(p, minlength=n)  # 2TP + FP + FN
    return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(n), where=denominator > 0)))


@dataclass
class Samples:
    """Per-user results of one metric; ``stat(idx)`` is the metric on the users ``idx``."""

    kind: str  # "mean" (per-user values) or "macro_f1" ((y_true, y_pred) pairs)
    values: Any

    def stat(self, idx: np.ndarray) -> float:
        if self.kind == "mean":
            return float(np.mean(self.values[idx]))
        y_true, y_pred = self.values
        return _macro_f1(y_true[idx], y_pred[idx])

    @property
    def n(self) -> int:
        return len(self.values) if self.kind == "mean" else len(self.values[0])


def bootstrap(
    samples: Samples, n_boot: int, seed: int, baseline: Samples | None = None
) -> dict[str, float]:
    """Point estimate and 95% percentile-bootstrap interval (of the difference if ``baseline``).

    Returns:
        :meth:`llmrec.metrics.stats.Interval.to_dict`; the rows the statistic sees are the
        resampled user indices, so a difference uses the same resamples for both sides.
    """

    def value(idx: np.ndarray) -> float:
        v = samples.stat(idx)
        return v - baseline.stat(idx) if baseline is not None else v

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


# -- driver ------------------------------------------------------------------------------------
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


def evaluate_methods(
    methods: Sequence[Method],
    split: Any,
    users: list[str],
    k: int = 10,
    folds: int = 5,
    n_boot: int = 1000,
    seed: int = 0,
    baseline: str | None = None,
) -> dict[str, Any]:
    """Run all measurements for each method on the evaluation ``users``.

    Returns:
        ``{"methods": {name: {metric: Interval dict}}}, "vs_baseline": {...},
        "vs_majority": {...}, "majority": {task: rate}}``: ``vs_baseline`` holds paired
        differences to ``baseline``, ``vs_majority`` paired differences of each zero-shot
        accuracy to always answering the most frequent class. Metric names are
        ``probe_<task>_accuracy``, ``probe_<task>_macro_f1``, ``recall@k``, ``ndcg@k``,
        ``zeroshot_<task>_accuracy``, ``neighbour_change_<task>``.
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

    samples: dict[str, dict[str, Samples]] = {}
    constant: dict[str, Samples] = {}  # always answering the most frequent class
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
            pred = probe(per_task[task][keep], y, folds, seed)
            out[f"probe_{task}_accuracy"] = Samples("mean", (pred == y).astype(float))
            out[f"probe_{task}_macro_f1"] = Samples("macro_f1", (y, pred))
        # retrieval
        scores = per_task["next_item"][has_target] @ method.items.T  # (n, n_items)
        ranks = rank_targets(
            scores, targets[has_target][:, None], "pessimistic", excluded[has_target]
        )
        out[f"recall@{k}"] = Samples("mean", recall(ranks, k))
        out[f"ndcg@{k}"] = Samples("mean", ndcg(ranks, k))
        # zero-shot accuracy per instruction, and neighbour change
        for task in ZERO_SHOT_TASKS:
            cands = answer_classes(split.train, task)
            cand_vecs = method.texts([answer(task, c) for c in cands])
            keep = np.array([v in cands for v in labels[task]])
            y = np.array([cands.index(v) for v in labels[task] if v in cands])
            pred = zero_shot(per_task[task][keep], cand_vecs)
            out[f"zeroshot_{task}_accuracy"] = Samples("mean", (pred == y).astype(float))
            most = int(np.argmax(np.bincount(y, minlength=len(cands))))
            constant[f"zeroshot_{task}_accuracy"] = Samples("mean", (y == most).astype(float))
            out[f"neighbour_change_{task}"] = Samples(
                "mean", neighbour_change(per_task[task], general)
            )
        samples[method.name] = out
        logger.info("%s evaluated in %.0f s", method.name, time.perf_counter() - started)

    result: dict[str, Any] = {"methods": {}, "vs_baseline": {}}
    for name, out in samples.items():
        result["methods"][name] = {m: bootstrap(s, n_boot, seed) for m, s in out.items()}
    if baseline is not None and baseline in samples:
        for name, out in samples.items():
            if name == baseline:
                continue
            result["vs_baseline"][name] = {
                m: bootstrap(s, n_boot, seed, samples[baseline][m])
                for m, s in out.items()
                if not m.startswith("neighbour_change")
            }
    # zero-shot accuracy against always answering the evaluation users' most frequent class
    result["vs_majority"] = {
        name: {m: bootstrap(out[m], n_boot, seed, constant[m]) for m in constant}
        for name, out in samples.items()
    }
    result["majority"] = {
        task: round(
            max(np.unique([v for v in labels[task] if v is not None], return_counts=True)[1])
            / sum(v is not None for v in labels[task]),
            4,
        )
        for task in ZERO_SHOT_TASKS
    }
    return result


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
) -> dict[str, Any]:
    """The ``llmrec embed eval`` run: baselines (and a trained encoder) on one dataset.

    Methods: ``history_mean`` (mean of the base model's item embeddings over the history),
    ``base_no_instruction``, ``base_instruction``, and, with ``trained``,
    ``trained_no_instruction`` and ``trained_instruction``. The baseline of the paired
    comparisons is ``base_no_instruction``. ``methods`` keeps only the named rows (the
    baseline is always computed, for the paired comparisons).

    Returns:
        The :func:`evaluate_methods` result plus ``config``, ``table`` (markdown) and
        ``seconds``.
    """
    from llmrec.data import leave_one_out, load_dataset
    from llmrec.embeddings.encoder import UserEncoder, history_mean
    from llmrec.embeddings.train import user_partition

    known = (
        "history_mean",
        "base_no_instruction",
        "base_instruction",
        "trained_no_instruction",
        "trained_instruction",
    )
    wanted = set(known if methods is None else methods) | {"base_no_instruction"}
    if wanted - set(known):
        raise ValueError(f"unknown methods {sorted(wanted - set(known))}; allowed: {list(known)}")
    started = time.perf_counter()
    split = leave_one_out(load_dataset(dataset))
    _, users = user_partition(split.train.active_users(), eval_fraction, split_seed)
    if max_users is not None:
        users = users[:max_users]
    if len(users) < 10:
        raise ValueError(f"only {len(users)} evaluation users; raise max_users or eval_fraction")

    def make(encoder: UserEncoder, name: str, instructed: bool) -> Method:
        texts = encoder.user_texts(split.train, users)
        if "attributes" in texts:
            texts["attributes"] = [""] * len(users)  # withheld: the probes ask for them
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
    rows: list[Method] = []
    if "history_mean" in wanted:
        item_table = base_encoder.encode_items(split.train.items)
        mean_users = history_mean(split.train, item_table, users).vectors
        rows.append(
            Method(
                "history_mean",
                users=lambda ins: mean_users,
                texts=lambda t: base_encoder.encode_texts(t),
                items=item_table.take(split.train.item_ids),
                instructed=False,
            )
        )
    base_method = make(base_encoder, "base_no_instruction", False)
    rows.append(base_method)
    rows.append(
        Method("base_instruction", base_method.users, base_method.texts, base_method.items, True)
    )
    if trained:
        encoder = UserEncoder.load(trained, device=device, **kwargs)
        trained_method = make(encoder, "trained_no_instruction", False)
        rows.append(trained_method)
        rows.append(
            Method(
                "trained_instruction",
                trained_method.users,
                trained_method.texts,
                trained_method.items,
                True,
            )
        )
    rows = [m for m in rows if m.name in wanted]
    result = evaluate_methods(
        rows, split, users, k, folds, n_boot, seed, baseline="base_no_instruction"
    )
    result["config"] = {
        "dataset": dataset,
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
        "inputs": "training history only (attributes withheld)",
    }
    result["verdict"] = {name: verdict(result, name) for name in result["vs_baseline"]}
    result["table"] = results_table(result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def verdict(result: dict[str, Any], method: str) -> dict[str, str]:
    """Per metric, how ``method`` compares with the baseline by its paired 95% CI.

    Returns:
        ``{metric: "better" | "worse" | "tie"}``: ``better`` when the whole interval of the
        paired difference is above zero, ``worse`` when below, ``tie`` when it contains zero.
    """
    out = {}
    for metric, diff in result["vs_baseline"][method].items():
        if diff["low"] > 0:
            out[metric] = "better"
        elif diff["high"] < 0:
            out[metric] = "worse"
        else:
            out[metric] = "tie"
    return out


def results_table(result: dict[str, Any], paired: str | None = "trained_instruction") -> str:
    """A markdown table, one row per metric and one column per method: ``mean [low, high]``.

    With ``paired`` among the compared methods, a last column holds its paired difference to
    the baseline and the verdict (:func:`verdict`).
    """
    names = list(result["methods"])
    metrics = list(next(iter(result["methods"].values())))
    diffs = result.get("vs_baseline", {}).get(paired) if paired else None
    marks = verdict(result, paired) if diffs else {}
    header = names + ([f"{paired} − baseline (paired)"] if diffs else [])
    lines = ["| metric | " + " | ".join(header) + " |", "|---" * (len(header) + 1) + "|"]
    for metric in metrics:
        cells = []
        for name in names:
            r = result["methods"][name][metric]
            cells.append(f"{r['value']:.3f} [{r['low']:.3f}, {r['high']:.3f}]")
        if diffs:
            d = diffs.get(metric)
            cells.append(
                "n/a"
                if d is None
                else f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}] {marks[metric]}"
            )
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
