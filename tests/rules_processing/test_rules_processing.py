"""Recognition and accumulation through the worker: li-na 1-7, idempotency, voiding,
held statements, caps, validity and expiry, accreditation, new standards versions."""

from __future__ import annotations

import shutil
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.models import Institution
from creditbank.identity.service import identity
from creditbank.jobs.models import Job, JobStatus
from creditbank.jobs.service import jobs as jobs_service
from creditbank.ledger.service import ledger
from creditbank.rules.models import Outcome, OutcomeStatus
from creditbank.rules.service import rules
from creditbank.standards.service import standards
from tests.rules_processing.conftest import (
    ACTIVITY,
    ATTENDED,
    COMPLETED,
    DEMO_STANDARDS,
    FXCC_REGISTRAR,
    PASSED,
    World,
    statement,
    store,
    voiding,
    worker,
)


async def li_na_1_to_7(db: Database, settings: Settings, world: World) -> dict[int, str]:
    ids: dict[int, str] = {}
    (ids[1],) = await store(
        db,
        settings,
        world,
        "fxvs",
        statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.82}}
        ),
    )
    ids[2], ids[3] = await store(
        db,
        settings,
        world,
        "mooc1",
        statement(
            world.actor("mooc1"),
            COMPLETED,
            ACTIVITY["python"],
            result={"success": True, "score": {"scaled": 0.91}},
        ),
        statement(
            world.actor("mooc1"),
            COMPLETED,
            ACTIVITY["ds"],
            result={"success": True, "score": {"scaled": 0.55}},
        ),
    )
    (ids[4],) = await store(
        db,
        settings,
        world,
        "fxcc",
        statement(
            world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
        ),
    )
    (ids[5],) = await store(
        db,
        settings,
        world,
        "syu3a",
        statement(
            world.actor("syu3a"), COMPLETED, ACTIVITY["calligraphy"], result={"duration": "PT20H"}
        ),
    )
    (ids[6],) = await store(
        db,
        settings,
        world,
        "shady",
        statement(
            world.actor("shady"),
            COMPLETED,
            ACTIVITY["shady_ds"],
            result={"success": True, "score": {"scaled": 0.99}},
        ),
    )
    (ids[7],) = await store(
        db,
        settings,
        world,
        "mooc1",
        statement(
            world.actor("mooc1"),
            COMPLETED,
            ACTIVITY["python"],
            result={"success": True, "score": {"scaled": 0.95}},
        ),
    )
    return ids


async def figures(db: Database, learner_id: uuid.UUID) -> tuple[Decimal, Decimal]:
    async with db.read_scope() as session:
        balances = await ledger.balances(session, learner_id)
    return balances.banked, balances.available


async def outcomes_of(db: Database, learner_id: uuid.UUID) -> list[Outcome]:
    async with db.read_scope() as session:
        rows = await rules.list_outcomes(session, learner_id)
        session.expunge_all()
    return rows


