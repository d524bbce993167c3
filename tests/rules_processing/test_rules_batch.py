"""The worker's batch path: many statements in one transaction, same results as one by one."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.jobs.models import Job, JobStatus
from creditbank.jobs.service import jobs as jobs_service
from creditbank.ledger.service import ledger
from creditbank.rules.models import Evaluation
from creditbank.rules.repository import lock_key
from creditbank.rules.service import StatementMissing, rules
from tests.rules_processing.conftest import (
    ACTIVITY,
    COMPLETED,
    PASSED,
    World,
    statement,
    store,
    worker,
)
from tests.rules_processing.test_rules_processing import figures, li_na_1_to_7, outcomes_of


async def _link_shady(db: Database, world: World) -> None:
    async with db.session_scope() as session:
        learner = await identity.get_learner(session, world.learner_id)
        await identity.link_by_operator(
            session, "test", learner, agent=world.actor("shady"), process_waiting=False
        )


class TestBatch:
    async def test_li_na_1_to_7_in_one_batch_bank_what_one_by_one_banks(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        await _link_shady(db, world)
        ids = await li_na_1_to_7(db, settings, world)
        ordered = [uuid.UUID(ids[n]) for n in range(1, 8)]
        async with db.session_scope() as session:
            results = await rules.process_statements(session, ordered, actor="test")
        assert [r.status for r in results] == [
            "recognised",
            "recognised",
            "not_recognised",
            "recognised",
            "recognised",
            "not_recognised",
            "recognised",  # recognised, but the unit is credited already (statement 2)
        ]
        assert results[6].outcome_ids == ()
        # The same figures and outcomes as the one-by-one test of li-na 1-7.
        assert await figures(db, world.learner_id) == (Decimal("10.00"), Decimal("10.00"))
        outcomes = await outcomes_of(db, world.learner_id)
        assert sorted((o.unit_code, o.credits) for o in outcomes) == [
            ("CERT-ELEC-4", Decimal("6.00")),
            ("COMM-FA-16", Decimal("1.00")),
            ("MOOC-PY-1", Decimal("2.00")),
            ("SEN-CAL-1", Decimal("1.00")),
        ]
        python = next(o for o in outcomes if o.unit_code == "MOOC-PY-1")
        assert python.statement_ids == [ids[2]]
        async with db.read_scope() as session:
            report = await ledger.verify(session, learner_id=world.learner_id)
            entries = [
                (e.seq, e.idempotency_key) for e in await ledger.entries(session, world.learner_id)
            ]
            _, seven = await rules.explain_statement(session, ordered[6])
            explained = await rules.explain_outcome(session, python)
        assert report.ok, report.problems
        assert [seq for seq, _ in entries] == [1, 2, 3, 4]
        assert {key for _, key in entries} == {f"deposit:{o.id}" for o in outcomes}
        assert "already credited" in str(seven["evaluations"][-1]["detail"])
        assert explained["rule"] == {"id": "R2", "version": 1}
        assert explained["trace"]["accumulation"]["status"] == "credited"

        # Again: every statement is skipped, nothing is credited twice.
        async with db.session_scope() as session:
            again = await rules.process_statements(session, ordered, actor="test")
        assert {r.status for r in again} == {"skipped"}
        assert await figures(db, world.learner_id) == (Decimal("10.00"), Decimal("10.00"))

    async def test_held_voiding_and_repeated_statements_in_a_batch(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        stranger = {"objectType": "Agent", "mbox": "mailto:nobody@example.com"}
        (held,) = await store(
            db,
            settings,
            world,
            "mooc1",
            statement(stranger, COMPLETED, ACTIVITY["python"], result={"success": True}),
        )
        (good,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.7}}
            ),
        )
        async with db.session_scope() as session:
            results = await rules.process_statements(
                session, [uuid.UUID(held), uuid.UUID(good), uuid.UUID(good)], actor="test"
            )
        assert [r.status for r in results] == ["held", "recognised", "skipped"]
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
        async with db.session_scope() as session:
            with pytest.raises(StatementMissing):
                await rules.process_statements(session, [uuid.uuid4()], actor="test")

    async def test_the_worker_runs_a_failing_batch_one_by_one(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        (good,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.7}}
            ),
        )
        missing = str(uuid.uuid4())
        async with db.session_scope() as session:
            await jobs_service.enqueue(session, "lrs.statement_stored", {"statement_id": missing})
        await worker(db, settings).drain()
        async with db.read_scope() as session:
            rows = (await session.execute(select(Job.payload, Job.status))).all()
            logged = (await session.execute(select(Evaluation.statement_id))).scalars().all()
        status = {payload["statement_id"]: state for payload, state in rows}
        assert status == {good: JobStatus.DONE.value, missing: JobStatus.DEAD.value}
        assert logged == [uuid.UUID(good)]
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))


@pytest.mark.postgres
class TestDeferral:
    async def test_a_learner_another_worker_holds_is_deferred_not_waited_for(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        if db.dialect != "postgresql":
            pytest.skip("advisory locks are PostgreSQL's")
        (sid,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.7}}
            ),
        )
        async with db.session_scope() as holder:
            await holder.execute(
                text("SELECT pg_advisory_xact_lock(:k)"),
                {"k": lock_key("learner", str(world.learner_id))},
            )
            async with db.session_scope() as session:
                deferred = await asyncio.wait_for(
                    rules.process_statements(
                        session, [uuid.UUID(sid)], actor="test", defer_busy=True
                    ),
                    timeout=10,
                )
            assert [r.status for r in deferred] == ["deferred"]
        assert await figures(db, world.learner_id) == (Decimal("0.00"), Decimal("0.00"))
        # With the lock free, the worker's second pass (waiting) credits it.
        async with db.session_scope() as session:
            await jobs_service.enqueue(session, "lrs.statement_stored", {"statement_id": sid})
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
