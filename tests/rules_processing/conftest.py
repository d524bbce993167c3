"""Shared arrangements: demo institutions, 李娜 linked, the demo standards published."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity
from creditbank.kit import events
from creditbank.ledger.models import LedgerEntry
from creditbank.lrs.service import statements as statement_service
from creditbank.rules.models import Evaluation, HeldStatement, Outcome
from workers.runner import Worker

ROOT = Path(__file__).resolve().parents[2]
DEMO_STANDARDS = ROOT / "standards" / "demo"
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"

ACTIVITY = {
    "elec": "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment",
    "python": "https://mooc1.example.cn/courses/python",
    "ds": "https://mooc1.example.cn/courses/data-structures",
    "first_aid": "https://fxcc.example.edu.cn/courses/first-aid-16h",
    "calligraphy": "https://syu3a.example.edu.cn/courses/calligraphy",
    "shady_ds": "https://shady.example.com/courses/data-structures",
}


@dataclass
class World:
    demo: dict[str, Any]
    learner_id: uuid.UUID
    accounts: dict[str, dict[str, str]]

    def actor(self, key: str) -> dict[str, Any]:
        return {"objectType": "Agent", "account": dict(self.accounts[key])}


def statement(
    actor: dict[str, Any],
    verb: str,
    activity: str,
    *,
    result: dict[str, Any] | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
    }
    if result is not None:
        body["result"] = result
    if timestamp is not None:
        body["timestamp"] = timestamp
    return body


#: An actor linked to no learner (her statements are held).
STRANGER = {"objectType": "Agent", "mbox": "mailto:someone.new@example.cn"}
STRANGER_IFI = "mbox:mailto:someone.new@example.cn"
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
FXCC_REGISTRAR = {
    "objectType": "Agent",
    "account": {"homePage": "https://fxcc.example.edu.cn", "name": "registrar"},
}


def voiding(actor: dict[str, Any], target: str) -> dict[str, Any]:
    """A statement voiding the statement ``target``."""
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided", "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


async def publish_demo(db: Database) -> None:
    from creditbank.standards.service import standards

    async with db.session_scope() as session:
        await standards.publish_directory(session, DEMO_STANDARDS, actor="test")


@pytest.fixture
async def world(db: Database, settings: Settings) -> World:
    async with db.session_scope() as session:
        demo = await load_demo(session, settings)
    await publish_demo(db)
    accounts = {
        item["institution"]: item["account"] for item in demo["users"]["learner"]["linked_accounts"]
    }
    accounts["shady"] = {"homePage": "https://shady.example.com", "name": "lina-crash"}
    return World(
        demo=demo,
        learner_id=uuid.UUID(demo["users"]["learner"]["learner_id"]),
        accounts=accounts,
    )


async def principal_of(session: AsyncSession, world: World, key: str) -> Principal:
    item = world.demo["institutions"][key]
    return await identity.authenticate_basic(session, item["lrs_key"], item["lrs_secret"])


async def store(
    db: Database, settings: Settings, world: World, key: str, *bodies: dict[str, Any]
) -> list[str]:
    async with db.session_scope() as session:
        principal = await principal_of(session, world, key)
        await statement_service.store_statements(
            session, principal, list(bodies), version="1.0.3", settings=settings.lrs
        )
    return [b["id"] for b in bodies]


def worker(db: Database, settings: Settings) -> Worker:
    return Worker(db, settings, schedule=())


@pytest.fixture
def heard() -> Iterator[list[events.Event]]:
    """The events emitted while the test runs."""
    got: list[events.Event] = []

    async def listen(session: AsyncSession, emitted: Sequence[events.Event]) -> None:
        got.extend(emitted)

    events.register_event_handler("test-heard", listen)
    yield got
    events._handlers.pop("test-heard", None)


async def written(session: AsyncSession, heard: list[events.Event]) -> dict[str, Any]:
    """Everything the run wrote, without generated ids, in a stable order."""
    evaluations = (await session.execute(select(Evaluation))).scalars().all()
    outcomes = (await session.execute(select(Outcome))).scalars().all()
    held = (await session.execute(select(HeldStatement))).scalars().all()
    entries = (await session.execute(select(LedgerEntry))).scalars().all()
    return {
        "evaluations": sorted(
            (
                str(e.statement_id),
                str(e.learner_id),
                e.institution_key,
                e.kind,
                e.standards_hash,
                e.recognised,
                e.unit_code,
                e.credited,
                e.reason_zh,
                e.reason_en,
                e.outcome_id is not None,
                repr(e.detail),
                e.evaluated_at,
            )
            for e in evaluations
        ),
        "outcomes": sorted(
            (str(o.statement_id), str(o.learner_id), o.unit_code, o.credits, o.status, o.rule_id)
            for o in outcomes
        ),
        "held": sorted((str(h.statement_id), h.actor_ifi, h.held_at) for h in held),
        "entries": sorted(
            (str(e.learner_id), e.seq, e.kind, e.amount, e.unit_code, e.idempotency_key[:8])
            for e in entries
        ),
        "events": sorted(
            (
                e.type,
                e.id,
                str(e.institution_id),
                str(e.statement_id),
                repr(
                    {
                        key: (len(value) if key == "outcome_ids" else value is not None)
                        if key in {"evaluation_id", "outcome_ids"}
                        else value
                        for key, value in e.data.items()
                    }
                ),
            )
            for e in heard
        ),
    }
