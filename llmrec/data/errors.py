"""The error every loader raises for bad input (the policy and report live in ``validation``)."""

from __future__ import annotations


class DataFormatError(ValueError):
    """A file, row or field does not match what its format requires.

    The message names the file, the line (1-based, header included; for Parquet and
    ``datasets`` tables the 1-based row) and the field, and says what was expected.

    Attributes:
        path, line, field: Where (``line`` and ``field`` are ``None`` for whole-file problems).
        finding: The class of finding (see :data:`llmrec.data.validation.FINDINGS`), when known.
        report: The :class:`~llmrec.data.validation.LoadReport` so far, when a load ends in it.
    """

    def __init__(
        self,
        path: object,
        line: int | None,
        field_name: str | None,
        message: str,
        finding: str | None = None,
    ):
        self.path, self.line, self.field = str(path), line, field_name
        self.finding = finding
        self.report = None
        where = self.path + (f":{line}" if line is not None else "")
        what = f" field {field_name!r}" if field_name else ""
        super().__init__(f"{where}:{what} {message}")
