"""The profile-aware LLM judge: pointwise, pairwise and listwise, validity and calibration.

* :class:`UserContext` holds what the judge may see (profiles, training history);
* :class:`PointwiseJudge` scores (user, item) pairs on a 1-5 rubric (``logprob`` or
  ``rationale`` mode);
* :class:`PairwiseJudge` compares items or ranked lists in both orders;
* :class:`PermutationJudge` and :func:`rank_by_pointwise` rank candidate sets;
* :class:`JudgeReward` is the judge as a trl reward function;
* :mod:`llmrec.judge.validate`, :mod:`llmrec.judge.calibration`,
  :mod:`llmrec.judge.injection` and :mod:`llmrec.judge.compare` measure how far it can be
  trusted.

Example:
    >>> from llmrec.backends import load_backend
    >>> from llmrec.judge import PointwiseJudge, UserContext
    >>> judge = PointwiseJudge(load_backend("smollm2-135m-instruct"),
    ...                        UserContext(profiles={"1": "Loves film noir."}))  # doctest: +SKIP
    >>> judge.judge([("1", "The Maltese Falcon")])[0].score  # doctest: +SKIP
"""

from llmrec.context.view import SEES, UserContext
from llmrec.judge.listwise import ListwiseRanking, PermutationJudge, rank_by_pointwise
from llmrec.judge.pairwise import PairwiseJudge, PairwiseJudgment, PairwiseSummary, summarize
from llmrec.judge.pointwise import MODES, PointwiseJudge, PointwiseJudgment
from llmrec.judge.reward import JudgeReward

__all__ = [
    "MODES",
    "SEES",
    "JudgeReward",
    "ListwiseRanking",
    "PairwiseJudge",
    "PairwiseJudgment",
    "PairwiseSummary",
    "PermutationJudge",
    "PointwiseJudge",
    "PointwiseJudgment",
    "UserContext",
    "rank_by_pointwise",
    "summarize",
]
