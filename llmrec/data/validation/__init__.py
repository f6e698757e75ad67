"""One validation layer for every loader: a policy per class of finding, and the load report.

Every loader (MovieLens, RecBole, Amazon, tables, Hugging Face) parses its files into rows and
sends them through the same checks; each finding belongs to a class, and the
:class:`ValidationPolicy` says for each class what happens:

* ``error``: stop with a :class:`~llmrec.data.errors.DataFormatError` naming file, line, field
  and what was expected;
* ``skip-and-report``: drop the row, count it under its class, keep the first examples;
* ``fix-and-report``: repair as the class documents (read milliseconds as such, add a bare
  item, keep the first of two item rows) and count it;
* ``keep-and-report``: keep the row as it is and count it (exact duplicate interactions).

Whatever is done is in the :class:`LoadReport` attached to the dataset as
``dataset.load_report`` and printed by ``llmrec data check PATH``. Some findings are always
errors, whatever the policy: a file that holds no interactions (or none left after skipping),
a directory or a symlink loop where a file is expected, a header without a required column.

Example:
    >>> from llmrec.data.validation import ValidationPolicy
    >>> policy = ValidationPolicy({"rating_range": "skip-and-report"}, rating_scale=(1, 5))
    >>> policy.action("rating_range"), policy.action("duplicate_item")
    ('skip-and-report', 'error')
"""

from llmrec.data.validation.catalogue import Catalogue
from llmrec.data.validation.checks import check_domains
from llmrec.data.validation.policy import (
    ACTIONS,
    ERROR,
    FINDINGS,
    FIX,
    KEEP,
    ROW_CLASSES,
    SKIP,
    TIMESTAMP_MAX,
    FindingClass,
    RatingScale,
    ValidationPolicy,
)
from llmrec.data.validation.report import LoadReport

__all__ = [
    "ACTIONS",
    "ERROR",
    "FINDINGS",
    "FIX",
    "KEEP",
    "ROW_CLASSES",
    "SKIP",
    "TIMESTAMP_MAX",
    "Catalogue",
    "FindingClass",
    "LoadReport",
    "RatingScale",
    "ValidationPolicy",
    "check_domains",
]
