"""No personal data in any log line, a request id in every request's log line (B5).

A full li-na run against real processes at log level INFO (what production runs):
the demo, statements 1-7 from the five institutions, sign-ins (one with a wrong
password), a learner opened with a name, national ID, phone and e-mail, her profile
read, a national-ID lookup, a consent code, her data export, a conversion dry run,
bad requests and a wrong LRS secret. Then every line the server and the worker wrote
is scanned for the demo learners' personal values and every secret handed out.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import LI_NA_NATIONAL_ID
from tests.acceptance.li_na import XAPI, Bank, li_na_plan, login, post_statement, run_bank, wait_for

pytestmark = pytest.mark.server

NEW_LEARNER = {
    "name": "张晓梅",
    "national_id": "11010519491231002X",
    "phone": "13912345678",
    "email": "zhang.xiaomei@example.cn",
    "username": "zxm2026",
    "password": "Xm-secret-2026-pass",
}


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    yield from run_bank(settings, tmp_path, extra_env={"CREDITBANK_LOG_LEVEL": "INFO"})


def _log_lines(tmp_path: Path) -> list[dict[str, Any]]:
    lines = []
    for name in ("server.log", "worker.log"):
        path = tmp_path / name
        if path.exists():
            for raw in path.read_text(encoding="utf-8").splitlines():
                if raw.strip():
                    lines.append({"file": name, "raw": raw, "entry": json.loads(raw)})
    return lines


def test_full_scenario_logs_no_personal_data(bank: Bank, tmp_path: Path) -> None:
    demo = bank.demo
    secrets: list[str] = []
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        plan = li_na_plan(demo)
        for key, body in plan:
            post_statement(client, demo, key, body)
        fxvs = demo["institutions"]["fxvs"]
        wrong = client.get("/xapi/statements", headers=XAPI, auth=(fxvs["lrs_key"], "wrong"))
        assert wrong.status_code == 401
        bad = client.post(
            "/xapi/statements",
            json={"actor": {"mbox": "li.na@example.cn"}},  # not a mailto: IRI
            headers=XAPI,
            auth=(fxvs["lrs_key"], fxvs["lrs_secret"]),
        )
        assert bad.status_code == 400

        users = demo["users"]
        failed = client.post(
            "/api/v1/auth/login", json={"username": "lina", "password": "not-her-password"}
        )
        assert failed.status_code == 401
        lina = login(client, users["learner"])
        operator = login(client, users["operator"])
        login(client, users["certifier"])
        learner_id = users["learner"]["learner_id"]

        created = client.post("/api/v1/learners", json=NEW_LEARNER, headers=operator)
        assert created.status_code == 201, created.text
        assert client.get("/api/v1/learners/me", headers=lina).status_code == 200
        lookup = client.post(
            "/api/v1/learners/lookup", json={"national_id": LI_NA_NATIONAL_ID}, headers=operator
        )
        assert lookup.status_code == 200, lookup.text
        code = client.post(f"/api/v1/learners/{learner_id}/consent-codes", json={}, headers=lina)
        if code.status_code in (200, 201):
            secrets.append(code.json().get("code", ""))
        assert client.get(f"/api/v1/learners/{learner_id}/export", headers=lina).status_code == 200
        first = plan[0][1]["id"]

        def processed() -> object:
            got = client.get(f"/api/v1/statements/{first}/explain", headers=operator).json()
            return got if got.get("status") not in (None, "pending") else None

        wait_for(processed, "recognition of statement 1")
        client.get(f"/api/v1/conversions/learners/{learner_id}/options", headers=lina)
        secrets += [lina["Authorization"].removeprefix("Bearer ")]
        secrets += [operator["Authorization"].removeprefix("Bearer ")]

    personal = [
        "李娜",
        LI_NA_NATIONAL_ID,
        "13800138000",
        "li.na@example.cn",
        "王老师",
        NEW_LEARNER["name"],
        NEW_LEARNER["national_id"],
        NEW_LEARNER["phone"],
        NEW_LEARNER["email"],
        NEW_LEARNER["password"],
        "not-her-password",
    ]
    secrets += [item["lrs_secret"] for item in demo["institutions"].values()]
    secrets += [demo["conformance"]["lrs_secret"]]
    secrets += [users[role]["password"] for role in ("learner", "certifier", "operator")]
    lines = _log_lines(tmp_path)
    assert len(lines) > 20, "the run should have logged its requests"
    for line in lines:
        for value in personal + [s for s in secrets if s]:
            assert value not in line["raw"], f"{line['file']} logs a personal value: {line['raw']}"
            # JSON escapes non-ASCII; check the escaped spelling as well.
            escaped = json.dumps(value)[1:-1]
            assert escaped not in line["raw"], f"{line['file']} logs {value!r}: {line['raw']}"
    # Every line written while answering a request carries the request id.
    request_lines = [line for line in lines if line["entry"].get("logger") == "creditbank.access"]
    assert len(request_lines) >= len(plan) + 10
    for line in lines:
        entry = line["entry"]
        if "path" in entry or "method" in entry or entry.get("logger", "").startswith("api"):
            assert entry.get("request_id"), f"no request id: {line['raw']}"
