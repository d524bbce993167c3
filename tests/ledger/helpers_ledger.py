"""Helpers shared by the ledger tests (not a test module)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.ledger.models import LedgerEntry
from creditbank.ledger.service import ledger


async def deposit(
    session: AsyncSession,
    learner_id: uuid.UUID,
    amount: str,
    *,
    unit_code: str = "CERT-ELEC-4",
    category: str = "vocational",
    level: int | None = 4,
    outcome_id: uuid.UUID | None = None,
    key: str | None = None,
) -> LedgerEntry:
    outcome_id = outcome_id or uuid.uuid4()
    return await ledger.deposit(
        session,
        learner_id=learner_id,
        outcome_id=outcome_id,
        amount=Decimal(amount),
        category=category,
        level=level,
        unit_code=unit_code,
        rule_id="R1",
        rule_version="1",
        standards_version="demo-1",
        statement_ids=[str(uuid.uuid4())],
        actor="test",
        idempotency_key=key or f"deposit:{outcome_id}",
    )
