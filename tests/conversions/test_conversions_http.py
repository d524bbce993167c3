"""Conversions, ledger and inbox over HTTP (both databases), signed webhooks to a real
receiver on 127.0.0.1, and two approvals racing for one outcome."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.conversions.errors import NotEligible, OutcomeAlreadyConverted
from creditbank.conversions.models import Decision
from creditbank.conversions.service import conversions
from creditbank.conversions.tasks import SIGNATURE_HEADER, verify, webhook_secret
from creditbank.db import Database
from creditbank.demo import load_demo
from creditbank.identity.service import identity
from creditbank.identity.signin import RoleSpec, sign_in
from creditbank.ledger import merkle
from creditbank.ledger.service import ledger
from tests.conversions.helpers_conversions import (
    add_outcome,
    certifier,
    demo_standards,
    learner,
    li_na,
    publish,
    variant,
)
from workers.runner import Worker

D = Decimal
PASSWORD = "Secret-pass-2024"


class Receiver:
    """A tiny real HTTP server recording POSTs; answers from a list of status codes."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.requests: list[dict[str, Any]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.requests.append({"headers": dict(self.headers), "body": body})
                code = outer.statuses.pop(0) if outer.statuses else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/creditbank"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def world(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """The li-na demo (institutions, users, standards) with her four outcomes deposited."""
    demo = await load_demo(session, settings)
    hbou = await identity.get_institution(session, "hbou")
    fxvs = await identity.get_institution(session, "fxvs")
    for username, institution in (("zhaolaoshi", hbou), ("fxvs_certifier", fxvs)):
        await sign_in.create_user(
            session,
            "test",
            settings=settings,
            username=username,
            password=PASSWORD,
            roles=[RoleSpec("certifier", institution=institution)],
        )
    learner_id = uuid.UUID(demo["users"]["learner"]["learner_id"])
    standards = demo_standards()
    outcomes = {
        unit: await add_outcome(session, learner_id, unit, standards)
        for unit in ("CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1")
    }
    await session.commit()
    return {"demo": demo, "learner_id": learner_id, "outcomes": outcomes}


async def test_li_na_conversions_over_http(
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    db: Database,
    receiver: Receiver,
):
    settings.conversions.webhooks = {"hbou": receiver.url}
    w = await world(session, settings)
    users = w["demo"]["users"]
    lid = w["learner_id"]
    lina = await login(client, users["learner"]["username"], users["learner"]["password"])
    wang = await login(client, users["certifier"]["username"], users["certifier"]["password"])
    operator = await login(client, users["operator"]["username"], users["operator"]["password"])
    fxvs_certifier = await login(client, "fxvs_certifier", PASSWORD)

    balances = (await client.get(f"/api/v1/ledger/learners/{lid}/balances", headers=lina)).json()
    assert (balances["banked"], balances["available"]) == ("10.00", "10.00")

    dry = await client.get(f"/api/v1/conversions/learners/{lid}/options", headers=lina)
    assert dry.status_code == 200, dry.text
    options = {o["rule_id"]: o for o in dry.json()["options"]}
    assert set(options) == {"C1", "C2"}
    assert options["C1"]["outcome_ids"] == [str(w["outcomes"]["CERT-ELEC-4"])]

    # Someone else's record is not hers to read or apply for.
    other = await client.get(f"/api/v1/conversions/learners/{uuid.uuid4()}/options", headers=lina)
    assert other.status_code == 403

    applied = {}
    for rule in ("C1", "C2"):
        response = await client.post(
            f"/api/v1/conversions/learners/{lid}/applications",
            json={"rule_id": rule},
            headers=lina,
        )
        assert response.status_code == 201, response.text
        applied[rule] = response.json()["id"]
    twice = await client.post(
        f"/api/v1/conversions/learners/{lid}/applications", json={"rule_id": "C1"}, headers=lina
    )
    assert (twice.status_code, twice.json()["error"]) == (409, "duplicate_application")

    queue = (await client.get("/api/v1/conversions/applications", headers=wang)).json()
    assert {a["id"] for a in queue} == set(applied.values())
    assert (
        await client.get("/api/v1/conversions/applications", headers=fxvs_certifier)
    ).json() == []

    decision = {"decision": "approve", "reason": "证书真实有效 / certificate verified"}
    out_of_scope = await client.post(
        f"/api/v1/conversions/applications/{applied['C1']}/decisions",
        json=decision,
        headers=fxvs_certifier,
    )
    assert out_of_scope.status_code == 403
    by_learner = await client.post(
        f"/api/v1/conversions/applications/{applied['C1']}/decisions", json=decision, headers=lina
    )
    assert by_learner.status_code == 403
    no_reason = await client.post(
        f"/api/v1/conversions/applications/{applied['C1']}/decisions",
        json={"decision": "approve", "reason": ""},
        headers=wang,
    )
    assert no_reason.status_code == 422

    for rule in ("C1", "C2"):
        response = await client.post(
            f"/api/v1/conversions/applications/{applied[rule]}/decisions",
            json=decision,
            headers=wang,
        )
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "approved"

    balances = (await client.get(f"/api/v1/ledger/learners/{lid}/balances", headers=lina)).json()
    assert (balances["banked"], balances["available"], balances["converted"]) == (
        "10.00",
        "2.00",
        "8.00",
    )
    assert [e["unit_code"] for e in balances["exemptions"]] == ["HBOU-EE-101", "HBOU-CS-101"]
    assert balances["target_credits"] == "6.00"

    again = await client.post(
        f"/api/v1/conversions/learners/{lid}/applications", json={"rule_id": "C1"}, headers=lina
    )
    assert (again.status_code, again.json()["error"]) == (409, "not_eligible")

    detail = await client.get(f"/api/v1/conversions/applications/{applied['C1']}", headers=lina)
    assert detail.json()["reviews"][0]["reviewer_label"] == users["certifier"]["username"]

    entries = (await client.get(f"/api/v1/ledger/learners/{lid}/entries", headers=lina)).json()
    conversions_ = [e for e in entries if e["kind"] == "conversion"]
    assert [e["rule_id"] for e in conversions_] == ["C1", "C2"]
    assert all(e["statement_ids"] and e["standards_version"] for e in conversions_)
    verified = (await client.get(f"/api/v1/ledger/learners/{lid}/verify", headers=lina)).json()
    assert verified["ok"] is True

    messages = (await client.get(f"/api/v1/inbox/learners/{lid}/messages", headers=lina)).json()
    assert len(messages) == 2
    assert all("批准" in m["subject_zh"] and "approved" in m["subject_en"] for m in messages)
    read = await client.post(f"/api/v1/inbox/messages/{messages[0]['id']}/read", headers=lina)
    assert read.json()["read_at"] is not None
    unread = await client.get(
        f"/api/v1/inbox/learners/{lid}/messages", params={"unread": "true"}, headers=lina
    )
    assert len(unread.json()) == 1

    # Adjustments: operator only, never zero, never below zero available.
    url = f"/api/v1/ledger/learners/{lid}/adjustments"
    body = {"amount": "0", "reason": "nothing", "idempotency_key": "adj-0"}
    assert (await client.post(url, json=body, headers=operator)).status_code == 400
    body = {"amount": "-5", "reason": "too much", "idempotency_key": "adj-1"}
    assert (await client.post(url, json=body, headers=operator)).status_code == 409
    body = {"amount": "0.5", "reason": "paper record", "idempotency_key": "adj-2"}
    assert (await client.post(url, json=body, headers=lina)).status_code == 403
    assert (await client.post(url, json=body, headers=operator)).status_code == 201
    body = {"amount": "0.5", "reason": "paper record", "idempotency_key": "adj-3"}
    bad_float = {**body, "amount": "0.001"}
    assert (await client.post(url, json=bad_float, headers=operator)).status_code == 400

    # Checkpoints: on demand (operator), public roots and keys, inclusion proof for her head.
    assert (await client.post("/api/v1/ledger/checkpoints", headers=lina)).status_code == 403
    made = await client.post("/api/v1/ledger/checkpoints", headers=operator)
    assert made.status_code == 201, made.text
    listed = (await client.get("/api/v1/ledger/checkpoints")).json()
    assert listed[0]["root"] == made.json()["root"]
    assert (await client.get("/api/v1/ledger/checkpoints/keys")).json()["keys"][0][
        "crv"
    ] == "Ed25519"
    proof = (
        await client.get(f"/api/v1/ledger/learners/{lid}/inclusion-proof", headers=lina)
    ).json()
    assert merkle.verify_inclusion(
        proof["leaf_data"].encode(),
        proof["index"],
        proof["tree_size"],
        proof["proof"],
        proof["root"],
    )
    document = await client.get(
        f"/api/v1/ledger/checkpoints/{made.json()['id']}/document", headers=operator
    )
    assert document.json()["leaves"]

    # The target institution hears of both decisions: signed webhooks from the job table.
    worker = Worker(db, settings)
    await worker.drain()
    assert len(receiver.requests) == 2
    secret = webhook_secret(settings)
    for request in receiver.requests:
        assert verify(secret, request["headers"][SIGNATURE_HEADER], request["body"])
        assert not verify(b"wrong", request["headers"][SIGNATURE_HEADER], request["body"])
        payload = json.loads(request["body"])
        assert payload["event"] == "conversion.approved"
        assert payload["application"]["institution"] == "hbou"
    assert {json.loads(r["body"])["application"]["rule_id"] for r in receiver.requests} == {
        "C1",
        "C2",
    }


async def test_webhook_is_retried_until_delivered(
    session: AsyncSession, settings: Settings, db: Database
):
    receiver = Receiver(statuses=[500, 503])
    try:
        settings.conversions.webhooks = {"hbou": receiver.url}
        settings.worker.backoff_base_seconds = 0.05
        standards = await publish(session)
        learner_id, _ = await li_na(session, standards)
        application = await conversions.apply(
            session, learner(learner_id), settings, learner_id=learner_id, rule_id="C1"
        )
        await conversions.review(
            session,
            certifier("wang"),
            settings,
            application.id,
            decision=Decision.REJECT,
            reason="no",
        )
        await session.commit()
        worker = Worker(db, settings)
        for _ in range(60):
            await worker.drain()
            if len(receiver.requests) >= 3:
                break
            await asyncio.sleep(0.1)
        assert len(receiver.requests) == 3
        attempts = [r["headers"]["X-Creditbank-Attempt"] for r in receiver.requests]
        assert attempts == ["1", "2", "3"]
        assert json.loads(receiver.requests[-1]["body"])["event"] == "conversion.rejected"
    finally:
        receiver.close()


async def test_two_approvals_racing_for_one_outcome(
    session: AsyncSession, settings: Settings, db: Database
):
    """C1 and C3 both need CERT-ELEC-4; approved at once on two connections: one wins."""

    def with_c3(doc: dict[str, Any]) -> None:
        doc["meta"]["version"] = "2025.1"
        doc["meta"]["effective_from"] = "2025-01-01"
        c1 = next(r for r in doc["conversion"]["rules"] if r["id"] == "C1")
        doc["conversion"]["rules"].append(
            {**c1, "id": "C3", "target": {"kind": "exemption", "unit": "HBOU-CS-101"}}
        )

    standards = await publish(session, variant(with_c3))
    learner_id, outcomes = await li_na(session, standards)
    me = learner(learner_id)
    first = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")
    second = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C3")
    await session.commit()
    ids = [first.id, second.id]
    await session.close()
    start = asyncio.Event()

    async def approve(application_id: uuid.UUID, who: str) -> str:
        await start.wait()
        try:
            async with db.session_scope() as s:
                decided = await conversions.review(
                    s,
                    certifier(who),
                    settings,
                    application_id,
                    decision=Decision.APPROVE,
                    reason="ok",
                )
                return decided.status
        except (OutcomeAlreadyConverted, NotEligible) as exc:
            return exc.code

    tasks = [asyncio.create_task(approve(i, f"c{n}")) for n, i in enumerate(ids)]
    await asyncio.sleep(0)
    start.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results)[0] == "approved"
    assert sorted(results)[1] in {"outcome_already_converted", "not_eligible"}
    async with db.read_scope() as reader:
        figures = await ledger.balances(reader, learner_id)
        assert (figures.banked, figures.available, figures.converted) == (
            D("10.00"),
            D("4.00"),
            D("6.00"),
        )
        entries = await ledger.entries(reader, learner_id, kind="conversion")
        assert len(entries) == 1
        assert entries[0].outcome_id == outcomes["CERT-ELEC-4"]
        assert (await ledger.verify(reader)).ok


async def _until_a_backend_waits_on_a_lock(db: Database, timeout: float = 60) -> None:
    """Poll pg_stat_activity until some session of this database waits on a lock."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        async with db.read_engine.connect() as connection:
            waiting = (
                await connection.execute(
                    text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock'"
                    )
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the second approval never waited on the consumed outcome")


async def test_second_approval_waits_for_the_first_and_gets_409(
    session: AsyncSession, settings: Settings, db: Database
):
    """Deterministic interleaving: A has consumed the outcome but not committed; B waits
    (PostgreSQL: on the learner's ledger lock, taken before the record is re-checked;
    SQLite: on the writer lock) and, once A commits, re-reads the record, finds the
    outcome spent and is refused with 409 ``not_eligible`` while the ledger holds one
    conversion. (The consumption's primary key stays as the backstop: see
    ``test_two_approvals_racing_for_one_outcome``.)"""

    def with_c3(doc: dict[str, Any]) -> None:
        doc["meta"]["version"] = "2025.1"
        doc["meta"]["effective_from"] = "2025-01-01"
        c1 = next(r for r in doc["conversion"]["rules"] if r["id"] == "C1")
        doc["conversion"]["rules"].append(
            {**c1, "id": "C3", "target": {"kind": "exemption", "unit": "HBOU-CS-101"}}
        )

    standards = await publish(session, variant(with_c3))
    learner_id, _ = await li_na(session, standards)
    me = learner(learner_id)
    first = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C1")
    second = await conversions.apply(session, me, settings, learner_id=learner_id, rule_id="C3")
    first_id, second_id = first.id, second.id
    await session.commit()
    await session.close()

    async def approve_second() -> str:
        try:
            async with db.session_scope() as s:
                await conversions.review(
                    s, certifier("b"), settings, second_id, decision=Decision.APPROVE, reason="ok"
                )
                return "approved"
        except (OutcomeAlreadyConverted, NotEligible) as exc:
            return exc.code

    async with db.sessionmaker() as a:
        await conversions.review(
            a, certifier("a"), settings, first_id, decision=Decision.APPROVE, reason="ok"
        )
        waiting = asyncio.create_task(approve_second())
        if db.dialect == "postgresql":
            await _until_a_backend_waits_on_a_lock(db)
        else:
            await asyncio.sleep(0.5)
        assert not waiting.done()
        await a.commit()
    result = await waiting
    assert result == "not_eligible"
    async with db.read_scope() as reader:
        assert len(await ledger.entries(reader, learner_id, kind="conversion")) == 1
