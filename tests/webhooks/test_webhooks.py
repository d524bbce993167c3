"""Institutions' outgoing webhooks, end to end on both databases: subscribed over the
API, emitted in the decision's transaction, delivered by the worker from the job table
to a real HTTP receiver (uvicorn on 127.0.0.1) that checks every signature with
``creditbank.client.verify_webhook``; retried after a 500, replayed, logged; a rolled-back
decision sends nothing; a dead or slow endpoint costs the worker a short timeout only."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.client import verify_webhook
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.jobs.models import Job
from creditbank.rules.service import rules
from creditbank.webhooks.models import Delivery, Subscription
from tests.conftest import free_port
from tests.rules_processing.conftest import (
    ACTIVITY,
    ATTENDED,
    PASSED,
    World,
    statement,
    store,
    worker,
)

PASSWORD = "Secret-pass-2024"
ALL_EVENTS = ["statement.recognised", "statement.held", "outcome.revoked", "conversion.decided"]


class Receiver:
    """A real HTTP endpoint (uvicorn, this event loop): records every POST, answers with
    the next status of ``statuses`` (then 204), after ``delay`` seconds."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self.delay = 0.0
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hooks"
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            interface="asgi3",
        )
        self.server = uvicorn.Server(config)

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        self.requests.append({"headers": headers, "body": body, "path": scope["path"]})
        if self.delay:
            await asyncio.sleep(self.delay)
        code = self.statuses.pop(0) if self.statuses else 204
        await send({"type": "http.response.start", "status": code, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    endpoint = Receiver()
    task = asyncio.create_task(endpoint.server.serve())
    for _ in range(200):
        if endpoint.server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield endpoint
    finally:
        endpoint.server.should_exit = True
        await task


async def login(client: httpx.AsyncClient, username: str = "fxvs_admin") -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def subscribe(
    client: httpx.AsyncClient, url: str, events: list[str] | None = None
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/institutions/fxvs/webhooks",
        json={"url": url, "event_types": events or ALL_EVENTS, "description": "MIS"},
        headers=await login(client),
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def elec(world: World, score: float = 0.9) -> dict[str, Any]:
    return statement(
        world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": score}}
    )


async def drain_until(db: Database, settings: Settings, done: Any, *, rounds: int = 100) -> None:
    runner = worker(db, settings)
    for _ in range(rounds):
        await runner.drain()
        if done():
            return
        await asyncio.sleep(0.05)


async def deliveries(
    client: httpx.AsyncClient, subscription_id: str, headers: dict[str, str]
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/api/v1/institutions/fxvs/webhooks/{subscription_id}/deliveries", headers=headers
    )
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()
    return found


@pytest.mark.usefixtures("admin")
async def test_decisions_arrive_signed_and_logged(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
) -> None:
    created = await subscribe(client, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    headers = await login(client)
    listed = await client.get("/api/v1/institutions/fxvs/webhooks", headers=headers)
    assert [s["id"] for s in listed.json()] == [created["id"]]
    assert "secret" not in listed.json()[0]  # shown once
    async with db.read_scope() as session:
        stored = await session.get(Subscription, uuid.UUID(created["id"]))
        assert stored is not None
        assert secret not in stored.secret_enc  # encrypted at rest

    (recognised,) = await store(db, settings, world, "fxvs", elec(world))
    stranger = {
        "objectType": "Agent",
        "account": {"homePage": "https://fxvs.example.edu.cn", "name": "not-linked-yet"},
    }
    (held,) = await store(
        db, settings, world, "fxvs", statement(stranger, PASSED, ACTIVITY["elec"])
    )
    # Another institution's decisions are not fxvs's to hear of.
    await store(
        db,
        settings,
        world,
        "fxcc",
        statement(
            world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
        ),
    )
    await drain_until(db, settings, lambda: len(receiver.requests) >= 2)
    voiding = {
        "id": str(uuid.uuid4()),
        "actor": {
            "objectType": "Agent",
            "account": {"homePage": "https://fxvs.example.edu.cn", "name": "registrar"},
        },
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": recognised},
    }
    await store(db, settings, world, "fxvs", voiding)
    await drain_until(db, settings, lambda: len(receiver.requests) >= 3)
    await asyncio.sleep(0.2)
    await worker(db, settings).drain()

    assert len(receiver.requests) == 3, receiver.events()
    for request in receiver.requests:
        assert verify_webhook(secret, request["headers"], request["body"])
        assert not verify_webhook("whsec_" + "A" * 44, request["headers"], request["body"])
        assert request["headers"]["webhook-id"].startswith("msg_")
    by_type = {e["type"]: e for e in receiver.events()}
    assert set(by_type) == {"statement.recognised", "statement.held", "outcome.revoked"}
    assert by_type["statement.recognised"]["data"]["statement_id"] == recognised
    assert by_type["statement.recognised"]["data"]["decisions"][0]["unit_code"] == "CERT-ELEC-4"
    assert by_type["statement.held"]["data"]["statement_id"] == held
    assert by_type["outcome.revoked"]["data"]["statement_id"] == recognised
    assert all(e["institution"] == "fxvs" for e in receiver.events())

    log = await deliveries(client, created["id"], headers)
    assert len(log) == 3
    assert {d["status"] for d in log} == {"delivered"}
    one = await client.get(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}/deliveries/{log[0]['id']}",
        headers=headers,
    )
    assert one.status_code == 200, one.text
    (attempt,) = one.json()["log"]
    assert attempt["status_code"] == 204
    assert attempt["latency_ms"] >= 0
    assert attempt["error"] is None

    # Running the recognition job again (an expired lease) delivers nothing twice.
    async with db.session_scope() as session:
        await rules.process_statement(session, uuid.UUID(held), actor="test")
    await worker(db, settings).drain()
    assert len(receiver.requests) == 3

    # Disabled: decisions are no longer delivered; deleted: gone with its log.
    patched = await client.patch(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}",
        json={"enabled": False},
        headers=headers,
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["enabled"] is False
    await store(db, settings, world, "fxvs", elec(world, 0.95))
    await worker(db, settings).drain()
    assert len(receiver.requests) == 3
    gone = await client.delete(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}", headers=headers
    )
    assert gone.status_code == 204
    async with db.read_scope() as session:
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0


@pytest.mark.usefixtures("admin")
async def test_a_500_is_retried_with_backoff_then_replayed(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
) -> None:
    settings.webhooks.backoff_base_seconds = 0.2
    receiver.statuses = [500]
    created = await subscribe(client, receiver.url, ["statement.recognised"])
    headers = await login(client)
    await store(db, settings, world, "fxvs", elec(world))

    await drain_until(db, settings, lambda: len(receiver.requests) >= 1)
    (log,) = await deliveries(client, created["id"], headers)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("pending", 1, 500)
    assert log["next_attempt_at"] is not None
    await drain_until(db, settings, lambda: len(receiver.requests) >= 2)
    (log,) = await deliveries(client, created["id"], headers)
    assert (log["status"], log["attempts"], log["last_status_code"]) == ("delivered", 2, 204)
    first, second = receiver.requests
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
    assert verify_webhook(created["secret"], second["headers"], second["body"])

    replayed = await client.post(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}/deliveries/{log['id']}/replay",
        headers=headers,
    )
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["status"] == "pending"
    again = await client.post(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}/deliveries/{log['id']}/replay",
        headers=headers,
    )
    assert again.status_code == 409  # still in flight
    await drain_until(db, settings, lambda: len(receiver.requests) >= 3)
    third = receiver.requests[2]
    assert third["headers"]["webhook-id"] == first["headers"]["webhook-id"]
    assert verify_webhook(created["secret"], third["headers"], third["body"])
    detail = await client.get(
        f"/api/v1/institutions/fxvs/webhooks/{created['id']}/deliveries/{log['id']}",
        headers=headers,
    )
    attempts = detail.json()["log"]
    assert [(a["status_code"], a["replay"]) for a in attempts] == [
        (500, False),
        (204, False),
        (204, True),
    ]
    assert "answered 500" in (attempts[0]["error"] or "")
    # The second attempt waited for its backoff (base 0.2 s after the first failure).
    gap = datetime.fromisoformat(attempts[1]["started_at"]) - datetime.fromisoformat(
        attempts[0]["started_at"]
    )
    assert gap.total_seconds() >= 0.2


