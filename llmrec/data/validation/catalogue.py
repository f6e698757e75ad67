"""Rows of an item or user file keyed by id; a repeated id is a finding."""

from __future__ import annotations

from typing import Any

from llmrec.data.errors import DataFormatError
from llmrec.data.validation.policy import FIX
from llmrec.data.validation.report import LoadReport


class Catalogue:
    """The rows of an item or user file keyed by id; a repeated id is a finding.

    Identical repeats are merged and counted (``fix-and-report`` always); repeats that differ
    follow the policy for ``duplicate_item`` / ``duplicate_user``: an error, or the first row
    wins and the report says which line was kept.

    Args:
        kind: ``"item"`` or ``"user"``.
        path: The file, for messages.
        report: The load report.
    """

    def __init__(self, kind: str, path: object, report: LoadReport) -> None:
        self.kind, self.path, self.report = kind, path, report
        self.rows: dict[str, Any] = {}
        self.lines: dict[str, int] = {}

    def add(self, key: str, value: Any, line: int, field_name: str | None = None) -> None:
        if key not in self.rows:
            self.rows[key], self.lines[key] = value, line
            return
        first = self.lines[key]
        name = f"duplicate_{self.kind}"
        if self.rows[key] == value:
            err = DataFormatError(
                self.path, line, field_name, f"repeats line {first} exactly; merged into one"
            )
            self.report.record(name, FIX, err)
            return
        err = DataFormatError(
            self.path,
            line,
            field_name,
            f"{self.kind} {key!r} is also on line {first} with different fields; "
            f"which one is meant is unknown (policy {name}=fix keeps line {first})",
        )
        self.report.finding(name, err)
