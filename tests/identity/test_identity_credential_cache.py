"""The verified-credential cache: no query for a known pair, and revocation still bites.

In this process, rotating or revoking forgets the credential at once; a revocation
made by another process (here: straight in the database) stops the credential
within the cache's TTL.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, update

from creditbank.db import Database
from creditbank.errors import Unauthorized
from creditbank.identity.credentials import verified_credentials
from creditbank.identity.models import LrsCredential
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity
from creditbank.kit.time import utc_now

OPERATOR = Principal(kind="user", id=None, roles=frozenset({"operator"}), label="test")


@pytest.fixture
def short_ttl() -> Iterator[None]:
    before = verified_credentials.ttl
    identity.configure_credential_cache(0.5)
    yield
    identity.configure_credential_cache(before)


async def _issue(db: Database) -> tuple[str, str]:
    async with db.session_scope() as session:
        institution = await identity.create_institution(
            session, key="cachetest", type="training", name_zh="缓存测试", name_en="Cache"
        )
        issued = await identity.issue_credential(session, institution, scopes=["all"])
        return issued.credential.key, issued.secret


async def _authenticate(db: Database, key: str, secret: str) -> tuple[Principal, int]:
    """The principal, and how many queries it took."""
    queries = 0

    def count(*_: Any) -> None:
        nonlocal queries
        queries += 1

    engine = db.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        async with db.session_scope() as session:
            principal = await identity.authenticate_basic(session, key, secret)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return principal, queries


async def test_a_known_pair_needs_no_query_a_wrong_secret_still_fails(
    db: Database, short_ttl: None
) -> None:
    key, secret = await _issue(db)
    first, queries = await _authenticate(db, key, secret)
    again, cached_queries = await _authenticate(db, key, secret)
    assert queries >= 1
    assert cached_queries == 0
    assert again == first
    with pytest.raises(Unauthorized):
        await _authenticate(db, key, secret + "x")


async def test_rotate_and_revoke_here_take_effect_at_once(db: Database, short_ttl: None) -> None:
    key, secret = await _issue(db)
    await _authenticate(db, key, secret)
    async with db.session_scope() as session:
        institution = await identity.get_institution(session, "cachetest")
        credential_id = (await identity.authenticate_basic(session, key, secret)).id
        assert credential_id is not None
        rotated = await identity.rotate_credential(session, OPERATOR, institution, credential_id)
    with pytest.raises(Unauthorized):
        await _authenticate(db, key, secret)
    await _authenticate(db, key, rotated.secret)
    async with db.session_scope() as session:
        institution = await identity.get_institution(session, "cachetest")
        await identity.revoke_credential(session, OPERATOR, institution, credential_id)
    with pytest.raises(Unauthorized):
        await _authenticate(db, key, rotated.secret)


async def test_a_revocation_elsewhere_stops_the_credential_within_the_ttl(
    db: Database, short_ttl: None
) -> None:
    key, secret = await _issue(db)
    await _authenticate(db, key, secret)
    # Another server process revokes it: this process's cache is not told.
    async with db.session_scope() as session:
        await session.execute(
            update(LrsCredential).where(LrsCredential.key == key).values(revoked_at=utc_now())
        )
    await _authenticate(db, key, secret)  # still trusted, for at most the TTL
    await asyncio.sleep(0.6)
    with pytest.raises(Unauthorized):
        await _authenticate(db, key, secret)
