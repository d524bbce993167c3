"""``/metrics``: Prometheus text exposition (prometheus-client), for the operator or a
scraper holding the configured metrics token (``CREDITBANK_METRICS__TOKEN``).

Per process: HTTP requests by method, route template and status, and their latency
(a route template, never the raw path, so ids do not explode the label set). From
the database at scrape time: statements stored, jobs by name and status (rules jobs
processed = ``lrs.statement_stored`` done; dead letters = status ``dead``), the age of
the oldest due job per name, this process's connection pool, and two counters kept
in the database by the writers themselves (``creditbank/counters``), so they are
exact whichever process scrapes and however many workers run: the rules engine's
decisions (evaluation-log rows by kind and decision) and ledger postings by kind.
"""

from __future__ import annotations

import hmac
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily
from prometheus_client.exposition import generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth import current_principal
from api.deps import get_app_settings, get_database
from creditbank.counters.service import LEDGER_POSTINGS, RULES_DECISIONS
from creditbank.counters.service import counters as counters_service
from creditbank.identity.principal import Principal
from creditbank.jobs.service import jobs as jobs_service
from creditbank.lrs.service import statements as statements_service

#: Who holds the metrics token: a caller with the ``metrics`` role and nothing else.
SCRAPER = Principal(kind="user", roles=frozenset({"metrics"}), label="metrics-scraper")
UNMATCHED = "<unmatched>"


class HttpMetrics:
    """One application's request counters (a registry per app: tests build many)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "creditbank_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "creditbank_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    root = scope.get("root_path") or ""
    return root + path if root and not path.startswith(root) else path


class MetricsMiddleware:
    """Counts every HTTP answer and its latency under its route template."""

    def __init__(self, app: ASGIApp, metrics: HttpMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, counting_send)
        finally:
            route = _route_of(scope)
            method = str(scope.get("method", ""))
            self.metrics.requests.labels(method, route, str(status["code"])).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)


async def metrics_principal(request: Request) -> Principal:
    """The scraper when the bearer token is the configured metrics token, else whoever
    the credentials name (the operator may read the metrics too)."""
    token = get_app_settings(request).metrics.token
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if (
        token is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())
    ):
        return SCRAPER
    return await current_principal(request)


def _pool_gauges(
    registry: CollectorRegistry,
    pool: Any,
    name: str = "creditbank_db_pool_connections",
    what: str = "This process's write connection pool: connections by state",
) -> None:
    gauge = Gauge(name, what, ["state"], registry=registry)
    readers = (("size", "size"), ("checked_out", "checkedout"), ("overflow", "overflow"))
    for state, reader in readers:
        value = getattr(pool, reader, None)
        if callable(value):
            gauge.labels(state).set(float(value()))


class _DatabaseCounters:
    """A custom collector: counter families whose values come from the database."""

    def __init__(self, families: list[CounterMetricFamily]) -> None:
        self.families = families

    def collect(self) -> list[CounterMetricFamily]:
        return self.families


def _counter_families(registry: CollectorRegistry, totals: dict[str, dict[str, int]]) -> None:
    decisions = CounterMetricFamily(
        "creditbank_rules_decisions",
        "Rules engine decisions (evaluation-log rows) by kind (statement, reevaluation, "
        "held, voided) and decision (recognised, not_recognised, held, voided); every "
        "process, from the database",
        labels=["kind", "decision"],
    )
    for label, n in sorted(totals.get(RULES_DECISIONS, {}).items()):
        kind, _, decision = label.partition(":")
        decisions.add_metric([kind, decision], n)
    postings = CounterMetricFamily(
        "creditbank_ledger_postings",
        "Ledger entries posted, by kind (deposit, expiry, reversal, conversion, "
        "adjustment); every process, from the database",
        labels=["kind"],
    )
    for kind, n in sorted(totals.get(LEDGER_POSTINGS, {}).items()):
        postings.add_metric([kind], n)
    registry.register(_DatabaseCounters([decisions, postings]))


router = APIRouter(tags=["operations"])


@router.get("/metrics", response_model=str, response_class=PlainTextResponse)
async def metrics(request: Request) -> Response:
    """Prometheus text format: the operator's, or the scraper's with the metrics token."""
    principal = await metrics_principal(request)
    database = get_database(request)
    snapshot = CollectorRegistry(auto_describe=True)
    async with database.read_scope() as session:
        stored = await statements_service.stored_total(session, principal)
        counts = await jobs_service.stats(session, principal)
        ages = await jobs_service.oldest_due_age(session, principal)
        totals = await counters_service.totals(session, principal)
    Gauge(
        "creditbank_statements_stored",
        "Statements stored since the LRS began (the last statement sequence number)",
        registry=snapshot,
    ).set(stored)
    jobs = Gauge(
        "creditbank_jobs",
        "Jobs in the job table, by name and status",
        ["name", "status"],
        registry=snapshot,
    )
    for name, by_status in counts.items():
        for status, count in by_status.items():
            jobs.labels(name, status).set(count)
    age = Gauge(
        "creditbank_job_oldest_due_seconds",
        "How long the oldest due pending job of each name has waited",
        ["name"],
        registry=snapshot,
    )
    for name, seconds in ages.items():
        age.labels(name).set(seconds)
    _counter_families(snapshot, totals)
    _pool_gauges(snapshot, database.write_engine.sync_engine.pool)
    if database.standby_engine is not None:
        _pool_gauges(
            snapshot,
            database.standby_engine.sync_engine.pool,
            "creditbank_db_standby_pool_connections",
            "This process's hot-standby (CREDITBANK_READ_DATABASE_URL) pool: connections by state",
        )
    http: HttpMetrics = request.app.state.http_metrics
    body = generate_latest(http.registry) + generate_latest(snapshot)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
