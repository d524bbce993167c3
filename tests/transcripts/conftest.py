"""The transcripts API tests use the identity world (demo institutions and users)."""

from tests.identity.conftest import world

__all__ = ["world"]
