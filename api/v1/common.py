"""What the bank's JSON API routers share: the keyring and auditing of refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import get_app_settings, get_database
from creditbank.audit.service import audit
from creditbank.errors import DomainError
from creditbank.identity.principal import Principal
from creditbank.identity.tokens import keyring_for
from creditbank.kit.crypto import Keyring


def get_keyring(request: Request) -> Keyring:
    return keyring_for(get_app_settings(request))


KeyringDep = Annotated[Keyring, Depends(get_keyring)]


@asynccontextmanager
async def audit_refusals(
    request: Request,
    session: AsyncSession,
    *,
    actor: Principal | str,
    action: str,
    object_type: str,
    object_id: object | None = None,
    ip: str | None = None,
) -> AsyncIterator[None]:
    """A 4xx refusal inside the block rolls the request back, is audited in a
    transaction of its own (so the entry survives), and is re-raised."""
    try:
        yield
    except DomainError as exc:
        if 400 <= exc.status_code < 500:
            # Release the request's transaction first (SQLite has one writer).
            await session.rollback()
            await audit.record_detached(
                get_database(request),
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                detail={"error": exc.code},
                ip=ip,
                outcome="denied",
            )
        raise