class TestLiNa:
    async def test_statements_1_to_7_bank_ten_credits(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        # 6 (shady) is sent by an actor that is not linked: link it so only accreditation decides.
        async with db.session_scope() as session:
            learner = await identity.get_learner(session, world.learner_id)
            await identity.link_by_operator(
                session, "test", learner, agent=world.actor("shady"), process_waiting=False
            )
        ids = await li_na_1_to_7(db, settings, world)
        await worker(db, settings).drain()

        assert await figures(db, world.learner_id) == (Decimal("10.00"), Decimal("10.00"))
        outcomes = await outcomes_of(db, world.learner_id)
        assert sorted((o.unit_code, o.credits) for o in outcomes) == [
            ("CERT-ELEC-4", Decimal("6.00")),
            ("COMM-FA-16", Decimal("1.00")),
            ("MOOC-PY-1", Decimal("2.00")),
            ("SEN-CAL-1", Decimal("1.00")),
        ]
        elec = next(o for o in outcomes if o.unit_code == "CERT-ELEC-4")
        assert elec.statement_ids == [ids[1]]
        assert (elec.rule_id, elec.rule_version, elec.institution_key) == ("R1", 1, "fxvs")
        assert elec.score_scaled == "0.82"
        assert elec.expires_at is not None

        async with db.read_scope() as session:
            _, three = await rules.explain_statement(session, uuid.UUID(ids[3]))
            _, six = await rules.explain_statement(session, uuid.UUID(ids[6]))
            _, seven = await rules.explain_statement(session, uuid.UUID(ids[7]))
            explained = await rules.explain_outcome(session, elec)
        assert three["status"] == "not_recognised"
        assert "0.55 < 0.6" in str(three["evaluations"][-1]["detail"])
        assert six["status"] == "not_recognised"
        assert "not accredited" in six["reason"]["en"]
        assert seven["status"] == "recognised"  # recognised, but credited nothing:
        assert seven["evaluations"][-1]["credited"] == "0.00"
        assert "already credited" in str(seven["evaluations"][-1]["detail"])
        assert explained["rule"] == {"id": "R1", "version": 1}
        assert explained["statement_ids"] == [ids[1]]
        assert explained["standards"]["version"] == "2024.1"

    async def test_running_a_job_again_never_credits_twice(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        (sid,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.6}}
            ),
        )
        w = worker(db, settings)
        await w.drain()
        for _ in range(2):
            async with db.session_scope() as session:
                await jobs_service.enqueue(session, "lrs.statement_stored", {"statement_id": sid})
            await w.drain()
        # and the service itself, straight
        async with db.session_scope() as session:
            again = await rules.process_statement(session, uuid.UUID(sid), actor="test")
        assert again.status == "skipped"
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
        assert len(await outcomes_of(db, world.learner_id)) == 1


class TestVoiding:
    async def test_a_voided_statement_revokes_its_outcome_and_the_ledger_reverses_it(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        (first_aid,) = await store(
            db,
            settings,
            world,
            "fxcc",
            statement(
                world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
            ),
        )
        (elec,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.9}}
            ),
        )
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("7.00"), Decimal("7.00"))
        voided_by = voiding(FXCC_REGISTRAR, first_aid)
        await store(db, settings, world, "fxcc", voided_by)
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
        by_unit = {o.unit_code: o for o in await outcomes_of(db, world.learner_id)}
        assert by_unit["COMM-FA-16"].status == OutcomeStatus.REVOKED
        assert voided_by["id"] in (by_unit["COMM-FA-16"].revoked_reason or "")
        assert by_unit["CERT-ELEC-4"].status == OutcomeStatus.ACTIVE
        async with db.read_scope() as session:
            _, why = await rules.explain_statement(session, uuid.UUID(first_aid))
            kinds = [e.kind for e in await ledger.entries(session, world.learner_id)]
        assert why["status"] == "voided"
        assert kinds[-1] == "reversal"
        assert elec


class TestHeld:
    async def test_statements_of_an_unlinked_actor_wait_for_the_link_then_count_once(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        stranger = {"objectType": "Agent", "mbox": "mailto:li.na@example.cn"}
        (sid,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(stranger, PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.7}}),
        )
        await worker(db, settings).drain()
        async with db.read_scope() as session:
            _, why = await rules.explain_statement(session, uuid.UUID(sid))
        assert why["status"] == "held"
        assert await figures(db, world.learner_id) == (Decimal("0.00"), Decimal("0.00"))

        async with db.session_scope() as session:
            learner = await identity.get_learner(session, world.learner_id)
            await identity.link_by_operator(session, "test", learner, agent=stranger)
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
        # the link job again: nothing more
        async with db.session_scope() as session:
            await jobs_service.enqueue(
                session,
                "identity.link_created",
                {"learner_id": str(world.learner_id), "ifi": "mbox:mailto:li.na@example.cn"},
            )
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("6.00"), Decimal("6.00"))
        async with db.read_scope() as session:
            statuses = set((await session.execute(select(Job.status))).scalars())
        assert statuses == {JobStatus.DONE}


