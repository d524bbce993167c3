"""校际学分互认, end to end: 陈晓 of 湖北师范大学 takes two online courses at 黄冈师范学院
and one at 湖北第二师范学院; the credits appear in her account and convert into her
programme at 湖北师范大学 with 刘老师's approval (a real server and worker, both DBs).

Figures (standards/hubei-alliance): HGNU-EDU-110 3.0 + HGNU-PSY-120 2.0 + HUE-ICT-210 2.0
= 7.0 banked. Into 小学教育（本科）(cap 6.0 transferred credits): 教育学原理 exempted
(3.00), 教育心理学 exempted (2.00), and HUE's 2.0 counts 0.75 = 1.50, of which the cap
leaves 1.00 once the two exemptions are approved: 6.00 converted.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import (
    COMPLETED,
    PASSED,
    Bank,
    login,
    post_statement,
    run_bank,
    statement,
    wait_for,
)

pytestmark = pytest.mark.server


@pytest.fixture
def alliance(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    yield from run_bank(
        settings,
        tmp_path,
        demo_args=("demo", "--alliance", "--json"),
        extra_env={"CREDITBANK_RULES__STANDARDS_SET": "hubei-alliance"},
    )


def test_chen_xiao_converts_courses_from_two_other_universities(alliance: Bank) -> None:
    demo = alliance.demo
    accounts = {
        item["institution"]: {"objectType": "Agent", "account": item["account"]}
        for item in demo["users"]["learner"]["linked_accounts"]
    }
    learner_id = demo["users"]["learner"]["learner_id"]
    plan: list[tuple[str, dict[str, Any]]] = [
        (
            "hgnu",
            statement(
                accounts["hgnu"],
                COMPLETED,
                "https://hgnu.example.edu.cn/mooc/edu-110",
                {"success": True, "score": {"scaled": 0.88}},
            ),
        ),
        (
            "hgnu",
            statement(
                accounts["hgnu"],
                PASSED,
                "https://hgnu.example.edu.cn/mooc/psy-120",
                {"score": {"scaled": 0.81}},
            ),
        ),
        (
            "hue",
            statement(
                accounts["hue"],
                COMPLETED,
                "https://hue.example.edu.cn/online/ict-210",
                {"success": True, "score": {"scaled": 0.9}},
            ),
        ),
    ]
    with httpx.Client(base_url=alliance.url, timeout=30) as client:
        for key, body in plan:
            post_statement(client, demo, key, body)
        chen = login(client, demo["users"]["learner"])
        liu = login(client, demo["users"]["certifier"])

        def figures() -> dict[str, Any]:
            response = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=chen)
            assert response.status_code == 200, response.text
            result: dict[str, Any] = response.json()
            return result

        def deposits() -> list[dict[str, Any]] | None:
            response = client.get(f"/api/v1/ledger/learners/{learner_id}/entries", headers=chen)
            found = [e for e in response.json() if e["kind"] == "deposit"]
            return found if len(found) >= 3 else None

        # The three courses are credited to her account: 7.0 banked.
        credited = wait_for(deposits, "three deposits")
        assert sorted(e["unit_code"] for e in credited) == [
            "HGNU-EDU-110",
            "HGNU-PSY-120",
            "HUE-ICT-210",
        ]
        banked = figures()
        assert (D(banked["banked"]), D(banked["available"])) == (D("7.0"), D("7.0"))

        def options() -> dict[str, dict[str, Any]]:
            response = client.get(
                f"/api/v1/conversions/learners/{learner_id}/options", headers=chen
            )
            assert response.status_code == 200, response.text
            return {o["rule_id"]: o for o in response.json()["options"]}

        offered = options()
        assert set(offered) == {"AL-HG-HB-EDU", "AL-HG-HB-PSY", "AL-HUE-HB-ICT"}
        assert D(offered["AL-HG-HB-EDU"]["credits"]) == D("3.00")
        assert offered["AL-HG-HB-EDU"]["target_unit"] == "HBNU-EDU-101"
        assert D(offered["AL-HG-HB-PSY"]["credits"]) == D("2.00")
        assert D(offered["AL-HUE-HB-ICT"]["credits"]) == D("1.50")  # 2.0 x 0.75
        assert offered["AL-HUE-HB-ICT"]["target_kind"] == "programme_credits"

        def apply_and_approve(rule: str) -> dict[str, Any]:
            response = client.post(
                f"/api/v1/conversions/learners/{learner_id}/applications",
                json={"rule_id": rule},
                headers=chen,
            )
            assert response.status_code == 201, response.text
            decided = client.post(
                f"/api/v1/conversions/applications/{response.json()['id']}/decisions",
                json={"decision": "approve", "reason": "联盟互认课程，同意 / alliance course"},
                headers=liu,
            )
            assert decided.status_code == 200, decided.text
            assert decided.json()["status"] == "approved"
            result: dict[str, Any] = decided.json()
            return result

        edu = apply_and_approve("AL-HG-HB-EDU")
        psy = apply_and_approve("AL-HG-HB-PSY")
        # 5.0 transferred: the programme's cap of 6.0 leaves 1.00 of HUE's 1.50.
        assert D(options()["AL-HUE-HB-ICT"]["credits"]) == D("1.00")
        ict = apply_and_approve("AL-HUE-HB-ICT")
        assert D(ict["credits"]) == D("1.00")

        assert sum(D(a["credits"]) for a in (edu, psy, ict)) == D("6.00")
        converted = figures()
        # target_credits sums the exempted units (3.00 + 2.00); the 1.00 toward the
        # programme is in the conversion entry of AL-HUE-HB-ICT.
        assert D(converted["target_credits"]) == D("5.00")
        assert sorted(e["unit_code"] for e in converted["exemptions"]) == [
            "HBNU-EDU-101",
            "HBNU-PSY-102",
        ]
        assert D(converted["banked"]) == D("7.0")
        assert D(converted["available"]) == D("0.0")
        assert options() == {}
