"""Errors of the standards context."""

from __future__ import annotations

from dataclasses import dataclass

from creditbank.errors import DomainError

__all__ = ["InvalidStandards", "StandardsIssue"]


@dataclass(frozen=True)
class StandardsIssue:
    """One problem in a standards set: file, 1-based line and column, field path, message."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class InvalidStandards(DomainError):
    """A standards set that does not validate; ``issues`` lists every problem found."""

    status_code = 422
    code = "invalid_standards"

    def __init__(self, issues: list[StandardsIssue]) -> None:
        self.issues = issues
        lines = "\n".join(f"  {issue}" for issue in issues)
        super().__init__(f"standards set is invalid ({len(issues)} issue(s)):\n{lines}")
