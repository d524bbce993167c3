"""One statement processed alone (``process_statement``, the worker's one-by-one
fallback): its result and every row it writes, pinned case by case.

Each case runs in a transaction of its own and is read back: the rows it added
(evaluation log, outcomes, held statements, ledger entries) and the events it
emitted, generated ids left out.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.models import Institution
from creditbank.kit import events
from creditbank.lrs.models import Statement
from creditbank.rules.service import Processed, StatementMissing, rules
from creditbank.standards.service import NoStandardsInForce
from tests.rules_processing.conftest import (
    ACTIVITY,
    ATTENDED,
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

Alter = Callable[[AsyncSession], Awaitable[Any]]


async def _alone(
    db: Database,
    heard: list[events.Event],
    statement_id: str | uuid.UUID,
    *,
    alter: Alter | None = None,
    standards_set: str | None = None,
    keep: bool = True,
) -> tuple[Processed, dict[str, Any]]:
    """Process one statement in a transaction of its own: its result, and what it added."""
    async with db.sessionmaker() as session:
        if alter is not None:
            await alter(session)
        before = await written(session, [])
        heard.clear()
        result = await rules.process_statement(
            session,
            uuid.UUID(str(statement_id)),
            actor="test",
            standards_set=standards_set,
            now=NOW,
        )
        after = await written(session, heard)
        await (session.commit() if keep else session.rollback())
    added = {
        key: sorted((Counter(after[key]) - Counter(before[key])).elements())
        for key in after
        if key != "events"
    }
    added["events"] = [(e[0], e[1]) for e in after["events"]]
    return result, added


def _evaluations(added: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The pinned columns of the evaluation-log rows added: kind, learner, institution,
    recognised, unit, credited, the reasons, whether it names standards and an outcome."""
    return [
        (row[3], row[1], row[2], row[5], row[6], str(row[7]), row[8], row[9], bool(row[4]), row[10])
        for row in added["evaluations"]
    ]


def _assert_refused(
    result: Processed,
    added: dict[str, Any],
    reason: str,
    learner: str,
    institution_key: str | None,
    zh: str,
    en: str,
) -> None:
    """Not recognised before the engine: one log row, no standards, nothing else."""
    assert result.status == "not_recognised"
    assert result.reason == reason
    assert result.evaluation_id is not None
    assert result.outcome_ids == ()
    assert _evaluations(added) == [
        ("statement", learner, institution_key, False, None, "0.00", zh, en, False, False)
    ]
    assert added["outcomes"] == added["entries"] == added["held"] == added["events"] == []


def _nothing(added: dict[str, Any]) -> bool:
    return not any(added.values())


