"""Evaluation suites: a YAML file names data, split, protocol, metrics and recommenders.

``run_suite`` fits every recommender on the training part, ranks the held-out items under the
protocol, computes the metrics with paired bootstrap CIs and paired tests against a baseline,
and (given ``out_dir``) writes ``results.json``, ``report.md`` and ``report.html``.

Suite file (every key but ``recommenders`` has a default)::

    name: ml100k
    data: {name: ml-100k}
    split: {strategy: leave_one_out}              # or temporal / ratio, with params: {...}
    protocol: {kind: full, tie: pessimistic}      # kind: sampled adds n_negatives, sampler
    metrics: [hr@10, ndcg@10, mrr, coverage@10]
    curves: {metrics: [hr, ndcg], ks: [1, 5, 10, 20, 50]}
    statistics: {n_resamples: 1000, level: 0.95, test: wilcoxon, baseline: most_popular}
    recommenders:
      - {type: most_popular}
      - {type: ease, params: {l2: 500}}

Example:
    >>> from llmrec.evaluation.suite import run_suite
    >>> out = run_suite("eval/suites/ml100k.yaml", out_dir="runs/ml100k")  # doctest: +SKIP
    >>> out.results["systems"]["ease"]["metrics"]["ndcg@10"]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import logging
import platform
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from llmrec.data.sampling import sample_users
from llmrec.evaluation.evaluator import SystemResult, evaluate_recommender, heldout_targets
from llmrec.evaluation.protocols import FullRanking, SampledRanking
from llmrec.metrics.registry import parse_metric
from llmrec.metrics.stats import (
    holm_adjust,
    paired_bootstrap_ci,
    paired_test,
)

logger = logging.getLogger(__name__)

SPLITS = ("leave_one_out", "temporal", "ratio")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataConfig(_Strict):
    """``name``: a catalogue name (``ml-100k``) or a dataset folder for ``load_dataset``."""

    name: str = "ml-100k"


class SplitConfig(_Strict):
    """``strategy``: leave_one_out, temporal or ratio; ``params`` go to the split function."""

    strategy: Literal["leave_one_out", "temporal", "ratio"] = "leave_one_out"
    params: dict[str, Any] = Field(default_factory=dict)


class ProtocolConfig(_Strict):
    """Ranking protocol and what is evaluated.

    ``evaluate_on``: test or valid. ``fit_on_valid``: when evaluating on test, train on
    train + valid (the validation interactions precede the test ones). ``users``: evaluate
    exactly these user ids (e.g. the users that have profiles). ``max_users``: a seeded
    sample of users (the same for every system), for expensive recommenders.
    """

    kind: Literal["full", "sampled"] = "full"
    tie: Literal["pessimistic", "optimistic", "random"] = "pessimistic"
    seed: int = 0
    chunk_size: int = 1024
    n_negatives: int = 100
    sampler: Literal["uniform", "popularity"] = "uniform"
    correction_gamma: float = 0.01
    evaluate_on: Literal["test", "valid"] = "test"
    fit_on_valid: bool = True
    relevance: Literal["binary", "rating"] = "binary"
    users: list[str] | None = None
    max_users: int | None = None

    def build(self) -> FullRanking | SampledRanking:
        if self.kind == "full":
            return FullRanking(tie=self.tie, seed=self.seed, chunk_size=self.chunk_size)
        return SampledRanking(
            n_negatives=self.n_negatives, sampler=self.sampler, seed=self.seed, tie=self.tie,
            chunk_size=self.chunk_size, correction_gamma=self.correction_gamma,
        )  # fmt: skip


class CurvesConfig(_Strict):
    """Metric@K curves: metric base names and cut-offs."""

    metrics: list[str] = Field(default_factory=lambda: ["hr", "ndcg"])
    ks: list[int] = Field(default_factory=lambda: [1, 5, 10, 20, 50])


class StatisticsConfig(_Strict):
    """Bootstrap and paired-test settings; ``baseline`` is a system name (default: the first)."""

    n_resamples: int = 1000
    level: float = 0.95
    seed: int = 0
    test: Literal["wilcoxon", "t"] = "wilcoxon"
    baseline: str | None = None


class RecommenderConfig(_Strict):
    """One system: ``type`` from the recommender registry, ``name`` (default: the type)."""

    type: str
    name: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.type


class SuiteConfig(_Strict):
    """A whole suite (see the module docstring)."""

    name: str = "suite"
    data: DataConfig = Field(default_factory=DataConfig)
    split: SplitConfig = Field(default_factory=SplitConfig)
    protocol: ProtocolConfig = Field(default_factory=ProtocolConfig)
    metrics: list[str] = Field(default_factory=lambda: ["hr@10", "ndcg@10", "mrr"])
    curves: CurvesConfig | None = Field(default_factory=CurvesConfig)
    statistics: StatisticsConfig = Field(default_factory=StatisticsConfig)
    embeddings_model: str = "all-minilm-l6-v2"
    recommenders: list[RecommenderConfig] = Field(default_factory=list)

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        for name in value:
            parse_metric(name)
        return value


def load_suite(path: str | Path) -> SuiteConfig:
    """Read and validate a suite YAML file.

    Raises:
        ValueError: naming the file and the offending field.
    """
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"suite file {path} does not exist")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise ValueError(f"{path}: invalid YAML: {err}") from err
    return _validate(raw, str(path))


def _validate(raw: Mapping[str, Any], where: str) -> SuiteConfig:
    try:
        return SuiteConfig.model_validate(raw)
    except ValidationError as err:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}" for e in err.errors()
        )
        raise ValueError(f"{where}: {problems}") from err


@dataclass
class SuiteResults:
    """``results``: the JSON-able summary; ``systems``: per-user values of each system."""

    results: dict[str, Any]
    systems: dict[str, SystemResult]


def _split(dataset, cfg: SplitConfig):
    from llmrec.data import splits

    fn = {"leave_one_out": splits.leave_one_out, "temporal": splits.temporal_split,
          "ratio": splits.ratio_split}[cfg.strategy]  # fmt: skip
    try:
        return fn(dataset, **cfg.params)
    except TypeError as err:
        raise ValueError(f"split.params {cfg.params} do not fit {cfg.strategy}: {err}") from err


def _training_data(split, protocol: ProtocolConfig):
    import pandas as pd

    if protocol.evaluate_on == "test" and protocol.fit_on_valid and len(split.valid):
        frame = pd.concat([split.train.interactions, split.valid.interactions])
        return split.train.with_interactions(frame, f"{split.train.name}+valid")
    return split.train


def _item_embeddings(train, model: str) -> np.ndarray:
    from llmrec.evaluation.recommenders.text_embedding import item_text
    from llmrec.models import load_sentence_transformer

    encoder = load_sentence_transformer(model, device="cpu")
    texts = [item_text(train.items[i]) for i in train.item_ids]
    return np.asarray(encoder.encode(texts, batch_size=64, normalize_embeddings=True))


def run_suite(
    config: SuiteConfig | Mapping[str, Any] | str | Path,
    out_dir: str | Path | None = None,
    progress: bool = False,
    recommenders: Mapping[str, Any] | None = None,
    dataset=None,
    evaluate_fn=None,
) -> SuiteResults:
    """Run an evaluation suite; optionally write ``results.json`` and the report.

    Args:
        config: A :class:`SuiteConfig`, its dict, or a path to a suite YAML file.
        out_dir: Where to write ``results.json``, ``report.md`` and ``report.html``.
        progress: Show progress bars.
        recommenders: Extra, already built systems ``{name: recommender}`` (e.g. an
            :class:`~llmrec.evaluation.recommenders.LLMReranker` holding profiles); they are
            fitted on the same training data after the suite's own.
        dataset: An :class:`~llmrec.data.records.InteractionDataset` used instead of
            ``config.data`` (e.g. a synthetic world's dataset).
        evaluate_fn: Replaces :func:`evaluate_recommender` (same arguments), e.g. the Ray
            engine's full ranking over workers (``llmrec eval --engine ray``).

    Returns:
        :class:`SuiteResults`.
    """
    from tqdm.auto import tqdm

    from llmrec.evaluation.recommenders import build_recommender

    if isinstance(config, (str, Path)):
        config = load_suite(config)
    elif not isinstance(config, SuiteConfig):
        config = _validate(config, "suite config")
    started = time.perf_counter()
    if dataset is None:
        from llmrec.data import load_dataset

        dataset = load_dataset(config.data.name)
    split = _split(dataset, config.split)
    train = _training_data(split, config.protocol)
    heldout = split.heldout(config.protocol.evaluate_on)
    if config.protocol.users is not None:
        unknown = [u for u in config.protocol.users if u not in train.user_index]
        if unknown:
            raise ValueError(f"protocol.users names unknown users {unknown[:5]}")
    targets = heldout_targets(heldout, config.protocol.relevance, config.protocol.users)
    if config.protocol.max_users and config.protocol.max_users < len(targets.users):
        keep = np.array(
            sample_users(range(len(targets.users)), config.protocol.max_users, config.protocol.seed)
        )
        targets = type(targets)(
            targets.users[keep],
            targets.items[keep],
            None if targets.gains is None else targets.gains[keep],
        )
    protocol = config.protocol.build()
    curve_names = []
    if config.curves:
        curve_names = [f"{m}@{k}" for m in config.curves.metrics for k in config.curves.ks]
    all_metrics = list(dict.fromkeys(config.metrics + curve_names))
    needs_embeddings = any(parse_metric(m)[0].name == "ild" for m in all_metrics)
    item_embeddings = _item_embeddings(train, config.embeddings_model) if needs_embeddings else None

    systems: dict[str, tuple[Any, dict]] = {}
    for rc in config.recommenders:
        if rc.label in systems:
            raise ValueError(f"two recommenders are named {rc.label!r}; give them distinct names")
        systems[rc.label] = (build_recommender(rc.type, rc.params), {"type": rc.type})
    for name, rec in (recommenders or {}).items():
        if name in systems:
            raise ValueError(f"extra recommender {name!r} clashes with a suite recommender")
        systems[name] = (rec, {"type": type(rec).__name__})
    if not systems:
        raise ValueError("the suite names no recommenders")

    evaluated: dict[str, SystemResult] = {}
    for name, (rec, _meta) in tqdm(systems.items(), desc="systems", disable=not progress):
        if progress and hasattr(rec, "progress"):
            rec.progress = True  # recommenders with their own inner progress bars
        t0 = time.perf_counter()
        rec.fit(train)
        fit_seconds = time.perf_counter() - t0
        result = (evaluate_fn or evaluate_recommender)(
            rec, train, heldout, all_metrics, protocol, targets, None, item_embeddings, name,
            progress,
        )  # fmt: skip
        result.seconds["fit"] = fit_seconds
        evaluated[name] = result
        logger.info("%s: fit %.1fs, evaluate %.1fs", name, fit_seconds, result.seconds["evaluate"])

    results = summarise(config, evaluated, dataset, split, train, targets)
    results["seconds"] = time.perf_counter() - started
    if out_dir is not None:
        from llmrec.evaluation.report import write_report

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
        write_report(results, out)
    return SuiteResults(results, evaluated)


def summarise(config: SuiteConfig, evaluated, dataset, split, train, targets) -> dict[str, Any]:
    """The JSON summary: per-system metric values with CIs, curves, paired tests."""
    stats = config.statistics
    names = list(evaluated)
    per_user_metrics = [m for m in config.metrics if m in evaluated[names[0]].per_user]
    systems: dict[str, Any] = {}
    for name, res in evaluated.items():
        entry: dict[str, Any] = {"config": res.config, "seconds": res.seconds, "metrics": {}}
        systems[name] = entry
        for metric in config.metrics:
            if metric in res.catalog:
                # A population statistic, not a mean over users: resampling users with
                # replacement shrinks coverage (duplicates), so no percentile CI is given.
                entry["metrics"][metric] = {"value": res.catalog[metric], "low": None, "high": None}
        if res.corrected:
            entry["corrected"] = {
                m: {"value": float(np.mean(v))} for m, v in res.corrected.items() if m in config.metrics
            }  # fmt: skip
        if config.curves:
            entry["curves"] = {
                m: {str(k): res.mean(f"{m}@{k}") for k in config.curves.ks}
                for m in config.curves.metrics
            }
    for metric in per_user_metrics:
        cis = paired_bootstrap_ci(
            {n: evaluated[n].per_user[metric] for n in names}, stats.n_resamples, stats.level,
            stats.seed,
        )  # fmt: skip
        for name in names:
            systems[name]["metrics"][metric] = cis[name].to_dict()
    for name in names:  # keep the configured metric order
        m = systems[name]["metrics"]
        systems[name]["metrics"] = {k: m[k] for k in config.metrics if k in m}

    baseline = stats.baseline or names[0]
    if baseline not in evaluated:
        raise ValueError(f"statistics.baseline {baseline!r} is not a system; systems: {names}")
    tests = []
    for name in names:
        if name == baseline:
            continue
        for metric in per_user_metrics:
            t = paired_test(
                evaluated[name].per_user[metric], evaluated[baseline].per_user[metric], stats.test
            )
            tests.append({"metric": metric, "system": name, "baseline": baseline, **t.to_dict()})
    if tests:
        for t, p in zip(tests, holm_adjust(np.array([t["p_value"] for t in tests]))):
            t["p_holm"] = float(p)

    matrix = train.interaction_matrix(binary=True)[targets.users]
    pop = train.item_popularity().astype(np.float64)
    counts = np.asarray(matrix.sum(axis=1)).ravel()
    history_arp = float(
        np.mean(np.divide(matrix @ pop, counts, out=np.zeros(len(counts)), where=counts > 0))
    )
    import llmrec

    return {
        "suite": config.name,
        "config": config.model_dump(),
        "data": {"name": dataset.name, **{k: v for k, v in dataset.stats().to_dict().items() if k in ("users", "items", "interactions")}},
        "split": split.describe(),
        "trained_on": train.name,
        "evaluated_on": config.protocol.evaluate_on,
        "protocol": evaluated[names[0]].protocol,
        "n_users": len(targets.users),
        "metrics": config.metrics,
        "statistics": {"bootstrap": "paired percentile", "n_resamples": stats.n_resamples, "level": stats.level, "seed": stats.seed, "test": stats.test, "baseline": baseline, "multiple_testing": "holm"},
        "systems": systems,
        "tests": tests,
        "history_arp": history_arp,
        "environment": {"llmrec": llmrec.__version__, "python": platform.python_version(), "numpy": np.__version__},
    }  # fmt: skip
