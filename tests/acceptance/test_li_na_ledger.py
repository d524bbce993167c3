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
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
XAPI = {"X-Experience-API-Version": "1.0.3"}
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"
D = Decimal


def _env(settings: Settings, tmp_path: Path, *, in_process: bool) -> dict[str, str]:
    return {
        **os.environ,
        "CREDITBANK_ENV": "test",
        "CREDITBANK_DATABASE_URL": settings.database_url,
        "CREDITBANK_KEY_DIR": str(tmp_path / "keys"),
        "CREDITBANK_AUTO_MIGRATE": "false",
        "CREDITBANK_LOG_LEVEL": "WARNING",
        "CREDITBANK_WORKER__IN_PROCESS": "true" if in_process else "false",
        "CREDITBANK_WORKER__POLL_INTERVAL_SECONDS": "0.1",
    }


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditbank.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "creditbank.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class Bank:
    def __init__(self, url: str, demo: dict[str, Any], env: dict[str, str]) -> None:
        self.url = url
        self.demo = demo
        self.env = env


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    separate_worker = not settings.is_sqlite
    env = _env(settings, tmp_path, in_process=not separate_worker)
    demo_run = _cli(["demo", "--json"], env)
    assert demo_run.returncode == 0, demo_run.stderr
    demo = json.loads(demo_run.stdout)
    port = free_port()
    server = _spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "s.log")
    worker = _spawn(["worker"], env, tmp_path / "w.log") if separate_worker else None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError((tmp_path / "s.log").read_text())
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield Bank(url, demo, env)
    finally:
        if worker is not None:
            _stop(worker)
        _stop(server)


def _statement(actor: dict[str, Any], verb: str, activity: str, result: dict[str, Any]) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": verb, "display": {"zh-CN": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
        "result": result,
    }


def _wait_for(check: Any, what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last is not None:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_li_na_through_conversions_and_the_void(bank: Bank, tmp_path: Path) -> None:
    demo = bank.demo
    accounts = {
        item["institution"]: {"objectType": "Agent", "account": item["account"]}
        for item in demo["users"]["learner"]["linked_accounts"]
    }
    shady = {
        "objectType": "Agent",
        "account": {"homePage": "https://shady.example.com", "name": "LN-0001"},
    }
    plan = [
        (
            "fxvs",
            _statement(
                accounts["fxvs"],
                PASSED,
                "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment",
                {"score": {"scaled": 0.82}},
            ),
        ),
        (
            "mooc1",
            _statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/python",
                {"success": True, "score": {"scaled": 0.91}},
            ),
        ),
        (
            "mooc1",
            _statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/data-structures",
                {"success": True, "score": {"scaled": 0.55}},
            ),
        ),
        (
            "fxcc",
            _statement(
                accounts["fxcc"],
                ATTENDED,
                "https://fxcc.example.edu.cn/courses/first-aid-16h",
                {"duration": "PT16H"},
            ),
        ),
        (
            "syu3a",
            _statement(
                accounts["syu3a"],
                COMPLETED,
                "https://syu3a.example.edu.cn/courses/calligraphy",
                {"duration": "PT20H"},
            ),
        ),
        (
            "shady",
            _statement(
                shady,
                COMPLETED,
                "https://shady.example.com/courses/data-structures",
                {"success": True, "completion": True},
            ),
        ),
        (
            "mooc1",
            _statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/python",
                {"success": True, "score": {"scaled": 0.95}},
            ),
        ),
    ]
    learner_id = demo["users"]["learner"]["learner_id"]
    with httpx.Client(base_url=bank.url, timeout=30) as client:

        def post_statement(key: str, body: dict[str, Any]) -> None:
            item = demo["institutions"][key]
            response = client.post(
                "/xapi/statements",
                json=body,
                headers=XAPI,
                auth=(item["lrs_key"], item["lrs_secret"]),
            )
            assert response.status_code == 200, response.text

        def login(user: dict[str, str]) -> dict[str, str]:
            response = client.post(
                "/api/v1/auth/login",
                json={"username": user["username"], "password": user["password"]},
            )
            assert response.status_code == 200, response.text
            return {"Authorization": f"Bearer {response.json()['access_token']}"}

        for key, body in plan:
            post_statement(key, body)
        lina = login(demo["users"]["learner"])
        wang = login(demo["users"]["certifier"])
        operator = login(demo["users"]["operator"])

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
        _wait_for(lambda: True if len(entries()) >= 4 else None, "four deposits")
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
            "fxcc",
            {
                "id": str(uuid.uuid4()),
                "actor": accounts["fxcc"],
                "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
                "object": {"objectType": "StatementRef", "id": statement_4},
            },
        )
        _wait_for(
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

    verify = _cli(["ledger", "verify", "--json"], bank.env)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["ok"] is True
    audit = _cli(["ledger", "audit", str(checkpoint_file), "--json"], bank.env)
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert (
        json.loads(audit.stdout)["entries_now"]
        == json.loads(audit.stdout)["entries_at_checkpoint"] + 1
    )
