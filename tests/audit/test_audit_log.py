"""The audit log: append-only on PostgreSQL, recorded with the decision, operator query."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit
from creditbank.db import Database
from tests.identity.conftest import PASSWORD, World, login


async def test_record_and_query(db: Database):
    async with db.session_scope() as session:
        await audit.record(
            session,
            actor="cli",
            action="keys.rotate",
            object_type="keyring",
            object_id="k1",
            detail={"kind": "encryption"},
            ip="127.0.0.1",
        )
        await audit.record(
            session, actor="cli", action="keys.retire", object_type="keyring", object_id="k0"
        )
    async with db.read_scope() as session:
        newest = await audit.query(session, AuditFilter(limit=1))
        assert [e.action for e in newest] == ["keys.retire"]
        older = await audit.query(session, AuditFilter(before_id=newest[0].id))
        assert [e.action for e in older] == ["keys.rotate"]
        assert older[0].actor_kind == "system"
        assert older[0].ip == "127.0.0.1"
        assert [
            e.object_id
            for e in await audit.query(session, AuditFilter(object_type="keyring", object_id="k1"))
        ] == ["k1"]


async def test_append_only_on_postgresql(db: Database):
    if db.dialect != "postgresql":
        pytest.skip("the append-only trigger is PostgreSQL's")
    async with db.session_scope() as session:
        await audit.record(session, actor="cli", action="x", object_type="y")
    for statement in ("UPDATE audit_log SET action = 'z'", "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with db.session_scope() as session:
                await session.execute(text(statement))
    async with db.read_scope() as session:
        assert (await session.execute(text("SELECT action FROM audit_log"))).scalars().all() == [
            "x"
        ]


async def test_decisions_are_audited_and_operator_queries(client: httpx.AsyncClient, world: World):
    operator = await login(client, "operator", world.password("operator"))
    accredit = await client.put(
        "/api/v1/institutions/shady/accreditation",
        json={"accredited": True, "scope": {"categories": ["training"]}},
        headers=operator,
    )
    assert accredit.status_code == 200
    assert accredit.json()["accredited"] is True
    admin = await login(client, "fxvs_admin", PASSWORD)
    refused = await client.put(
        "/api/v1/institutions/fxvs/accreditation", json={"accredited": True}, headers=admin
    )
    assert refused.status_code == 403
    log = await client.get(
        "/api/v1/audit", params={"action": "institution.accredit"}, headers=operator
    )
    assert log.status_code == 200
    entries = log.json()
    assert [(e["outcome"], e["actor_label"]) for e in entries] == [
        ("denied", "fxvs_admin"),
        ("allowed", "operator"),
    ]
    assert entries[1]["detail"]["scope"] == {"categories": ["training"], "units": []}
    assert entries[1]["ip"]
    assert (await client.get("/api/v1/audit", headers=admin)).status_code == 403
