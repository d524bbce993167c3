"""The batch posting path (``deposit_many``) over many learners, on SQLite and PostgreSQL.

On PostgreSQL its rows go as one statement per table (arrays through ``unnest``, the
heads moved by one UPDATE): every chain must still verify from a fresh session, the
stored figures be the exact hundredths, and a batch be written all or none.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.db import Database
from creditbank.ledger.service import Deposit, ledger
from tests.ledger.helpers_ledger import deposit

D = Decimal
#: From the smallest amount to one that a float could not hold to the hundredth.
AMOUNTS = ("0.01", "1.25", "12345678.99", "3.10", "0.5", "7")


def _deposit(learner: uuid.UUID, amount: str, *, level: int | None = 4) -> Deposit:
    outcome = uuid.uuid4()
    return Deposit(
        learner_id=learner,
        outcome_id=outcome,
        amount=D(amount),
        category="vocational" if level else "mooc",
        level=level,
        unit_code=f"U-{outcome.hex[:8]}",
        rule_id="R1",
        rule_version="1",
        standards_version="demo-1",
        statement_ids=[str(uuid.uuid4())],
        actor="test",
        idempotency_key=f"deposit:{outcome}",
    )


def _batch(learners: list[uuid.UUID], start: int) -> list[Deposit]:
    """Up to four deposits per learner, interleaved across learners (not grouped)."""
    out: list[Deposit] = []
    for round_ in range(4):
        for i, learner in enumerate(learners):
            if round_ <= (i + start) % 4:
                amount = AMOUNTS[(i + round_ + start) % len(AMOUNTS)]
                out.append(_deposit(learner, amount, level=None if i % 5 == 0 else 4))
    return out


async def test_many_learners_chains_verify_and_credits_are_exact(
    session: AsyncSession, db: Database
):
    learners = [uuid.uuid4() for _ in range(60)]
    # A third of them have a chain already: the batch continues it.
    for learner in learners[::3]:
        await deposit(session, learner, "2.35")
    first = _batch(learners, 0)
    second = _batch(learners, 1)
    ids = await ledger.deposit_many(session, first)
    ids2 = await ledger.deposit_many(session, second)
    await session.commit()
    assert len(set(ids + ids2)) == len(first) + len(second)

    expected: dict[uuid.UUID, Decimal] = {learner: D(0) for learner in learners}
    for learner in learners[::3]:
        expected[learner] += D("2.35")
    for d in first + second:
        expected[d.learner_id] += d.amount
    counts = {learner: (1 if i % 3 == 0 else 0) for i, learner in enumerate(learners)}
    for d in first + second:
        counts[d.learner_id] += 1

    async with db.session_scope() as fresh:
        report = await ledger.verify(fresh)
        assert report.ok, report.problems
        assert report.learners == len(learners)
        assert report.entries == sum(counts.values())
        for learner in learners:
            figures = await ledger.balances(fresh, learner)
            assert figures.available == expected[learner]
            assert figures.banked == expected[learner]
            assert figures.seq == counts[learner]
            assert str(figures.available) == f"{expected[learner]:.2f}"
        # Stored as integer hundredths, the head row at the chain's last entry.
        rows = (
            await fresh.execute(
                text(
                    "SELECT e.learner_id, e.seq, e.available, e.hash, h.seq, h.hash "
                    "FROM ledger_entries e JOIN ledger_heads h ON h.learner_id = e.learner_id "
                    "WHERE e.seq = h.seq"
                )
            )
        ).all()
        assert len(rows) == len(learners)
        for _, seq, available, entry_hash, head_seq, head_hash in rows:
            assert isinstance(available, int)
            assert (seq, entry_hash) == (head_seq, head_hash)
        by_learner = {uuid.UUID(str(r[0])): r[2] for r in rows}
        assert by_learner == {k: int(v * 100) for k, v in expected.items()}
        deposited = (
            await fresh.execute(text("SELECT sum(deposited), sum(available) FROM ledger_positions"))
        ).one()
        total = sum(expected.values())
        assert tuple(deposited) == (int(total * 100), int(total * 100))

        # The same deposits again: each returns its first entry, nothing is posted.
        again = await ledger.deposit_many(fresh, first + second)
        assert again == ids + ids2
        assert (await ledger.verify(fresh)).entries == report.entries


async def test_a_batch_is_written_all_or_none(session: AsyncSession, db: Database):
    learners = [uuid.uuid4() for _ in range(5)]
    batch = _batch(learners, 2)
    # A repeated idempotency key for another outcome: the unique key refuses the batch.
    clash = _deposit(learners[3], "1.00")
    batch.append(Deposit(**{**vars(clash), "idempotency_key": batch[0].idempotency_key}))
    with pytest.raises(IntegrityError):
        await ledger.deposit_many(session, batch)
    await session.rollback()
    async with db.session_scope() as fresh:
        assert (await ledger.verify(fresh)).entries == 0
        assert (await fresh.execute(text("SELECT count(*) FROM ledger_positions"))).scalar() == 0
