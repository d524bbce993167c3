"""Acceptance: 李娜's statements 1-7 over HTTP give banked 10.0, available 10.0.

Everything goes through public interfaces: ``creditbank demo --json`` loads the
institutions, 李娜's linked accounts and the demo standards; a real ``creditbank
serve`` takes the statements on ``/xapi/statements``; on PostgreSQL a separate
``creditbank worker`` process recognises them, on SQLite the server's in-process
worker does; the figures and explanations are read on ``/api/v1``.
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
    def __init__(self, url: str, demo: dict[str, Any], worker: subprocess.Popen[bytes] | None):
        self.url = url
        self.demo = demo
        self.worker = worker


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    separate_worker = not settings.is_sqlite
    env = _env(settings, tmp_path, in_process=not separate_worker)
    demo_run = subprocess.run(
        [sys.executable, "-m", "creditbank.cli", "demo", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=120,
    )
    assert demo_run.returncode == 0, demo_run.stderr.decode()
    demo = json.loads(demo_run.stdout)
    port = free_port()
    server = _spawn(
        ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / "server.log"
    )
    worker = _spawn(["worker"], env, tmp_path / "worker.log") if separate_worker else None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError((tmp_path / "server.log").read_text())
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield Bank(url, demo, worker)
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


def test_li_na_statements_1_to_7_bank_ten_credits(bank: Bank, settings: Settings) -> None:
    demo = bank.demo
    accounts = {
        item["institution"]: {"objectType": "Agent", "account": item["account"]}
        for item in demo["users"]["learner"]["linked_accounts"]
    }
    shady_student = {
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
                shady_student,
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
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        for key, body in plan:
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

        lina = login(demo["users"]["learner"])
        operator = login(demo["users"]["operator"])
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