def _variant(tmp_path: Path, version: str, effective: str, **replace: str) -> Path:
    target = tmp_path / f"standards-{version}"
    shutil.copytree(DEMO_STANDARDS, target)
    meta = (target / "set.yaml").read_text(encoding="utf-8")
    meta = meta.replace('version: "2024.1"', f'version: "{version}"').replace(
        "effective_from: 2024-01-01", f"effective_from: {effective}"
    )
    (target / "set.yaml").write_text(meta, encoding="utf-8")
    for file, (old, new) in ((k.replace("__", "."), v.split("=>")) for k, v in replace.items()):
        path = target / file
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
    return target


class TestAccumulation:
    async def test_a_cap_reduces_what_is_credited(
        self, db: Database, settings: Settings, world: World, tmp_path: Path
    ) -> None:
        directory = _variant(
            tmp_path,
            "caps-test",
            "2025-01-01",
            accumulation__yaml='max_credits: "10.0"=>max_credits: "3.0"',
        )
        async with db.session_scope() as session:
            await standards.publish_directory(session, directory, actor="test")
        await store(
            db,
            settings,
            world,
            "mooc1",
            statement(
                world.actor("mooc1"),
                COMPLETED,
                ACTIVITY["python"],
                result={"success": True, "score": {"scaled": 0.9}},
            ),
            statement(
                world.actor("mooc1"),
                COMPLETED,
                ACTIVITY["ds"],
                result={"success": True, "score": {"scaled": 0.9}},
            ),
        )
        await worker(db, settings).drain()
        by_unit = {o.unit_code: o for o in await outcomes_of(db, world.learner_id)}
        assert by_unit["MOOC-PY-1"].credits == Decimal("2.00")
        assert by_unit["MOOC-DS-1"].credits == Decimal("1.00")
        assert by_unit["MOOC-DS-1"].unit_credits == Decimal("3.00")
        assert by_unit["MOOC-DS-1"].standards_version == "caps-test"
        assert await figures(db, world.learner_id) == (Decimal("3.00"), Decimal("3.00"))

    async def test_expiry_sweep_writes_expiry_entries(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        async with db.session_scope() as session:
            fxvs = (
                await session.execute(select(Institution).where(Institution.key == "fxvs"))
            ).scalar_one()
            fxvs.accredited_from = datetime(2015, 1, 1, tzinfo=UTC)
        old = (datetime.now(UTC) - timedelta(days=6 * 366)).isoformat()
        await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"),
                PASSED,
                ACTIVITY["elec"],
                result={"score": {"scaled": 0.8}},
                timestamp=old,
            ),
        )
        await worker(db, settings).drain()
        (outcome,) = await outcomes_of(db, world.learner_id)
        assert outcome.expires_at is not None
        assert outcome.expires_at < datetime.now(UTC)
        async with db.session_scope() as session:
            await jobs_service.enqueue(session, "rules.expiry_sweep", {})
        await worker(db, settings).drain()
        (outcome,) = await outcomes_of(db, world.learner_id)
        assert outcome.status == OutcomeStatus.EXPIRED
        async with db.read_scope() as session:
            balances = await ledger.balances(session, world.learner_id)
            assert await rules.expiry_sweep(session, actor="test") == 0
        assert balances.available == Decimal("0.00")
        assert balances.expired == Decimal("6.00")

    async def test_statements_from_before_accreditation_recognise_nothing(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        (sid,) = await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"),
                PASSED,
                ACTIVITY["elec"],
                result={"score": {"scaled": 0.8}},
                timestamp="2014-05-01T08:00:00Z",
            ),
        )
        await worker(db, settings).drain()
        assert await outcomes_of(db, world.learner_id) == []
        async with db.read_scope() as session:
            _, why = await rules.explain_statement(session, uuid.UUID(sid))
        assert why["status"] == "not_recognised"
        assert "was not accredited by the bank at 2014-05-01" in why["reason"]["en"]


