"""A 2xx is sent only after its write is committed (issue #9, item 0).

Through a real uvicorn server: a write answered 2xx is read at once by the next
request (another connection of the server's pool), many times over. The request
session used to commit in a dependency FastAPI finished after the response had gone
out, and on PostgreSQL about one sign-in in ten right after the account was created
failed. And a commit that fails is an error answer, never a 2xx.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from api.deps import SessionDep
from creditbank.db import Database
from tests.identity.conftest import World

pytestmark = pytest.mark.server

ROUNDS = 50
FXVS = "https://fxvs.example.edu.cn"


async def _bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture(autouse=True)
def _loopback_is_a_trusted_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The rounds sign in from addresses of their own, below the per-address rate limit:
    the server (started after this fixture) trusts loopback's X-Forwarded-For."""
    monkeypatch.setenv("CREDITBANK_TRUSTED_PROXIES", '["127.0.0.1"]')


async def test_a_write_is_readable_as_soon_as_it_is_answered(
    live_server, world: World, db: Database
):
    """One server for both stories (starting one costs seconds)."""
    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        await _new_sign_in_works_at_once(client, world)
        await _consent_code_is_usable_at_once(client, world, db)


async def _new_sign_in_works_at_once(client: httpx.AsyncClient, world: World) -> None:
    operator = await _bearer(client, "operator", world.password("operator"))
    for round_ in range(ROUNDS):
        username = f"learner{round_}"
        created = await client.post(
            "/api/v1/learners",
            json={"name": f"学员{round_}", "username": username, "password": "Pass-word-42"},
            headers=operator,
        )
        assert created.status_code == 201, created.text
        # Each from an address of her own (the server trusts loopback's X-Forwarded-For),
        # below the per-address sign-in rate limit.
        signed_in = await client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": "Pass-word-42"},
            headers={"X-Forwarded-For": f"198.51.100.{round_ + 1}"},
        )
        assert signed_in.status_code == 200, (round_, signed_in.text)


async def _consent_code_is_usable_at_once(
    client: httpx.AsyncClient, world: World, db: Database
) -> None:
    zhang = await _bearer(client, "zhang", world.password("zhang"))
    for round_ in range(ROUNDS):
        issued = await client.post(
            f"/api/v1/learners/{world.zhang_id}/consent-codes", json={}, headers=zhang
        )
        assert issued.status_code == 201, issued.text
        linked = await client.post(
            "/api/v1/identity-links",
            json={
                "consent_code": issued.json()["code"],
                "agent": {"account": {"homePage": FXVS, "name": f"FX{round_:07d}"}},
            },
            auth=world.basic("fxvs"),
        )
        assert linked.status_code == 201, (round_, linked.text)
        # And read from a connection of our own, not the server's.
        async with db.read_scope() as session:
            found = await session.execute(
                text("SELECT count(*) FROM identity_links WHERE id = :id"),
                {"id": _db_uuid(db, linked.json()["id"])},
            )
            assert found.scalar_one() == 1


def _db_uuid(db: Database, value: str) -> object:
    # SQLAlchemy's Uuid type stores 32 hex digits on SQLite and a native uuid on PostgreSQL.
    parsed = uuid.UUID(value)
    return parsed.hex if db.dialect == "sqlite" else parsed


def _before_the_portal(app: FastAPI) -> None:
    """Move the route just added in front of the portal, which is mounted at ``/`` last."""
    app.router.routes.insert(0, app.router.routes.pop())


@pytest.fixture
def failing_commit_app(app: FastAPI, db: Database) -> FastAPI:
    """The real application plus one endpoint whose write breaks a constraint only
    at commit (a deferred constraint, checked when the transaction ends)."""

    @app.post("/test/deferred-violation", status_code=201)
    async def deferred_violation(session: SessionDep) -> dict[str, str]:
        if db.dialect == "postgresql":
            await session.execute(
                text(
                    "CREATE TEMP TABLE deferred_probe (id int, CONSTRAINT deferred_probe_once"
                    " UNIQUE (id) DEFERRABLE INITIALLY DEFERRED) ON COMMIT DROP"
                )
            )
            await session.execute(text("INSERT INTO deferred_probe VALUES (1), (1)"))
        else:
            await session.execute(
                text("CREATE TEMP TABLE IF NOT EXISTS probe_parent (id int PRIMARY KEY)")
            )
            await session.execute(
                text(
                    "CREATE TEMP TABLE IF NOT EXISTS probe_child (parent int REFERENCES"
                    " probe_parent (id) DEFERRABLE INITIALLY DEFERRED)"
                )
            )
            await session.execute(text("INSERT INTO probe_child VALUES (1)"))
        return {"stored": "no"}

    _before_the_portal(app)
    return app


async def test_a_failed_commit_is_not_a_2xx(failing_commit_app: FastAPI):
    transport = httpx.ASGITransport(app=failing_commit_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/test/deferred-violation")
    assert response.status_code == 409, response.text
    assert response.json()["error"] == "conflict"


async def test_a_lost_connection_at_commit_is_503_with_retry_after(app: FastAPI, db: Database):
    if db.dialect != "postgresql":
        pytest.skip("a SQLite connection cannot be cut from outside")

    @app.post("/test/connection-lost", status_code=201)
    async def connection_lost(session: SessionDep) -> dict[str, str]:
        pid = (await session.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        async with db.write_engine.connect() as other:
            await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        return {"stored": "no"}

    _before_the_portal(app)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        response = await client.post("/test/connection-lost")
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "1"
    assert response.json()["error"] == "service_unavailable"
