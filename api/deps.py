"""Annotated dependencies: sessions (one write transaction per request) and the caller.

The write session is a ``scope="function"`` dependency: FastAPI runs its exit (the
commit) when the endpoint has returned and before the response is sent, so a 2xx
always means "committed", and a failed commit becomes an error answer (see
``api.errors``: 409 for a constraint, 503 with ``Retry-After`` for a lost or busy
database). A default-scope yield dependency would commit after the response went
out, and a client reading at once could miss its own write.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import WRITE_NOTE, Database, ReadSession
from creditbank.identity.principal import Principal


def get_database(request: Request) -> Database:
    database: Database = request.app.state.database
    return database


def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def caller_key(principal: Principal) -> str | None:
    """The key of a caller's write mark (``api.replica``); None for nobody."""
    return None if principal.id is None else f"{principal.kind}:{principal.id}"


def note_caller(principal: Principal) -> Principal:
    """Name the request's caller, so a write it commits marks *its* reads for the primary
    (``api.replica``); returns ``principal``."""
    note = WRITE_NOTE.get()
    if note is not None:
        note.who = caller_key(principal)
    return principal


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's write session: committed when the endpoint has returned (before the
    answer is sent), rolled back if it raised."""
    async with get_database(request).session_scope() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[ReadSession]:
    async with get_database(request).read_scope() as session:
        yield session


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_app_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[ReadSession, Depends(get_read_session)]
