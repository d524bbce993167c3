"""The FastAPI application factory."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import health
from api.errors import install_error_handlers, publish_validation_schema
from api.guard import EdgeGuardMiddleware
from api.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from api.replica import ReadYourWritesMiddleware
from api.security_headers import SecurityHeadersMiddleware, default_rules
from api.xapi import about as xapi_about
from api.xapi import activities as xapi_activities
from api.xapi import agents as xapi_agents
from api.xapi import documents as xapi_documents
from api.xapi import statements as xapi_statements
from api.xapi.alternate import AlternateRequestMiddleware
from api.xapi.cors import XapiCorsMiddleware
from creditbank.bootstrap import register_data_rights
from creditbank.config import Settings, get_settings
from creditbank.db import Database
from creditbank.identity.service import identity as identity_service
from creditbank.kit.logging import configure_logging

_heap_settled = False


def _settle_heap() -> None:
    """Once per process, at start-up: collect, then freeze what survived (the modules,
    the app, the engines), as the worker does after its first batch.

    Left in the collector's generations, those objects were walked by every full
    collection, and ingest allocates enough (parsed statements) to run one every
    ~2,000 statements: ~100-170 ms with the SQLite write gate held, the whole queue of
    batches waiting (the periodic p95 spikes of the SQLite ingest).
    """
    global _heap_settled
    if _heap_settled:
        return
    _heap_settled = True
    gc.collect()
    gc.freeze()


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application for ``settings`` (production entry points pass none)."""
    settings = settings or get_settings()
    # Identity keys (field encryption, access tokens): production refuses to start without.
    from creditbank.identity.tokens import ensure_keys

    ensure_keys(settings)
    register_data_rights()
    identity_service.configure_credential_cache(settings.identity.credential_cache_seconds)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database.from_settings(settings)
        app.state.database = database
        background = await _start_background(app, settings, database)
        _settle_heap()
        try:
            yield
        finally:
            for stop in reversed(background):
                await stop()
            await database.dispose()

    app = FastAPI(
        title="creditbank",
        summary="Lifelong-learning credit bank (学分银行) and xAPI learning record store",
        version="0.1.0",
        lifespan=lifespan,
        debug=settings.debug,
        # The API's map is for developers: off in production unless asked for.
        docs_url="/docs" if settings.api_docs_enabled else None,
        redoc_url="/redoc" if settings.api_docs_enabled else None,
        openapi_url="/openapi.json" if settings.api_docs_enabled else None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    publish_validation_schema(app)
    app.include_router(health.router)
    from api import metrics as metrics_api

    app.include_router(metrics_api.router)
    _include_routers(app)
    # The portal last: it answers every path the API routes above do not.
    from api.portal import mount_portal

    mount_portal(app, settings)
    # Innermost of all: a request that wrote marks its caller's reads for the primary
    # until the standby has replayed the write (only with CREDITBANK_READ_DATABASE_URL).
    app.add_middleware(ReadYourWritesMiddleware)
    # Innermost: sees alternate-syntax requests once they are ordinary ones.
    app.add_middleware(
        EdgeGuardMiddleware,
        max_headers=settings.max_headers,
        max_header_bytes=settings.max_header_bytes,
        max_json_depth=settings.lrs.max_depth,
        default_xapi_version=settings.lrs.default_version,
    )
    app.add_middleware(AlternateRequestMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(XapiCorsMiddleware)
    # Outermost, so every answer gets them (the body limit's 413s and CORS preflights
    # too). A sub-app (the portal) adds its prefix: app.state.security_headers.add_prefix.
    app.state.security_headers = default_rules(settings)
    app.add_middleware(SecurityHeadersMiddleware, rules=app.state.security_headers)
    # Outside everything: every answer is counted, the refusals of the guards too.
    app.state.http_metrics = metrics_api.HttpMetrics()
    app.add_middleware(metrics_api.MetricsMiddleware, metrics=app.state.http_metrics)
    return app


def _include_routers(app: FastAPI) -> None:
    """Every context's router; one line each."""
    app.include_router(xapi_about.router)
    app.include_router(xapi_statements.router)
    app.include_router(xapi_documents.router)
    app.include_router(xapi_activities.router)
    app.include_router(xapi_agents.router)
    from api import oauth
    from api.v1 import audit, identity_links, institutions, learners, users
    from api.v1 import auth as v1_auth

    for router in (oauth, v1_auth, institutions, learners, identity_links, users, audit):
        app.include_router(router.router)
    from api.v1 import conversions as v1_conversions
    from api.v1 import inbox as v1_inbox
    from api.v1 import ledger as v1_ledger

    for module in (v1_ledger, v1_conversions, v1_inbox):
        app.include_router(module.router)
    from api.v1 import jobs, outcomes, standards, voiding

    for router in (outcomes, standards, jobs, voiding):
        app.include_router(router.router)
    from api.v1 import imports as v1_imports

    app.include_router(v1_imports.router)
    from api.v1 import shares as v1_shares
    from api.v1 import transcripts as v1_transcripts

    app.include_router(v1_transcripts.router)
    app.include_router(v1_shares.router)
    from api.v1 import webhooks as v1_webhooks

    app.include_router(v1_webhooks.router)
    app.include_router(v1_webhooks.forwarding_router)


async def _start_background(app: FastAPI, settings: Settings, database: Database) -> list:  # type: ignore[type-arg]
    """Start in-process background work (the SQLite WAL checkpoints, the SQLite worker);
    returns stop callbacks."""
    import asyncio

    stops = []
    if database.dialect == "sqlite" and not settings.database_url.endswith(":memory:"):
        from creditbank.db import SqliteCheckpointer

        checkpointer = SqliteCheckpointer(database.read_engine)
        checkpointer.start()
        stops.append(checkpointer.stop)
    if not settings.run_worker_in_process:
        return stops

    from workers.runner import Worker

    worker = Worker(database, settings)
    task = asyncio.create_task(worker.run(), name="creditbank-worker")
    app.state.worker = worker

    async def stop() -> None:
        worker.stop()
        try:
            await asyncio.wait_for(task, timeout=settings.worker.lease_seconds)
        except TimeoutError:
            task.cancel()

    return [*stops, stop]


def create_production_app() -> FastAPI:
    """Entry point for ``uvicorn --factory api.app:create_production_app``."""
    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)
