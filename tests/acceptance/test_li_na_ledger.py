"""Acceptance (issue #6): 李娜's record through conversions and the void, over HTTP.

Public interfaces only: ``creditbank demo --json`` (institutions, her linked accounts,
certifier 王老师, the operator, the demo standards), a real ``creditbank serve`` taking
statements on ``/xapi/statements`` (on PostgreSQL a separate ``creditbank worker``
process recognises them; on SQLite the server's in-process worker), ``/api/v1`` for
conversions and figures, and ``creditbank ledger verify`` / ``checkpoint`` / ``audit``.

Figures: after statements 1-7 banked 10.0 / available 10.0; the dry run offers C1
and C2; after both are approved banked 10.0 / available 2.0 with HBOU-EE-101 and
HBOU-CS-101 exempted (6.0 target credits); a second application using CERT-ELEC-4 is
refused; after fxcc voids statement 4: banked 9.0 / available 1.0; the ledger verifies
and later history extends the checkpoint taken before the void.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx

from tests.acceptance.li_na import (
    VOIDED,
    Bank,
    cli,
    li_na_plan,
    linked_accounts,
    login,
    post_statement,
    wait_for,
)

D = Decimal


def test_li_na_through_conversions_and_the_void(bank: Bank, tmp_path: Path) -> None:
    demo = bank.demo
    accounts = linked_accounts(demo)
    plan = li_na_plan(demo)
    learner_id = demo["users"]["learner"]["learner_id"]
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        for key, body in plan:
            post_statement(client, demo, key, body)
        lina = login(client, demo["users"]["learner"])
        wang = login(client, demo["users"]["certifier"])
        operator = login(client, demo["users"]["operator"])

        def figures() -> dict[str, Any]:
            response = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=lina)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        def entries() -> list[dict[str, Any]]:
            response = client.get(f"/api/v1/ledger/learners/{learner_id}/entries", headers=lina)
            result: list[dict[str, Any]] = response.json()
            return result

        # After 1-7: four deposits, banked 10.0, available 10.0.
        wait_for(lambda: True if len(entries()) >= 4 else None, "four deposits")
        time.sleep(1.0)  # let statement 7 (no second credit) be processed too
        after_7 = figures()
        assert (D(after_7["banked"]), D(after_7["available"])) == (D("10.0"), D("10.0"))
        assert [e["kind"] for e in entries()] == ["deposit"] * 4

        # The dry run offers C1 and C2, with the outcomes they would use.
        dry = client.get(f"/api/v1/conversions/learners/{learner_id}/options", headers=lina)
        assert dry.status_code == 200, dry.text
        options = {o["rule_id"]: o for o in dry.json()["options"]}
        assert set(options) == {"C1", "C2"}
        assert options["C1"]["source_units"] == ["CERT-ELEC-4"]
        assert options["C2"]["source_units"] == ["MOOC-PY-1"]

        # She applies for both; 王老师 approves C1, and C2 is approved too.
        applications = {}
        for rule in ("C1", "C2"):
            response = client.post(
                f"/api/v1/conversions/learners/{learner_id}/applications",
                json={"rule_id": rule},
                headers=lina,
            )
            assert response.status_code == 201, response.text
            applications[rule] = response.json()["id"]
        for rule in ("C1", "C2"):
            response = client.post(
                f"/api/v1/conversions/applications/{applications[rule]}/decisions",
                json={"decision": "approve", "reason": "材料齐全，同意免修 / evidence complete"},
                headers=wang,
            )
            assert response.status_code == 200, response.text
            assert response.json()["status"] == "approved"

        converted = figures()
        assert (D(converted["banked"]), D(converted["available"])) == (D("10.0"), D("2.0"))
        assert sorted(e["unit_code"] for e in converted["exemptions"]) == [
            "HBOU-CS-101",
            "HBOU-EE-101",
        ]
        assert D(converted["target_credits"]) == D("6.0")
        conversion_entries = [e for e in entries() if e["kind"] == "conversion"]
        assert [e["rule_id"] for e in conversion_entries] == ["C1", "C2"]

        # A second application using CERT-ELEC-4 is refused.
        again = client.post(
            f"/api/v1/conversions/learners/{learner_id}/applications",
            json={"rule_id": "C1"},
            headers=lina,
        )
        assert again.status_code == 409, again.text

        # Her inbox has both decisions.
        inbox = client.get(f"/api/v1/inbox/learners/{learner_id}/messages", headers=lina).json()
        assert sorted(m["kind"] for m in inbox) == ["conversion.approved"] * 2

        # A signed checkpoint before the void.
        checkpoint = client.post("/api/v1/ledger/checkpoints", headers=operator)
        assert checkpoint.status_code == 201, checkpoint.text
        document = client.get(
            f"/api/v1/ledger/checkpoints/{checkpoint.json()['id']}/document", headers=operator
        ).json()
        checkpoint_file = tmp_path / "checkpoint.json"
        checkpoint_file.write_text(json.dumps(document), encoding="utf-8")

        # fxcc voids statement 4: COMM-FA-16 is revoked and the ledger shows the reversal.
        statement_4 = plan[3][1]["id"]
        post_statement(
            client,
            demo,
            "fxcc",
            {
                "id": str(uuid.uuid4()),
                "actor": accounts["fxcc"],
                "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
                "object": {"objectType": "StatementRef", "id": statement_4},
            },
        )
        wait_for(
            lambda: True if any(e["kind"] == "reversal" for e in entries()) else None, "reversal"
        )
        after_void = figures()
        assert (D(after_void["banked"]), D(after_void["available"])) == (D("9.0"), D("1.0"))
        reversal = next(e for e in entries() if e["kind"] == "reversal")
        assert reversal["unit_code"] == "COMM-FA-16"
        assert reversal["statement_ids"] == [statement_4]

        # Every entry explains itself: rule and version, outcome, statement ids, actor.
        for entry in entries():
            assert entry["rule_id"], entry
            assert entry["rule_version"], entry
            assert entry["standards_version"], entry
            assert entry["statement_ids"], entry
            assert entry["outcome_id"], entry
            assert entry["actor"], entry

    verify = cli(["ledger", "verify", "--json"], bank.env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["ok"] is True
    audit = cli(["ledger", "audit", str(checkpoint_file), "--json"], bank.env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (
        json.loads(audit.stdout)["entries_now"]
        == json.loads(audit.stdout)["entries_at_checkpoint"] + 1
    )
