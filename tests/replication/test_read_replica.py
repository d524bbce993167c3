"""Reads on a real hot standby (issue 14 item 5): ordinary reads come from the standby,
reads that must see the caller's just-made write come from the primary, and
``X-Experience-API-Consistent-Through`` stays true while the standby lags.

The lag is real: the standby's WAL replay is paused (``pg_wal_replay_pause()``), so a
row written meanwhile exists on the primary only. Which server answered is shown by
such rows, and by ``pg_is_in_recovery()``.
"""

from __future__ import annotations

import socket
import uuid
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database, on_standby
from creditbank.demo import load_demo
from tests.portal.helpers_portal import figure, sign_in
from tests.replication.conftest import Clusters, Standby

pytestmark = pytest.mark.postgres

XAPI = {"X-Experience-API-Version": "1.0.3"}
CONSISTENT = "X-Experience-API-Consistent-Through"


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    data = await load_demo(session, settings)
    await session.commit()
    return data


def statement(institution: dict[str, Any], learner: str = "20230001") -> dict[str, Any]:
    home = institution["home_page"]
    return {
        "id": str(uuid.uuid4()),
        "actor": {"objectType": "Agent", "account": {"homePage": home, "name": learner}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}},
        "object": {"objectType": "Activity", "id": f"{home}/xapi/activities/replica"},
    }


async def post(client: httpx.AsyncClient, auth: tuple[str, str], body: Any) -> httpx.Response:
    return await client.post(
        "/xapi/statements",
        content=orjson.dumps(body),
        headers={**XAPI, "Content-Type": "application/json"},
        auth=auth,
    )


async def get(
    client: httpx.AsyncClient, auth: tuple[str, str], params: dict[str, str] | None = None
) -> httpx.Response:
    return await client.get("/xapi/statements", params=params, headers=XAPI, auth=auth)


def ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()["statements"]]


def consistent(response: httpx.Response) -> datetime:
    return datetime.fromisoformat(response.headers[CONSISTENT].replace("Z", "+00:00"))


def stored(response: httpx.Response, statement_id: str) -> datetime:
    (found,) = [s for s in response.json()["statements"] if s["id"] == statement_id]
    return datetime.fromisoformat(found["stored"].replace("Z", "+00:00"))


def credentials(demo: dict[str, Any]) -> tuple[tuple[str, str], tuple[str, str]]:
    """(the vocational school's credential, the conformance credential reading everything)."""
    fxvs = demo["institutions"]["fxvs"]
    everyone = demo["conformance"]
    return (fxvs["lrs_key"], fxvs["lrs_secret"]), (everyone["lrs_key"], everyone["lrs_secret"])


async def test_the_replica_scope_reads_the_standby(db: Database, standby: Standby) -> None:
    async with db.replica_scope() as session:
        assert on_standby(session)
        assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one() is True
    async with db.read_scope() as session:
        assert not on_standby(session)
        assert (await session.execute(text("SELECT pg_is_in_recovery()"))).scalar_one() is False


async def test_statement_reads_while_the_standby_lags(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby
) -> None:
    fxvs, everyone = credentials(demo)
    first = statement(demo["institutions"]["fxvs"])
    assert (await post(client, fxvs, first)).status_code == 200
    await standby.caught_up()
    before = await get(client, everyone)
    assert ids(before) == [first["id"]]

    await standby.pause()
    second = statement(demo["institutions"]["fxvs"], learner="20230002")
    assert (await post(client, fxvs, second)).status_code == 200

    # The writer reads its own write: its reads go to the primary until the standby has it.
    mine = await get(client, fxvs)
    assert ids(mine) == [second["id"], first["id"]]
    assert consistent(mine) >= stored(mine, second["id"])

    # Anyone else reads the standby, which has not replayed the second statement ...
    lagging = await get(client, everyone)
    assert ids(lagging) == [first["id"]]
    # ... and says so: Consistent-Through stays before what it lacks, and covers what it has.
    assert consistent(lagging) < stored(mine, second["id"])
    assert consistent(lagging) >= stored(lagging, first["id"]).replace(microsecond=0)
    # A statement asked for by id that the standby lacks is looked up on the primary (no
    # false 404); one nobody stored is still a 404, from the primary.
    by_id = await get(client, everyone, {"statementId": second["id"]})
    assert by_id.status_code == 200, by_id.text
    assert by_id.json()["id"] == second["id"]
    missing = await get(client, everyone, {"statementId": str(uuid.uuid4())})
    assert missing.status_code == 404
    assert CONSISTENT in missing.headers

    await standby.resume()
    await standby.caught_up()
    assert ids(await get(client, everyone)) == [second["id"], first["id"]]


async def test_a_write_mark_is_forgotten_once_the_standby_has_it(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby, db: Database
) -> None:
    fxvs, _ = credentials(demo)
    first = statement(demo["institutions"]["fxvs"])
    assert (await post(client, fxvs, first)).status_code == 200
    await standby.caught_up()
    assert ids(await get(client, fxvs)) == [first["id"]]  # on the standby: the mark passed
    await standby.pause()
    # A statement stored behind the API's back (no write mark for anyone) ...
    async with db.sessionmaker() as session:
        await session.execute(text("UPDATE lrs_statements SET body = body || '{\"x\": 1}'::jsonb"))
        await session.commit()
    # ... is not seen through the standby by the caller whose mark has passed.
    page = await get(client, fxvs)
    assert ids(page) == [first["id"]]
    assert "x" not in page.json()["statements"][0]