@pytest.mark.usefixtures("admin")
async def test_a_rolled_back_decision_sends_nothing(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
) -> None:
    await subscribe(client, receiver.url, ["statement.recognised"])
    (sid,) = await store(db, settings, world, "fxvs", elec(world))
    async with db.sessionmaker() as session:
        processed = await rules.process_statement(session, uuid.UUID(sid), actor="test")
        assert processed.status == "recognised"
        # Enqueued in the decision's own transaction ...
        assert await _count(session, Delivery) == 1
        assert await _jobs(session, "webhooks.deliver") == 1
        await session.rollback()
    # ... and gone with it.
    async with db.read_scope() as session:
        assert await _count(session, Delivery) == 0
        assert await _jobs(session, "webhooks.deliver") == 0
    await asyncio.sleep(0.1)
    assert receiver.requests == []
    # The committed decision (the worker's) is delivered, once.
    await drain_until(db, settings, lambda: len(receiver.requests) >= 1)
    await worker(db, settings).drain()
    assert len(receiver.requests) == 1


@pytest.mark.usefixtures("admin")
async def test_a_dead_or_slow_endpoint_costs_a_short_timeout_then_dies_replayably(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
) -> None:
    settings.webhooks.backoff_base_seconds = 0.05
    settings.webhooks.max_attempts = 2
    settings.webhooks.timeout_seconds = 0.5
    dead = await subscribe(client, f"http://127.0.0.1:{free_port()}/nobody", ["statement.held"])
    slow = await subscribe(client, receiver.url, ["statement.recognised"])
    receiver.delay = 3.0
    headers = await login(client)
    fxvs = world.demo["institutions"]["fxvs"]
    stranger = {
        "objectType": "Agent",
        "account": {"homePage": "https://fxvs.example.edu.cn", "name": "someone"},
    }
    # Ingest answers at once whatever the receivers do: it only writes jobs.
    began = time.monotonic()
    for body in (elec(world), statement(stranger, PASSED, ACTIVITY["elec"])):
        response = await client.post(
            "/xapi/statements",
            json=body,
            auth=(fxvs["lrs_key"], fxvs["lrs_secret"]),
            headers={"X-Experience-API-Version": "1.0.3"},
        )
        assert response.status_code == 200, response.text
    assert time.monotonic() - began < 5

    async def settled() -> bool:
        logs = await deliveries(client, dead["id"], headers) + await deliveries(
            client, slow["id"], headers
        )
        return len(logs) == 2 and all(d["status"] == "dead" for d in logs)

    runner = worker(db, settings)
    for _ in range(100):
        await runner.drain()
        if await settled():
            break
        await asyncio.sleep(0.05)
    assert await settled()
    (refused,) = await deliveries(client, dead["id"], headers)
    (timed_out,) = await deliveries(client, slow["id"], headers)
    assert refused["attempts"] == 2
    assert "ConnectError" in (refused["last_error"] or "")
    assert "Timeout" in (timed_out["last_error"] or "")
    detail = await client.get(
        f"/api/v1/institutions/fxvs/webhooks/{slow['id']}/deliveries/{timed_out['id']}",
        headers=headers,
    )
    assert all(a["latency_ms"] < 2500 for a in detail.json()["log"])  # the timeout, not 3 s
    # A dead delivery is replayable once the endpoint is back.
    receiver.delay = 0
    replay = await client.post(
        f"/api/v1/institutions/fxvs/webhooks/{slow['id']}/deliveries/{timed_out['id']}/replay",
        headers=headers,
    )
    assert replay.status_code == 200, replay.text
    receiver.requests.clear()
    await drain_until(db, settings, lambda: len(receiver.requests) >= 1)
    (log,) = await deliveries(client, slow["id"], headers)
    assert log["status"] == "delivered"
    assert verify_webhook(
        slow["secret"], receiver.requests[0]["headers"], receiver.requests[0]["body"]
    )


async def _count(session: AsyncSession, model: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _jobs(session: AsyncSession, name: str) -> int:
    query = select(func.count()).select_from(Job).where(Job.name == name)
    return int(await session.scalar(query) or 0)
