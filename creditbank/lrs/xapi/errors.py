"""The one error the xAPI data-model layer raises."""

from __future__ import annotations


class XAPIValidationError(ValueError):
    """A value breaks an xAPI data-model rule; ``path`` locates it (``$.actor.mbox``)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __reduce__(self) -> tuple[type[XAPIValidationError], tuple[str, str]]:
        return (XAPIValidationError, (self.path, self.message))
