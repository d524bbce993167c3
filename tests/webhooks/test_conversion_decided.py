"""``conversion.decided`` end to end on both databases: a certifier approves one of
李娜's applications and rejects another over the API; the worker delivers each decision,
signed, to the subscriber of the conversion's target institution (hbou) on a real
receiver; the institutions whose outcomes fed the conversions (fxvs, mooc1) hear
nothing, even when subscribed to every event type.

Who hears a decision: the target institution alone (``application.target_institution_key``,
the programme's institution). It is the party the learner asked; telling the source
institutions would tell them where she studies next, which she never shared with them.
The payload names her by the pseudonymous learner id only."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from creditbank.client import verify_webhook
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.identity.signin import RoleSpec, sign_in
from tests.conversions.helpers_conversions import add_outcome, demo_standards
from tests.rules_processing.conftest import World
from tests.webhooks.test_webhooks import ALL_EVENTS, PASSWORD, Receiver, drain_until, login
from tests.webhooks.test_webhooks import receiver as receiver

#: Everything a decision's payload says; nothing else (no name, username, account).
APPLICATION_KEYS = {
    "id",
    "learner_id",
    "rule_id",
    "rule_version",
    "standards",
    "programme",
    "institution",
    "target_kind",
    "target_unit",
    "credits",
    "source_units",
    "status",
    "reason",
    "decided_at",
}


@pytest.fixture
async def second_receiver() -> AsyncIterator[Receiver]:
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


async def _subscribe(
    client: httpx.AsyncClient, key: str, username: str, url: str, events: list[str]
) -> dict[str, str]:
    response = await client.post(
        f"/api/v1/institutions/{key}/webhooks",
        json={"url": url, "event_types": events, "description": f"{key} MIS"},
        headers=await login(client, username),
    )
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


@pytest.mark.usefixtures("admin")
async def test_a_decision_reaches_the_target_institution_only_signed(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
    second_receiver: Receiver,
) -> None:
    users = world.demo["users"]
    async with db.session_scope() as session:
        hbou = await identity.get_institution(session, "hbou")
        await sign_in.create_user(
            session,
            "test",
            settings=settings,
            username="hbou_admin",
            password=PASSWORD,
            roles=[RoleSpec("institution_admin", institution=hbou)],
        )
        standards = demo_standards()
        for unit in ("CERT-ELEC-4", "MOOC-PY-1"):
            await add_outcome(session, world.learner_id, unit, standards)

    target = await _subscribe(client, "hbou", "hbou_admin", receiver.url, ["conversion.decided"])
    source = await _subscribe(client, "fxvs", "fxvs_admin", second_receiver.url, ALL_EVENTS)

    lid = world.learner_id
    lina = await client.post(
        "/api/v1/auth/login",
        json={"username": users["learner"]["username"], "password": users["learner"]["password"]},
    )
    lina_headers = {"Authorization": f"Bearer {lina.json()['access_token']}"}
    wang = await client.post(
        "/api/v1/auth/login",
        json={
            "username": users["certifier"]["username"],
            "password": users["certifier"]["password"],
        },
    )
    wang_headers = {"Authorization": f"Bearer {wang.json()['access_token']}"}
    applied: dict[str, str] = {}
    for rule in ("C1", "C2"):
        response = await client.post(
            f"/api/v1/conversions/learners/{lid}/applications",
            json={"rule_id": rule},
            headers=lina_headers,
        )
        assert response.status_code == 201, response.text
        applied[rule] = response.json()["id"]
    # Applying is no decision: nobody hears of it.
    await drain_until(db, settings, lambda: False, rounds=3)
    assert receiver.requests == []
    assert second_receiver.requests == []

    decisions = {
        "C1": {"decision": "approve", "reason": "证书真实有效 / certificate verified"},
        "C2": {"decision": "reject", "reason": "课程不对应 / the course does not match"},
    }
    for rule, decision in decisions.items():
        response = await client.post(
            f"/api/v1/conversions/applications/{applied[rule]}/decisions",
            json=decision,
            headers=wang_headers,
        )
        assert response.status_code == 200, response.text
    await drain_until(db, settings, lambda: len(receiver.requests) >= 2)
    await drain_until(db, settings, lambda: False, rounds=3)

    assert len(receiver.requests) == 2, receiver.events()
    for request in receiver.requests:
        assert verify_webhook(target["secret"], request["headers"], request["body"])
        assert not verify_webhook(source["secret"], request["headers"], request["body"])
    by_application = {e["data"]["id"]: e for e in receiver.events()}
    assert set(by_application) == set(applied.values())
    approved = by_application[applied["C1"]]
    rejected = by_application[applied["C2"]]
    for event in (approved, rejected):
        assert event["type"] == "conversion.decided"
        assert event["institution"] == "hbou"
        assert set(event["data"]) == APPLICATION_KEYS
        assert event["data"]["institution"] == "hbou"
        assert event["data"]["learner_id"] == str(lid)
        assert event["data"]["decided_at"]
    assert (approved["data"]["status"], approved["data"]["source_units"]) == (
        "approved",
        ["CERT-ELEC-4"],
    )
    assert approved["data"]["reason"] == decisions["C1"]["reason"]
    assert approved["id"] == f"conversion.decided:{applied['C1']}:approved"
    assert rejected["data"]["status"] == "rejected"
    assert rejected["data"]["reason"] == decisions["C2"]["reason"]
    # Her name and accounts are not in it, only the pseudonymous id.
    raw = b"".join(r["body"] for r in receiver.requests).decode()
    assert "李娜" not in raw
    assert users["learner"]["username"] not in raw
    for account in world.accounts.values():
        assert account["name"] not in raw

    # The source institution, subscribed to everything, heard nothing of either.
    assert second_receiver.requests == []
    log = await client.get(
        f"/api/v1/institutions/fxvs/webhooks/{source['id']}/deliveries",
        headers=await login(client, "fxvs_admin"),
    )
    assert log.json() == []
    # Nor may it read the target's log.
    foreign = await client.get(
        f"/api/v1/institutions/hbou/webhooks/{target['id']}/deliveries",
        headers=await login(client, "fxvs_admin"),
    )
    assert foreign.status_code == 403
    delivered = await client.get(
        f"/api/v1/institutions/hbou/webhooks/{target['id']}/deliveries",
        headers=await login(client, "hbou_admin"),
    )
    assert {d["status"] for d in delivered.json()} == {"delivered"}
    assert uuid.UUID(delivered.json()[0]["id"])
