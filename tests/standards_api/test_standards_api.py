"""Standards versions, outcomes, explanations, dry runs and dead letters over HTTP."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo
from creditbank.jobs.service import jobs as jobs_service
from tests.rules_processing.conftest import (
    ACTIVITY,
    COMPLETED,
    DEMO_STANDARDS,
    PASSED,
    statement,
)
from workers.runner import Worker

XAPI = {"X-Experience-API-Version": "1.0.3"}


async def _login(client: httpx.AsyncClient, user: dict[str, str]) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def demo(db: Database, settings: Settings) -> dict[str, Any]:
    async with db.session_scope() as session:
        return await load_demo(session, settings)


def _basic(demo: dict[str, Any], key: str) -> tuple[str, str]:
    item = demo["institutions"][key]
    return item["lrs_key"], item["lrs_secret"]


def _account(demo: dict[str, Any], key: str) -> dict[str, Any]:
    for item in demo["users"]["learner"]["linked_accounts"]:
        if item["institution"] == key:
            return {"objectType": "Agent", "account": item["account"]}
    raise KeyError(key)


class TestStandardsApi:
    async def test_versions_are_listed_read_and_immutable(
        self, client: httpx.AsyncClient, demo: dict[str, Any]
    ) -> None:
        operator = await _login(client, demo["users"]["operator"])
        listed = (await client.get("/api/v1/standards", headers=operator)).json()
        assert [(v["set_id"], v["version"]) for v in listed] == [("demo", "2024.1")]
        assert listed[0]["content_hash"] == demo["standards"]["hash"]
        detail = await client.get("/api/v1/standards/demo/2024.1", headers=operator)
        assert detail.status_code == 200
        content = detail.json()["content"]
        assert content["meta"]["version"] == "2024.1"
        in_force = (await client.get("/api/v1/standards/in-force", headers=operator)).json()
        assert in_force["version"] == "2024.1"

        # The same content again: the same version. Different content: refused.
        again = await client.post("/api/v1/standards", json=content, headers=operator)
        assert again.status_code == 201
        assert again.json()["id"] == listed[0]["id"]
        content["meta"]["title"]["en"] = "Changed after publication"
        changed = await client.post("/api/v1/standards", json=content, headers=operator)
        assert changed.status_code == 409
        assert changed.json()["error"] == "standards_version_immutable"

        learner = await _login(client, demo["users"]["learner"])
        refused = await client.post("/api/v1/standards", json=content, headers=learner)
        assert refused.status_code == 403

    async def test_a_published_row_cannot_be_updated_in_the_database(
        self, db: Database, demo: dict[str, Any]
    ) -> None:
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        with pytest.raises(DBAPIError, match="immutable"):
            async with db.session_scope() as session:
                await session.execute(text("UPDATE standards_versions SET title_en = 'x'"))

    async def test_validate_and_publish_cli(self, settings: Settings, db: Database) -> None:
        import asyncio
        import os
        import subprocess
        import sys

        env = {
            **os.environ,
            "CREDITBANK_DATABASE_URL": settings.database_url,
            "CREDITBANK_AUTO_MIGRATE": "false",
        }
        root = DEMO_STANDARDS.parents[1]

        def run(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "creditbank.cli", "standards", *args],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )

        ok = await asyncio.to_thread(run, "validate", str(DEMO_STANDARDS))
        assert ok.returncode == 0, ok.stderr
        assert "demo 2024.1" in ok.stdout
        published = await asyncio.to_thread(run, "publish", str(DEMO_STANDARDS))
        assert published.returncode == 0, published.stderr
        assert '"created": true' in published.stdout
        again = await asyncio.to_thread(run, "publish", str(DEMO_STANDARDS))
        assert '"created": false' in again.stdout
        bad = await asyncio.to_thread(run, "validate", str(root / "tests"))
        assert bad.returncode == 1
        assert "set.yaml" in bad.stderr


class TestOutcomesApi:
    async def test_outcomes_explanations_and_dry_run(
        self,
        client: httpx.AsyncClient,
        db: Database,
        settings: Settings,
        demo: dict[str, Any],
    ) -> None:
        body = statement(
            _account(demo, "fxvs"), PASSED, ACTIVITY["elec"], result={"score": {"scaled": 0.82}}
        )
        low = statement(
            _account(demo, "mooc1"),
            COMPLETED,
            ACTIVITY["ds"],
            result={"success": True, "score": {"scaled": 0.55}},
        )
        for key, item in (("fxvs", body), ("mooc1", low)):
            response = await client.post(
                "/xapi/statements", json=item, headers=XAPI, auth=_basic(demo, key)
            )
            assert response.status_code == 200, response.text
        lina = await _login(client, demo["users"]["learner"])
        pending = await client.get(f"/api/v1/statements/{body['id']}/explain", headers=lina)
        assert pending.status_code == 403  # not processed: nobody's yet but the operator's
        await Worker(db, settings, schedule=()).drain()

        outcomes = await client.get("/api/v1/learners/me/outcomes", headers=lina)
        assert outcomes.status_code == 200, outcomes.text
        (outcome,) = outcomes.json()
        assert outcome["unit_code"] == "CERT-ELEC-4"
        assert outcome["credits"] == "6.00"
        assert outcome["institution_key"] == "fxvs"
        assert outcome["statement_ids"] == [body["id"]]
        assert (outcome["rule_id"], outcome["rule_version"]) == ("R1", 1)
        assert outcome["standards_version"] == "2024.1"

        explain = await client.get(f"/api/v1/outcomes/{outcome['id']}/explain", headers=lina)
        assert explain.status_code == 200
        assert explain.json()["rule"] == {"id": "R1", "version": 1}
        entries = await client.get(
            f"/api/v1/ledger/learners/{outcome['learner_id']}/entries", headers=lina
        )
        assert entries.status_code == 200, entries.text
        (entry,) = entries.json()
        walk = await client.get(f"/api/v1/ledger/entries/{entry['id']}/explain", headers=lina)
        assert walk.status_code == 200, walk.text
        assert walk.json()["entry"]["statement_ids"] == [body["id"]]
        assert walk.json()["outcomes"][0]["rule"] == {"id": "R1", "version": 1}
        why_not = (await client.get(f"/api/v1/statements/{low['id']}/explain", headers=lina)).json()
        assert why_not["status"] == "not_recognised"
        assert "0.55" in str(why_not)

        # Another learner (the certifier has none) may not read 李娜's outcomes.
        certifier = await _login(client, demo["users"]["certifier"])
        other = await client.get(
            f"/api/v1/learners/{outcome['learner_id']}/outcomes", headers=certifier
        )
        assert other.status_code == 403
        assert (
            await client.get(f"/api/v1/outcomes/{outcome['id']}", headers=certifier)
        ).status_code == 403

        # A dry run by an institution credential: evaluated, nothing stored.
        trial = statement(
            _account(demo, "mooc1"),
            COMPLETED,
            ACTIVITY["ds"],
            result={"success": True, "score": {"scaled": 0.6}},
        )
        dry = await client.post(
            "/api/v1/rules/dry-run", json={"statement": trial}, auth=_basic(demo, "mooc1")
        )
        assert dry.status_code == 200, dry.text
        assert dry.json()["recognised"] is True
        assert dry.json()["stored"] is False
        assert (
            await client.get(f"/api/v1/statements/{trial['id']}/explain", headers=lina)
        ).status_code == 404


class TestJobsApi:
    async def test_dead_letters_are_listed_and_replayed(
        self, client: httpx.AsyncClient, db: Database, settings: Settings, demo: dict[str, Any]
    ) -> None:
        async with db.session_scope() as session:
            await jobs_service.enqueue(
                session, "lrs.statement_stored", {"statement_id": str(uuid.uuid4())}
            )
        await Worker(db, settings, schedule=()).drain()
        operator = await _login(client, demo["users"]["operator"])
        dead = await client.get("/api/v1/jobs/dead", headers=operator)
        assert dead.status_code == 200
        (job,) = dead.json()
        assert job["name"] == "lrs.statement_stored"
        assert "no stored statement" in job["last_error"]
        replayed = await client.post(f"/api/v1/jobs/{job['id']}/replay", headers=operator)
        assert replayed.status_code == 200
        assert replayed.json()["status"] == "pending"
        assert replayed.json()["attempts"] == 0
        again = await client.post(f"/api/v1/jobs/{job['id']}/replay", headers=operator)
        assert again.status_code == 409
        stats = (await client.get("/api/v1/jobs/stats", headers=operator)).json()
        assert stats["lrs.statement_stored"] == {"pending": 1}
        lina = await _login(client, demo["users"]["learner"])
        assert (await client.get("/api/v1/jobs/dead", headers=lina)).status_code == 403