async def test_empty_standby_and_paging_beyond_it_go_to_the_primary(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby, db: Database
) -> None:
    fxvs, everyone = credentials(demo)
    await standby.pause()
    # The writer posts three; the standby has none, so it cannot vouch for any instant.
    sent = [statement(demo["institutions"]["fxvs"], learner=f"2023000{i}") for i in range(3)]
    assert (await post(client, fxvs, sent)).status_code == 200
    page = await get(client, everyone, {"limit": "2", "ascending": "true"})
    assert ids(page) == [s["id"] for s in sent[:2]]  # answered by the primary
    assert consistent(page) >= stored(page, sent[1]["id"])
    # The next page's bound is beyond the standby's last statement: the primary again.
    more = await client.get(page.json()["more"], headers=XAPI, auth=everyone)
    assert ids(more) == [sent[2]["id"]]


async def login(client: httpx.AsyncClient, user: dict[str, str]) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_balances_read_your_writes_while_the_standby_lags(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby
) -> None:
    users = demo["users"]
    operator = await login(client, users["operator"])
    learner = await login(client, users["learner"])
    learner_id = users["learner"]["learner_id"]
    balances = f"/api/v1/ledger/learners/{learner_id}/balances"
    await standby.caught_up()
    assert (await client.get(balances, headers=learner)).json()["banked"] == "0.00"

    await standby.pause()
    adjusted = await client.post(
        f"/api/v1/ledger/learners/{learner_id}/adjustments",
        json={"amount": "1.5", "reason": "replica test", "idempotency_key": "replica-1"},
        headers=operator,
    )
    assert adjusted.status_code == 201, adjusted.text
    # The operator who wrote sees it (primary); the learner reads the lagging standby.
    assert (await client.get(balances, headers=operator)).json()["banked"] == "1.50"
    assert (await client.get(balances, headers=learner)).json()["banked"] == "0.00"
    entries = f"/api/v1/ledger/learners/{learner_id}/entries"
    assert len((await client.get(entries, headers=operator)).json()) == 1
    assert (await client.get(entries, headers=learner)).json() == []

    await standby.resume()
    await standby.caught_up()
    assert (await client.get(balances, headers=learner)).json()["banked"] == "1.50"


async def test_metrics_show_the_standby_pool(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby
) -> None:
    operator = await login(client, demo["users"]["operator"])
    _, everyone = credentials(demo)
    assert (await get(client, everyone)).status_code == 200  # the standby pool has served
    response = await client.get("/metrics", headers=operator)
    assert response.status_code == 200, response.text
    assert 'creditbank_db_standby_pool_connections{state="size"} 4.0' in response.text
    assert 'creditbank_db_pool_connections{state="size"}' in response.text


async def test_the_portal_balance_and_dashboard_read_the_standby(
    client: httpx.AsyncClient, demo: dict[str, Any], standby: Standby
) -> None:
    """The portal's replica reads: the learner's balance page shows what the lagging
    standby has; the operator's dashboard renders from it."""
    users = demo["users"]
    operator = await login(client, users["operator"])
    learner_id = users["learner"]["learner_id"]
    await standby.pause()
    adjusted = await client.post(
        f"/api/v1/ledger/learners/{learner_id}/adjustments",
        json={"amount": "2", "reason": "replica test", "idempotency_key": "replica-2"},
        headers=operator,
    )
    assert adjusted.status_code == 201, adjusted.text
    signed_in = await sign_in(client, users["learner"]["username"], users["learner"]["password"])
    assert signed_in.status_code in (302, 303), signed_in.text
    page = await client.get("/me")
    assert page.status_code == 200, page.text
    assert figure(page.text, "banked") in {"0", "0.0", "0.00"}
    await standby.resume()
    await standby.caught_up()
    assert figure((await client.get("/me")).text, "banked") in {"2", "2.0", "2.00"}

    client.cookies.clear()
    signed_in = await sign_in(client, users["operator"]["username"], users["operator"]["password"])
    assert signed_in.status_code in (302, 303), signed_in.text
    dashboard = await client.get("/operate/dashboard")
    assert dashboard.status_code == 200, dashboard.text


async def test_a_standby_that_is_away_is_read_around(clusters: Clusters) -> None:
    """Nobody listens on the standby's port: replica reads fall back to the primary."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    away = clusters.standby_url.replace(f":{make_url(clusters.standby_url).port}/", f":{closed}/")
    database = Database.from_url(clusters.primary_url, standby_url=away)
    try:
        for _ in range(2):
            async with database.replica_scope() as session:
                assert not on_standby(session)
                recovery = await session.execute(text("SELECT pg_is_in_recovery()"))
                assert recovery.scalar_one() is False
    finally:
        await database.dispose()
