"""``/metrics`` over HTTP on both databases: the Prometheus text format, counted by route
template, the pipeline's figures from the database, and who may read it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from creditbank.config import Settings
from creditbank.db import Database
from tests.portal.helpers_portal import load_story

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
