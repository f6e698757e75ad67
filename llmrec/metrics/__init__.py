"""Pure, vectorised evaluation metrics: per-user arrays in, per-user arrays out.

- :mod:`llmrec.metrics.ranking`: HR, recall, precision, NDCG, MRR, MAP, AUC from ranks;
  ranks from scores with a tie policy.
- :mod:`llmrec.metrics.stats`: the one interval type, bootstrap CIs over users, paired tests,
  Holm, ROC AUC, agreement statistics.
- :mod:`llmrec.metrics.beyond_accuracy`: coverage, Gini, novelty, diversity, popularity bias.
- :mod:`llmrec.metrics.llm_outputs`: hallucination, duplicate, in-history, out-of-candidate rates.
- :mod:`llmrec.metrics.registry`: names (``"ndcg@10"``) and :func:`evaluate`.
"""

from llmrec.metrics.ranking import (
    as_rank_matrix,
    auc,
    average_precision,
    hit_rate,
    mrr,
    ndcg,
    pad_relevant,
    precision,
    ranks_from_topk,
    recall,
)
from llmrec.metrics.registry import METRICS, available_metrics, evaluate, parse_metric

__all__ = [
    "METRICS",
    "as_rank_matrix",
    "auc",
    "available_metrics",
    "average_precision",
    "evaluate",
    "hit_rate",
    "mrr",
    "ndcg",
    "pad_relevant",
    "parse_metric",
    "precision",
    "ranks_from_topk",
    "recall",
]
