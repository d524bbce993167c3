"""Run Alembic migrations programmatically (``creditbank migrate``, ``serve``, tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(database_url: str) -> Config:
    """An Alembic config for ``database_url`` that keeps the caller's logging."""
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["configure_logger"] = False
    return config


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Upgrade the database to ``revision`` (every branch head by default)."""
    command.upgrade(alembic_config(database_url), revision)


def script_heads(database_url: str) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(database_url)).get_heads())


async def current_heads(engine: AsyncEngine) -> set[str]:
    """The revisions the database is at."""

    def _heads(connection: object) -> set[str]:
        return set(MigrationContext.configure(connection).get_current_heads())  # type: ignore[arg-type]

    async with engine.connect() as connection:
        return await connection.run_sync(_heads)
