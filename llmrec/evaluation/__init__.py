"""Offline evaluation: protocols, recommenders, statistics, suites and reports.

- :mod:`llmrec.evaluation.protocols`: full ranking (default) and sampled ranking, tie policies.
- :mod:`llmrec.evaluation.recommenders`: baselines, the LLM reranker and adapters.
- :mod:`llmrec.evaluation.evaluator`: one recommender on held-out data -> per-user metrics.
- :mod:`llmrec.metrics.stats`: paired bootstrap CIs and paired tests.
- :mod:`llmrec.evaluation.suite`: YAML suites, :func:`run_suite` (``llmrec eval``).
- :mod:`llmrec.evaluation.report`: Markdown/HTML tables and plots.

Example:
    >>> from llmrec.evaluation import run_suite
    >>> out = run_suite("eval/suites/ml100k.yaml", out_dir="runs/ml100k")  # doctest: +SKIP
"""

from llmrec.evaluation.evaluator import (
    SystemResult,
    Targets,
    compute_metrics,
    evaluate_recommender,
    heldout_targets,
)
from llmrec.evaluation.protocols import (
    FullRanking,
    RankingOutput,
    SampledRanking,
    full_ranking,
    krichene_rendle_correction,
    sampled_ranking,
    topk_items,
)
from llmrec.evaluation.suite import SuiteConfig, SuiteResults, load_suite, run_suite

__all__ = [
    "FullRanking",
    "RankingOutput",
    "SampledRanking",
    "SuiteConfig",
    "SuiteResults",
    "SystemResult",
    "Targets",
    "compute_metrics",
    "evaluate_recommender",
    "full_ranking",
    "heldout_targets",
    "krichene_rendle_correction",
    "load_suite",
    "run_suite",
    "sampled_ranking",
    "topk_items",
]
