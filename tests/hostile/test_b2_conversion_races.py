"""B2: two conversion applications of one learner approved at once by two certifiers,
over real HTTP, on both databases (issue 13).

Three ways the two applications can collide, each raced several times with a fresh
learner per round (both decisions are sent at once, on separate connections):

- they draw on the *same* outcome (C1 and C3 both need CERT-ELEC-4);
- they use different outcomes but exempt the *same* target unit (C1 and C4 both
  exempt HBOU-EE-101);
- they use different outcomes and different units, but together exceed the target
  programme's ``max_conversion_credits`` (C1 4.00 + C2 2.00 > 5.00).

Each time exactly one approval commits, the other is a 409 with a code and a
bilingual message (never a 500, never two approvals), the ledger holds one
conversion entry, no position goes below zero, banked = available + converted,
and the chain verifies.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.conversions.repository import ConversionRepository
from creditbank.conversions.service import conversions
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.identity.signin import RoleSpec, sign_in
from creditbank.ledger.service import ledger
from creditbank.standards.schemas import StandardsSet
from tests.conversions.helpers_conversions import add_outcome, learner, publish, variant
from tests.hostile.conftest import Demo, bearer

D = Decimal
PASSWORD = "Secret-pass-2024"
ROUNDS = 3


def _with_rules(*extra: tuple[str, str, str], cap: str | None = None) -> Callable[..., None]:
    """A later version of the demo set with extra C1-like rules (id, source unit,
    target unit) and, optionally, a conversion cap on the programme."""

    def change(doc: dict[str, Any]) -> None:
        doc["meta"]["version"] = "2025.1"
        doc["meta"]["effective_from"] = "2025-01-01"
        c1 = next(r for r in doc["conversion"]["rules"] if r["id"] == "C1")
        for rule_id, source, target in extra:
            doc["conversion"]["rules"].append(
                {
                    **c1,
                    "id": rule_id,
                    "sources": {"all_of": [source]},
                    "target": {"kind": "exemption", "unit": target},
                }
            )
        if cap is not None:
            doc["conversion"]["programmes"][0]["max_conversion_credits"] = cap

    return change


SHARED_OUTCOME = _with_rules(("C3", "CERT-ELEC-4", "HBOU-CS-101"))
SAME_TARGET = _with_rules(("C4", "MOOC-PY-1", "HBOU-EE-101"))
OVER_THE_CAP = _with_rules(cap="5.0")

CASES = {
    # case: (standards change, the two rules, what the loser's 409 may say)
    "shared_outcome": (SHARED_OUTCOME, ("C1", "C3"), {"outcome_already_converted", "not_eligible"}),
    "same_target_unit": (SAME_TARGET, ("C1", "C4"), {"not_eligible"}),
    "over_programme_cap": (OVER_THE_CAP, ("C1", "C2"), {"not_eligible"}),
}


async def _certifiers(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, demo: Demo
) -> list[dict[str, str]]:
    """The demo's 王老师 and a second hbou certifier, signed in."""
    hbou = await identity.get_institution(session, "hbou")
    await sign_in.create_user(
        session,
        "test",
        settings=settings,
        username="zhaolaoshi",
        password=PASSWORD,
        roles=[RoleSpec("certifier", institution=hbou)],
    )
    await session.commit()
    return [
        await bearer(client, *demo.user("certifier")),
        await bearer(client, "zhaolaoshi", PASSWORD),
    ]


async def _applied(
    session: AsyncSession, settings: Settings, standards: StandardsSet, rules: tuple[str, str]
) -> tuple[uuid.UUID, list[str]]:
    """A fresh learner with li-na's four outcomes and an application per rule."""
    learner_id = uuid.uuid4()
    for unit in ("CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1"):
        await add_outcome(session, learner_id, unit, standards)
    me = learner(learner_id)
    ids = []
    for rule_id in rules:
        application = await conversions.apply(
            session, me, settings, learner_id=learner_id, rule_id=rule_id
        )
        ids.append(str(application.id))
    await session.commit()
    return learner_id, ids


@pytest.mark.parametrize("case", sorted(CASES))
async def test_two_applications_approved_at_once_one_wins(
    case: str,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    db: Database,
    demo: Demo,
) -> None:
    change, rules, loser_codes = CASES[case]
    standards = await publish(session, variant(change))
    await session.commit()
    certifiers = await _certifiers(client, session, settings, demo)
    for _ in range(ROUNDS):
        learner_id, ids = await _applied(session, settings, standards, rules)
        responses = await asyncio.gather(
            *(
                client.post(
                    f"/api/v1/conversions/applications/{application_id}/decisions",
                    json={"decision": "approve", "reason": "核验无误 / verified"},
                    headers=headers,
                )
                for application_id, headers in zip(ids, certifiers, strict=True)
            )
        )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [200, 409], [(r.status_code, r.text) for r in responses]
        winner = next(r for r in responses if r.status_code == 200)
        loser = next(r for r in responses if r.status_code == 409)
        assert winner.json()["status"] == "approved"
        body = loser.json()
        assert body["error"] in loser_codes, body
        detail = body["detail"]
        assert isinstance(detail, str)
        assert any("\u4e00" <= c <= "\u9fff" for c in detail), detail  # zh
        assert any(c.isascii() and c.isalpha() for c in detail), detail  # en
        async with db.read_scope() as reader:
            applications = await ConversionRepository.from_session(reader).of_learner(learner_id)
            statuses_now = {str(a.id): a.status for a in applications}
            assert sorted(statuses_now.values()) == ["approved", "pending"], statuses_now
            assert statuses_now[winner.json()["id"]] == "approved"
            entries = await ledger.entries(reader, learner_id, kind="conversion")
            assert len(entries) == 1
            assert str(entries[0].conversion_id) == winner.json()["id"]
            figures = await ledger.balances(reader, learner_id)
            assert figures.banked == D("10.00")
            assert figures.available + figures.converted == figures.banked
            assert figures.available >= 0
            assert all(p.available >= 0 for p in await ledger.positions(reader, learner_id))
            assert (await ledger.verify(reader, learner_id=learner_id)).ok