class TestOneStatement:
    async def test_every_case_gives_and_writes_what_it_always_has(
        self, db: Database, settings: Settings, world: World, heard: list[events.Event]
    ) -> None:
        learner = str(world.learner_id)
        elec = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.82}}
        )
        failed = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.3}}
        )
        held = statement(STRANGER, PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.75}})
        held_no_standards = statement(
            STRANGER, PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.9}}
        )
        unregistered = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.9}}
        )
        await store(
            db, settings, world, "fxvs", elec, failed, held, held_no_standards, unregistered
        )
        first_aid = statement(
            world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
        )
        group = {
            "objectType": "Group",
            "member": [{"objectType": "Agent", "mbox": "mailto:a.member@example.cn"}],
        }
        identified_group = {
            "objectType": "Group",
            "mbox": "mailto:a.class@example.cn",
            "member": [{"objectType": "Agent", "mbox": "mailto:a.member@example.cn"}],
        }
        of_a_group = statement(group, ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"})
        of_an_identified_group = statement(
            identified_group, ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT16H"}
        )
        other_type = statement(
            world.actor("fxcc"), ATTENDED, ACTIVITY["first_aid"], result={"duration": "PT8H"}
        )
        voided_by = voiding(FXCC_REGISTRAR, first_aid["id"])
        await store(
            db, settings, world, "fxcc", first_aid, of_a_group, of_an_identified_group, other_type
        )
        await store(db, settings, world, "fxcc", voided_by)

        result, added = await _alone(db, heard, elec["id"])
        assert result.status == "recognised"
        assert result.evaluation_id is not None
        assert len(result.outcome_ids) == 1
        rows = _evaluations(added)
        assert [(r[0], r[1], r[2], r[3], r[4], r[8], r[9]) for r in rows] == [
            ("statement", learner, "fxvs", True, rows[0][4], True, True)
        ]
        assert len(added["outcomes"]) == 1
        assert [(e[0], e[2]) for e in added["entries"]] == [(learner, "deposit")]
        assert added["held"] == []
        assert added["events"] == [
            (events.STATEMENT_RECOGNISED, f"{events.STATEMENT_RECOGNISED}:{elec['id']}")
        ]

        result, added = await _alone(db, heard, elec["id"])
        assert result == Processed("skipped", reason="already evaluated")
        assert _nothing(added)

        result, added = await _alone(db, heard, failed["id"])
        assert result.status == "not_recognised"
        assert result.evaluation_id is not None
        assert result.outcome_ids == ()
        rows = _evaluations(added)
        assert [(r[0], r[1], r[2], r[3], r[5], r[8], r[9]) for r in rows] == [
            ("statement", learner, "fxvs", False, "0.00", True, False)
        ]
        assert added["outcomes"] == added["entries"] == added["held"] == added["events"] == []

        result, added = await _alone(db, heard, held["id"])
        assert result == Processed(
            "held", reason=f"actor {STRANGER_IFI} is linked to no learner yet"
        )
        assert added["held"] == [(held["id"], STRANGER_IFI, NOW)]
        rows = _evaluations(added)
        # The preview: what it would give an empty record, credited to nobody.
        assert [(r[0], r[1], r[2], r[3], r[5], r[8], r[9]) for r in rows] == [
            ("held", "None", "fxvs", True, "0.00", True, False)
        ]
        assert added["outcomes"] == added["entries"] == []
        assert added["events"] == [(events.STATEMENT_HELD, f"{events.STATEMENT_HELD}:{held['id']}")]

        result, added = await _alone(db, heard, held["id"])
        assert result == Processed(
            "held", reason=f"actor {STRANGER_IFI} is linked to no learner yet"
        )
        assert _nothing(added)

        # Held with no standards in force: held, without a preview.
        result, added = await _alone(db, heard, held_no_standards["id"], standards_set="nowhere")
        assert result.status == "held"
        assert added["held"] == [(held_no_standards["id"], STRANGER_IFI, NOW)]
        assert added["evaluations"] == []
        assert added["events"] == [
            (events.STATEMENT_HELD, f"{events.STATEMENT_HELD}:{held_no_standards['id']}")
        ]

        # Evaluated already: skipped before the standards are looked for.
        result, added = await _alone(db, heard, failed["id"], standards_set="nowhere")
        assert result == Processed("skipped", reason="already evaluated")
        assert _nothing(added)
        # A linked learner's statement with no standards in force: refused.
        fresh = statement(
            world.actor("fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.5}}
        )
        await store(db, settings, world, "fxvs", fresh)
        with pytest.raises(NoStandardsInForce):
            await _alone(db, heard, fresh["id"], standards_set="nowhere", keep=False)

        result, added = await _alone(db, heard, voided_by["id"])
        assert result == Processed("skipped", reason="voiding statements recognise nothing")
        assert _nothing(added)

        result, added = await _alone(db, heard, first_aid["id"])
        _assert_refused(
            result,
            added,
            "voided",
            learner,
            None,
            "不认定：该陈述已被撤销（voided）",
            "not recognised: the statement has been voided",
        )

        for body in (of_a_group, of_an_identified_group):
            result, added = await _alone(db, heard, body["id"])
            _assert_refused(
                result,
                added,
                "actor without identifier",
                "None",
                None,
                "不认定：陈述的执行者不是可识别的个人",
                "not recognised: the actor is not an identified person",
            )
            result, added = await _alone(db, heard, body["id"])
            assert result == Processed("skipped", reason="already evaluated")
            assert _nothing(added)

        async def unregister(session: AsyncSession) -> None:
            await session.execute(
                update(Statement)
                .where(Statement.id == uuid.UUID(unregistered["id"]))
                .values(institution_id=None)
            )

        result, added = await _alone(db, heard, unregistered["id"], alter=unregister, keep=False)
        _assert_refused(
            result,
            added,
            "no institution",
            learner,
            None,
            "不认定：陈述不是由已登记的机构发送的",
            "not recognised: the statement was not sent by a registered institution",
        )

        async def retype(session: AsyncSession) -> None:
            await session.execute(
                update(Institution).where(Institution.key == "fxcc").values(type="employer")
            )

        result, added = await _alone(db, heard, other_type["id"], alter=retype, keep=False)
        _assert_refused(
            result,
            added,
            "institution type",
            learner,
            "fxcc",
            "不认定：机构类型 employer 没有认定规则",
            "not recognised: no recognition rules for institution type employer",
        )

        with pytest.raises(StatementMissing):
            await _alone(db, heard, uuid.uuid4(), keep=False)
