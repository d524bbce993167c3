"""Arrangement helpers for the conversion tests (not a test module)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.principal import Principal
from creditbank.ledger.service import ledger
from creditbank.rules.models import Outcome
from creditbank.standards.loader import load_standards
from creditbank.standards.schemas import StandardsSet
from creditbank.standards.service import standards as standards_service

ROOT = Path(__file__).resolve().parents[2]

# unit -> (category, level, credits, scaled, institution)
LI_NA = {
    "CERT-ELEC-4": ("vocational", 4, "6.0", "0.82", "fxvs"),
    "MOOC-PY-1": ("mooc", 4, "2.0", "0.91", "mooc1"),
    "COMM-FA-16": ("community", 2, "1.0", None, "fxcc"),
    "SEN-CAL-1": ("senior", 2, "1.0", None, "syu3a"),
}


def demo_standards() -> StandardsSet:
    return load_standards(ROOT / "standards" / "demo")


def variant(change: Callable[[dict[str, Any]], None]) -> StandardsSet:
    """The demo set, changed by ``change`` on its JSON form."""
    document = demo_standards().model_dump(mode="json", by_alias=True)
    change(document)
    return StandardsSet.model_validate(document)


async def publish(session: AsyncSession, standards: StandardsSet | None = None) -> StandardsSet:
    standards = standards or demo_standards()
    await standards_service.publish(session, standards, actor="test")
    return standards


async def add_outcome(
    session: AsyncSession,
    learner_id: uuid.UUID,
    unit_code: str,
    standards: StandardsSet,
    *,
    scaled: str | None = None,
    achieved_at: datetime | None = None,
) -> uuid.UUID:
    """A recognised outcome and its ledger deposit, as the rules worker leaves them."""
    category, level, credits, default_scaled, institution = LI_NA[unit_code]
    achieved_at = achieved_at or datetime.now(UTC) - timedelta(days=30)
    statement_id = uuid.uuid4()
    outcome = Outcome(
        learner_id=learner_id,
        unit_code=unit_code,
        unit_title_zh=unit_code,
        unit_title_en=unit_code,
        category=category,
        level=level,
        credits=Decimal(credits),
        unit_credits=Decimal(credits),
        score_scaled=scaled if scaled is not None else default_scaled,
        status="active",
        statement_id=statement_id,
        statement_ids=[str(statement_id)],
        institution_key=institution,
        rule_id="R1",
        rule_version=1,
        standards_id=standards.ref.id,
        standards_version=standards.ref.version,
        standards_hash=standards.ref.hash,
        evaluation_id=uuid.uuid4(),
        trace={},
        statement_timestamp=achieved_at,
        expires_at=achieved_at + timedelta(days=5 * 365),
    )
    session.add(outcome)
    await session.flush()
    await ledger.deposit(
        session,
        learner_id=learner_id,
        outcome_id=outcome.id,
        amount=Decimal(credits),
        category=category,
        level=level,
        unit_code=unit_code,
        rule_id="R1",
        rule_version="1",
        standards_version=standards.ref.version,
        statement_ids=[str(statement_id)],
        actor="test",
        idempotency_key=f"deposit:{outcome.id}",
    )
    return outcome.id


async def li_na(
    session: AsyncSession, standards: StandardsSet
) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    learner_id = uuid.uuid4()
    outcomes = {unit: await add_outcome(session, learner_id, unit, standards) for unit in LI_NA}
    return learner_id, outcomes


def learner(learner_id: uuid.UUID) -> Principal:
    return Principal(
        kind="user",
        id=uuid.uuid4(),
        roles=frozenset({"learner"}),
        learner_id=learner_id,
        label="li-na",
    )


def certifier(
    label: str, *scopes: tuple[str, str], learner_id: uuid.UUID | None = None
) -> Principal:
    return Principal(
        kind="user",
        id=uuid.uuid4(),
        roles=frozenset({"certifier", "learner"} if learner_id else {"certifier"}),
        certifier_scopes=frozenset(scopes or {("institution", "hbou")}),
        learner_id=learner_id,
        label=label,
    )
