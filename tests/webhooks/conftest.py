"""The rules-processing world (demo institutions, 李娜 linked, demo standards published)."""

from tests.rules_processing.conftest import world

__all__ = ["world"]
