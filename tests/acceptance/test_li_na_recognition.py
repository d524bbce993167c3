"""Acceptance: 李娜's statements 1-7 over HTTP give banked 10.0, available 10.0.

Everything goes through public interfaces: ``creditbank demo --json`` loads the
institutions, 李娜's linked accounts and the demo standards; a real ``creditbank
serve`` takes the statements on ``/xapi/statements``; on PostgreSQL a separate
``creditbank worker`` process recognises them, on SQLite the server's in-process
worker does; the figures and explanations are read on ``/api/v1``.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

import httpx

from creditbank.config import Settings
from tests.acceptance.li_na import Bank, li_na_plan, login, post_statement


def test_li_na_statements_1_to_7_bank_ten_credits(bank: Bank, settings: Settings) -> None:
    demo = bank.demo
    plan = li_na_plan(demo)
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        for key, body in plan:
            post_statement(client, demo, key, body)

        lina = login(client, demo["users"]["learner"])
        operator = login(client, demo["users"]["operator"])
        learner_id = demo["users"]["learner"]["learner_id"]
        ids = [body["id"] for _, body in plan]

        # Within seconds every statement is processed (the last one is explained).
        deadline = time.monotonic() + 60
        explained: dict[str, Any] = {}
        while time.monotonic() < deadline:
            explained = {
                sid: client.get(f"/api/v1/statements/{sid}/explain", headers=operator).json()
                for sid in ids
            }
            if all(e.get("status") not in (None, "pending") for e in explained.values()):
                break
            time.sleep(0.2)
        statuses = [explained[sid]["status"] for sid in ids]
        assert statuses == [
            "recognised",
            "recognised",
            "not_recognised",
            "recognised",
            "recognised",
            "held",  # the shady account is nobody's, and would not count anyway:
            "recognised",
        ], explained
        assert "not accredited" in explained[ids[5]]["reason"]["en"]
        assert "0.55 < 0.6" in json.dumps(explained[ids[2]], ensure_ascii=False)
        assert explained[ids[6]]["evaluations"][-1]["credited"] == "0.00"
        assert "already credited" in json.dumps(explained[ids[6]])

        balances = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=lina)
        assert balances.status_code == 200, balances.text
        figures = balances.json()
        assert Decimal(str(figures["banked"])) == Decimal("10.0")
        assert Decimal(str(figures["available"])) == Decimal("10.0")

        outcomes = client.get("/api/v1/learners/me/outcomes", headers=lina).json()
        assert sorted((o["unit_code"], o["credits"], o["institution_key"]) for o in outcomes) == [
            ("CERT-ELEC-4", "6.00", "fxvs"),
            ("COMM-FA-16", "1.00", "fxcc"),
            ("MOOC-PY-1", "2.00", "mooc1"),
            ("SEN-CAL-1", "1.00", "syu3a"),
        ]
        by_unit = {o["unit_code"]: o for o in outcomes}
        assert by_unit["CERT-ELEC-4"]["statement_ids"] == [ids[0]]
        assert by_unit["COMM-FA-16"]["rule_id"] == "R3"
        why = client.get(f"/api/v1/outcomes/{by_unit['MOOC-PY-1']['id']}/explain", headers=lina)
        assert why.json()["rule"] == {"id": "R2", "version": 1}
        assert why.json()["statement_ids"] == [ids[1]]

    if bank.worker is not None:
        # The separate worker did the work, and stops cleanly on SIGTERM.
        bank.worker.terminate()
        assert bank.worker.wait(timeout=15) == 0
