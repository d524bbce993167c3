"""``/metrics`` over HTTP on both databases: the Prometheus text format, counted by route
template, the pipeline's figures from the database, and who may read it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from api.app import create_app
from creditbank.config import Settings
from creditbank.counters.service import counters as counters_service
from creditbank.db import Database
from creditbank.demo import load_demo, story_statements
from tests.portal.helpers_portal import load_story
from workers.runner import Worker

TOKEN = "scrape-me-" + "x" * 24


@pytest.fixture
async def scraping(settings: Settings, db: Database) -> AsyncIterator[httpx.AsyncClient]:
    configured = Settings.model_validate({**settings.model_dump(), "metrics": {"token": TOKEN}})
    app = create_app(configured)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


async def test_the_scraper_reads_the_pipeline_and_the_requests(scraping, db, settings):
    await load_story(db, settings)
    assert (await scraping.get("/healthz")).status_code == 200
    someone = "/api/v1/learners/00000000-0000-4000-8000-000000000001"
    assert (await scraping.get(someone)).status_code == 401
    response = await scraping.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    health = (("method", "GET"), ("route", "/healthz"), ("status", "200"))
    assert samples[("creditbank_http_requests_total", health)] == 1
    # a route template, never the raw path with its ids
    learner = (("method", "GET"), ("route", "/api/v1/learners/{learner_id}"), ("status", "401"))
    assert samples[("creditbank_http_requests_total", learner)] == 1
    assert not any("0000-4000" in dict(labels).get("route", "") for _, labels in samples)
    timed = (("method", "GET"), ("route", "/healthz"))
    assert samples[("creditbank_http_request_duration_seconds_count", timed)] == 1
    # the story: statements stored and processed through the job table
    assert samples[("creditbank_statements_stored", ())] >= 7
    done = (("name", "lrs.statement_stored"), ("status", "done"))
    assert samples[("creditbank_jobs", done)] >= 7
    if db.dialect == "postgresql":  # a queue pool (SQLite's embedded pool reports no size)
        assert ("creditbank_db_pool_connections", (("state", "size"),)) in samples


async def test_metrics_leak_nothing_without_the_token_or_the_operator(
    scraping, client, db, settings
):
    demo = await load_story(db, settings)
    for answer in (
        await scraping.get("/metrics"),
        await scraping.get("/metrics", headers={"Authorization": "Bearer wrong"}),
        await client.get("/metrics"),  # no token configured: still nobody anonymous
    ):
        assert answer.status_code == 401
        assert "creditbank_" not in answer.text
    learner = demo["users"]["learner"]
    signed = await client.post(
        "/api/v1/auth/login",
        json={"username": learner["username"], "password": learner["password"]},
    )
    bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    assert (await client.get("/metrics", headers=bearer)).status_code == 403
    operator = demo["users"]["operator"]
    signed = await client.post(
        "/api/v1/auth/login",
        json={"username": operator["username"], "password": operator["password"]},
    )
    bearer = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    answer = await client.get("/metrics", headers=bearer)
    assert answer.status_code == 200
    assert "creditbank_jobs" in answer.text


def _basic(item: dict[str, str]) -> dict[str, str]:
    token = base64.b64encode(f"{item['lrs_key']}:{item['lrs_secret']}".encode()).decode()
    return {"Authorization": f"Basic {token}", "X-Experience-API-Version": "1.0.3"}


async def _table_counts(db: Database) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    async with db.session_scope() as session:
        rows = await session.execute(
            text("SELECT kind, recognised, count(*) FROM rule_evaluations GROUP BY 1, 2")
        )
        decisions: dict[tuple[str, str], int] = {}
        for kind, recognised, n in rows:
            decision = (
                kind
                if kind in ("held", "voided")
                else ("recognised" if recognised else "not_recognised")
            )
            decisions[(kind, decision)] = decisions.get((kind, decision), 0) + n
        rows = await session.execute(text("SELECT kind, count(*) FROM ledger_entries GROUP BY 1"))
        entries: dict[str, int] = {}
        for kind, n in rows:
            entries[kind] = n
        return decisions, entries


async def test_rules_decisions_and_ledger_postings_are_exact(scraping, db, settings):
    """Statements posted over HTTP, the worker run, /metrics scraped: the counters say
    exactly what the evaluation log and the ledger hold, before and after a fold."""
    async with db.session_scope() as session:
        demo = await load_demo(session, settings)
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    before = _samples((await scraping.get("/metrics", headers=bearer)).text)
    postings = ("creditbank_ledger_postings_total", (("kind", "deposit"),))
    assert before[postings] == 0  # known labels are shown from the start
    for key, body in story_statements():
        answer = await scraping.post(
            "/xapi/statements", json=body, headers=_basic(demo["institutions"][key])
        )
        assert answer.status_code == 200, answer.text
    fxvs = demo["institutions"]["fxvs"]
    nobody = {
        "actor": {"account": {"homePage": fxvs["home_page"], "name": "NOBODY-14"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"},
        "result": {"score": {"scaled": 0.9}},
    }
    assert (await scraping.post("/xapi/statements", json=nobody, headers=_basic(fxvs))).is_success
    await Worker(db, settings).drain()
    first = story_statements()[0][1]["id"]
    void = {
        "actor": {"account": {"homePage": fxvs["home_page"], "name": "admin"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/voided"},
        "object": {"objectType": "StatementRef", "id": first},
    }
    assert (await scraping.post("/xapi/statements", json=void, headers=_basic(fxvs))).is_success
    await Worker(db, settings).drain()

    decisions, entries = await _table_counts(db)
    assert decisions[("held", "held")] >= 1  # NOBODY-14 (and the voiding admin)
    assert decisions[("statement", "recognised")] >= 1
    assert decisions[("statement", "not_recognised")] >= 1
    assert decisions[("voided", "voided")] >= 1
    assert entries["deposit"] >= 1
    assert entries["reversal"] == 1

    def scraped(samples: dict[Any, float]) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        rules: dict[tuple[str, str], int] = {}
        ledger: dict[str, int] = {}
        for (name, labels), value in samples.items():
            found = dict(labels)
            if name == "creditbank_rules_decisions_total" and value:
                rules[(found["kind"], found["decision"])] = int(value)
            if name == "creditbank_ledger_postings_total" and value:
                ledger[found["kind"]] = int(value)
        return rules, ledger

    after = _samples((await scraping.get("/metrics", headers=bearer)).text)
    assert scraped(after) == (decisions, entries)
    async with db.session_scope() as session:
        folded = await counters_service.fold(session)
    assert folded >= len(decisions) + len(entries)  # a delta row per counter and transaction
    async with db.session_scope() as session:
        rows = (await session.execute(text("SELECT count(*) FROM counts"))).scalar_one()
    assert rows == len(decisions) + len(entries)
    again = _samples((await scraping.get("/metrics", headers=bearer)).text)
    assert scraped(again) == (decisions, entries)
