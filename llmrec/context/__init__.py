"""The user-context and scoring layer: what a language model sees, and how its answer is read.

Below profiles, judge, embeddings, evaluation and training; above backends, data and prompts.

* :mod:`~llmrec.context.items`: an item as a block, a line or a title;
* :mod:`~llmrec.context.history`: a user's history as lines, one token-budget rule;
* :mod:`~llmrec.context.view`: :class:`UserContext`, the profile / history / both view of a user;
* :mod:`~llmrec.context.facts`: grounded facts computed from a history (likes, dislikes, drift);
* :mod:`~llmrec.context.profile_files`: one reader for every profile file;
* :mod:`~llmrec.context.scoring`: :class:`AnswerScorer`, answer probabilities over any label set.

Example:
    >>> from llmrec.context import AnswerScorer, UserContext
    >>> ctx = UserContext.from_profile_file("profiles.jsonl")  # doctest: +SKIP
    >>> AnswerScorer(backend, "1-5").score(chats).expected()  # doctest: +SKIP
"""

from llmrec.context.items import (
    ItemLike,
    as_item,
    item_fields,
    item_title,
    render_item,
    render_item_line,
)
from llmrec.context.profile_files import ProfileFile, read_profile_file, read_profile_texts
from llmrec.context.scoring import (
    SCALES,
    AnswerScale,
    AnswerScorer,
    AnswerScores,
    answer_scale,
    renormalise,
)
from llmrec.context.view import SEES, UserContext

__all__ = [
    "SCALES",
    "SEES",
    "AnswerScale",
    "AnswerScorer",
    "AnswerScores",
    "ItemLike",
    "ProfileFile",
    "UserContext",
    "answer_scale",
    "as_item",
    "item_fields",
    "item_title",
    "read_profile_file",
    "read_profile_texts",
    "render_item",
    "render_item_line",
    "renormalise",
]