class TestNewVersion:
    async def test_dry_run_then_apply_writes_compensating_entries(
        self, db: Database, settings: Settings, world: World, tmp_path: Path
    ) -> None:
        await store(
            db,
            settings,
            world,
            "mooc1",
            statement(
                world.actor("mooc1"),
                COMPLETED,
                ACTIVITY["python"],
                result={"success": True, "score": {"scaled": 0.9}},
            ),
        )
        await store(
            db,
            settings,
            world,
            "fxvs",
            statement(
                world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.8}}
            ),
        )
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("8.00"), Decimal("8.00"))
        directory = _variant(
            tmp_path,
            "2025.1",
            "2025-01-01",
            accumulation__yaml='max_credits: "10.0"=>max_credits: "1.5"',
        )
        async with db.session_scope() as session:
            published = await standards.publish_directory(session, directory, actor="test")
            report = await rules.reevaluate(session, published, apply=False, actor="test")
        data = report.as_json()
        assert data["applied"] is False
        (changes,) = data["changes"].values()
        assert [
            (c["unit_code"], c["change"], c["old_credits"], c["new_credits"]) for c in changes
        ] == [("MOOC-PY-1", "changed", "2.00", "1.50")]
        assert await figures(db, world.learner_id) == (Decimal("8.00"), Decimal("8.00"))

        async with db.session_scope() as session:
            published = await standards.get_version(session, "demo", "2025.1")
            applied = await rules.reevaluate(session, published, apply=True, actor="test")
        assert applied.as_json()["totals"]["delta"] == "-0.50"
        assert await figures(db, world.learner_id) == (Decimal("7.50"), Decimal("7.50"))
        outcomes = await outcomes_of(db, world.learner_id)
        python = [o for o in outcomes if o.unit_code == "MOOC-PY-1"]
        assert sorted(o.status for o in python) == ["active", "superseded"]
        old = next(o for o in python if o.status == "superseded")
        new = next(o for o in python if o.status == "active")
        assert old.superseded_by == new.id
        assert new.standards_version == "2025.1"
        # Applying again changes nothing.
        async with db.session_scope() as session:
            again = await rules.reevaluate(session, published, apply=True, actor="test")
        assert again.changes == []
        assert await figures(db, world.learner_id) == (Decimal("7.50"), Decimal("7.50"))


class TestDryRun:
    async def test_evaluates_without_storing(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        body = statement(
            world.actor("mooc1"),
            COMPLETED,
            ACTIVITY["ds"],
            result={"success": True, "score": {"scaled": 0.5999}},
        )
        async with db.session_scope() as session:
            result = await rules.dry_run(session, body, institution_key="mooc1")
        assert result["recognised"] is False
        assert result["stored"] is False
        body["result"]["score"]["scaled"] = 0.6
        async with db.session_scope() as session:
            result = await rules.dry_run(session, body, institution_key="mooc1", version="2024.1")
        assert result["recognised"] is True
        assert result["decisions"][0]["unit_code"] == "MOOC-DS-1"
        assert await outcomes_of(db, world.learner_id) == []


class TestVoidingFreesTheUnit:
    async def test_the_next_statement_of_a_revoked_unit_is_credited(
        self, db: Database, settings: Settings, world: World
    ) -> None:
        first, second = await store(
            db,
            settings,
            world,
            "mooc1",
            statement(
                world.actor("mooc1"),
                COMPLETED,
                ACTIVITY["python"],
                result={"success": True, "score": {"scaled": 0.91}},
            ),
            statement(
                world.actor("mooc1"),
                COMPLETED,
                ACTIVITY["python"],
                result={"success": True, "score": {"scaled": 0.95}},
            ),
        )
        await worker(db, settings).drain()
        assert await figures(db, world.learner_id) == (Decimal("2.00"), Decimal("2.00"))
        voided_by = voiding(
            {"objectType": "Agent", "mbox": "mailto:registrar@mooc1.example.cn"}, first
        )
        await store(db, settings, world, "mooc1", voided_by)
        await worker(db, settings).drain()
        outcomes = await outcomes_of(db, world.learner_id)
        assert sorted((o.statement_ids[0], o.status) for o in outcomes) == sorted(
            [(first, "revoked"), (second, "active")]
        )
        # reversal of the first, deposit from the second: the figures stand
        assert await figures(db, world.learner_id) == (Decimal("2.00"), Decimal("2.00"))
