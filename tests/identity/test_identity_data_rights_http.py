"""A learner's export and erasure over HTTP, with data in outcomes, ledger and conversions.

The export carries every context's part; erasure keeps the ledger (append-only,
hash-chained) and her outcomes, deletes her inbox, clears what she wrote and
withdraws what is still open (docs/data-classification.md, "Erasure").
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo
from tests.conversions.helpers_conversions import add_outcome, demo_standards


async def _login(client: httpx.AsyncClient, user: dict[str, Any]) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_export_and_erasure_cover_outcomes_ledger_and_conversions(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
):
    demo = await load_demo(session, settings)
    users = demo["users"]
    lid = uuid.UUID(users["learner"]["learner_id"])
    standards = demo_standards()
    outcomes = {
        unit: await add_outcome(session, lid, unit, standards)
        for unit in ("CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1")
    }
    await session.commit()
    # Two statements from fxvs: one about her linked account FX2019001, one about another.
    fxvs = demo["institutions"]["fxvs"]
    statements = {}
    for name in ("FX2019001", "FX2019999"):
        statement_id = str(uuid.uuid4())
        response = await client.post(
            "/xapi/statements",
            json={
                "id": statement_id,
                "actor": {"account": {"homePage": fxvs["home_page"], "name": name}},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
                "object": {"id": "https://fxvs.example.edu.cn/xapi/activities/elec-4"},
            },
            headers={"X-Experience-API-Version": "1.0.3"},
            auth=(fxvs["lrs_key"], fxvs["lrs_secret"]),
        )
        assert response.status_code == 200, response.text
        statements[name] = statement_id
    lina = await _login(client, users["learner"])
    wang = await _login(client, users["certifier"])
    operator = await _login(client, users["operator"])

    applied = {}
    for rule in ("C1", "C2"):
        response = await client.post(
            f"/api/v1/conversions/learners/{lid}/applications",
            json={"rule_id": rule, "note": "我的证书 / my certificate"},
            headers=lina,
        )
        assert response.status_code == 201, response.text
        applied[rule] = response.json()["id"]
    approved = await client.post(
        f"/api/v1/conversions/applications/{applied['C1']}/decisions",
        json={"decision": "approve", "reason": "证书真实有效 / certificate verified"},
        headers=wang,
    )
    assert approved.status_code == 200, approved.text

    exported = await client.get(f"/api/v1/learners/{lid}/export", headers=lina)
    assert exported.status_code == 200, exported.text
    body = exported.json()
    assert {"outcomes", "ledger", "conversions", "lrs_documents", "lrs_statements"} <= set(body)
    assert [s["id"] for s in body["lrs_statements"]] == [statements["FX2019001"]]
    assert {o["id"] for o in body["outcomes"]["outcomes"]} == {str(o) for o in outcomes.values()}
    assert all("trace" in o for o in body["outcomes"]["outcomes"])
    entries = body["ledger"]["entries"]
    assert [e["kind"] for e in entries].count("deposit") == 4
    assert [e["rule_id"] for e in entries if e["kind"] == "conversion"] == ["C1"]
    assert all(e["hash"] and e["prev_hash"] for e in entries)
    assert {p["outcome_id"] for p in body["ledger"]["positions"]} == {
        str(o) for o in outcomes.values()
    }
    applications = {a["id"]: a for a in body["conversions"]["applications"]}
    assert set(applications) == set(applied.values())
    c1 = applications[applied["C1"]]
    assert (c1["status"], c1["note"], c1["credits"]) == (
        "approved",
        "我的证书 / my certificate",
        "4.00",
    )
    assert [r["decision"] for r in c1["reviews"]] == ["approve"]
    assert not {"reviewer_id", "reviewer_label"} & set(c1["reviews"][0])
    assert len(body["conversions"]["inbox"]) == 1

    # Erasure: the ledger stays whole and verifiable; what she wrote and her inbox go.
    erased = await client.post(f"/api/v1/learners/{lid}/erasure", headers=operator)
    assert erased.status_code == 200, erased.text
    after = (await client.get(f"/api/v1/learners/{lid}/export", headers=operator)).json()
    assert after["ledger"] == body["ledger"]
    assert after["outcomes"] == body["outcomes"]
    # Her statements stay in the LRS, but no link leads from them to her any more.
    assert after["lrs_statements"] == []
    verified = await client.get(f"/api/v1/ledger/learners/{lid}/verify", headers=operator)
    assert verified.json()["ok"] is True
    kept = {a["id"]: a for a in after["conversions"]["applications"]}
    assert (kept[applied["C1"]]["status"], kept[applied["C1"]]["note"]) == ("approved", None)
    assert (kept[applied["C2"]]["status"], kept[applied["C2"]]["note"]) == ("withdrawn", None)
    assert after["conversions"]["inbox"] == []
    assert after["learner"]["name"] is None
