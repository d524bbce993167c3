"""A batch's statements that credit nothing (held, voided, actors without an
identifier) and the release of held statements write what the same statements
processed one at a time (each a batch of one) write.

Each way runs in a transaction of its own on the same stored statements, is read
back, and rolled back (or committed, to go on): the rows, events and results are
compared with their generated ids left out.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.kit import events
from creditbank.rules.repository import RulesRepository
from creditbank.rules.service import Processed, rules
from tests.rules_processing.conftest import (
    ACTIVITY,
    ATTENDED,
    COMPLETED,
    FXCC_REGISTRAR,
    NOW,
    PASSED,
    STRANGER,
    STRANGER_IFI,
    World,
    statement,
    store,
    voiding,
    written,
)


def _results(results: Sequence[Processed]) -> list[tuple[str, str, bool, int]]:
    return [(r.status, r.reason, r.evaluation_id is not None, len(r.outcome_ids)) for r in results]


async def _one_by_one(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[Processed]:
    seen: set[uuid.UUID] = set()
    out: list[Processed] = []
    for statement_id in ids:
        if statement_id in seen:  # the batch reads a repeated statement as done
            out.append(Processed("skipped", reason="already evaluated"))
            continue
        seen.add(statement_id)
        out.append(await rules.process_statement(session, statement_id, actor="test", now=NOW))
    return out


async def _release_one_by_one(session: AsyncSession, ifi: str) -> list[Processed]:
    """The held statements released, then each processed alone, in the order held."""
    repo = RulesRepository.from_session(session)
    held = [row.statement_id for row in await repo.held_for(ifi)]
    await repo.release_many(held)
    return [
        await rules.process_statement(session, statement_id, actor="test", now=NOW)
        for statement_id in held
    ]


class TestNothingCreditedInABatch:
    async def test_batch_and_one_by_one_write_the_same_rows_events_and_results(
        self, db: Database, settings: Settings, world: World, heard: list[events.Event]
    ) -> None:
        group = {
            "objectType": "Group",
            "member": [{"objectType": "Agent", "mbox": "mailto:a.member@example.cn"}],
        }
        elec = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.82}}
        )
        earlier = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.6}}
        )
        held_before = statement(
            STRANGER, PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.75}}
        )
        await store(db, settings, world, "fxvs", elec, earlier, held_before)
        python = statement(
            world.actor("mooc1"),
            COMPLETED,
            ACTIVITY["python"],
            result={"success": True, "score": {"scaled": 0.91}},
        )
        held_python = statement(STRANGER, COMPLETED, ACTIVITY["python"], result={"success": True})
        held_unmapped = statement(
            world.actor("shady"), COMPLETED, ACTIVITY["shady_ds"], result={"success": True}
        )
        held_ds = statement(
            STRANGER,
            COMPLETED,
            ACTIVITY["ds"],
            result={"success": True},
            timestamp="2001-01-01T00:00:00Z",  # before the standards or accreditation
        )
        await store(db, settings, world, "mooc1", python, held_python, held_ds)
        await store(db, settings, world, "shady", held_unmapped)
        first_aid = statement(
            world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
        )
        of_a_group = statement(group, ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"})
        voided_by = voiding(FXCC_REGISTRAR, first_aid["id"])
        await store(db, settings, world, "fxcc", first_aid, of_a_group)
        await store(db, settings, world, "fxcc", voided_by)
        # Done before: one evaluated, one held.
        async with db.session_scope() as session:
            await rules.process_statements(
                session,
                [uuid.UUID(earlier["id"]), uuid.UUID(held_before["id"])],
                actor="test",
                now=NOW,
            )
        ids = [
            uuid.UUID(body["id"])
            for body in (
                held_python,
                elec,
                of_a_group,
                held_before,
                first_aid,
                voided_by,
                held_unmapped,
                python,
                earlier,
                held_ds,
                elec,
            )
        ]

        async with db.sessionmaker() as session:
            heard.clear()
            alone = await _one_by_one(session, ids)
            one_by_one = await written(session, heard)
            await session.rollback()
        async with db.sessionmaker() as session:
            heard.clear()
            together = await rules.process_statements(session, ids, actor="test", now=NOW)
            batch = await written(session, heard)
            await session.commit()

        assert [r.status for r in together] == [
            "held",
            "recognised",
            "not_recognised",
            "held",
            "not_recognised",
            "skipped",
            "held",
            "recognised",
            "skipped",
            "held",
            "skipped",
        ]
        assert _results(together) == _results(alone)
        assert batch == one_by_one
        previews = [row for row in batch["evaluations"] if row[3] == "held"]
        # held_before's (written before), held_python's, held_ds's and held_unmapped's
        # (not accredited: its notes say so).
        assert len(previews) == 4
        assert {row[5] for row in previews} == {True, False}
        assert len(batch["held"]) == 4
        assert (
            sorted(e[0] for e in batch["events"])
            == ["statement.held"] * 3 + ["statement.recognised"] * 2
        )
        # python's event names its outcome, as one by one's does.
        assert any("'outcome_ids': 1" in e[4] for e in batch["events"])

        # The link: the held statements released as one batch, as one by one.
        async with db.session_scope() as session:
            learner = await identity.get_learner(session, world.learner_id)
            await identity.link_by_operator(
                session, "test", learner, agent=STRANGER, process_waiting=False
            )
        async with db.sessionmaker() as session:
            heard.clear()
            alone = await _release_one_by_one(session, STRANGER_IFI)
            one_by_one = await written(session, heard)
            await session.rollback()
        async with db.sessionmaker() as session:
            heard.clear()
            together = await rules.release_held(session, STRANGER_IFI, actor="test", now=NOW)
            batch = await written(session, heard)
            await session.commit()
        assert sorted(r.status for r in together) == [
            "not_recognised",
            "not_recognised",
            "recognised",
        ]
        assert _results(together) == _results(alone)
        assert batch == one_by_one
        assert [row[1] for row in batch["held"]] == ["account:https://shady.example.com|lina-crash"]
