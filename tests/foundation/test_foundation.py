"""The service foundation: health, readiness, migrations, settings, limits."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import inspect

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.migrate import current_heads, script_heads


class TestMigrations:
    async def test_upgrade_from_empty_reaches_every_head(self, db: Database, settings: Settings):
        assert await current_heads(db.write_engine) == script_heads(settings.database_url)

    async def test_core_tables_exist(self, db: Database):
        async with db.write_engine.connect() as connection:
            names = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"institutions", "lrs_credentials", "jobs"} <= names


class TestHealth:
    async def test_healthz(self, client: httpx.AsyncClient):
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["x-request-id"]

    async def test_readyz_when_migrated(self, client: httpx.AsyncClient):
        response = await client.get("/readyz")
        assert response.status_code == 200, response.text
        assert response.json()["checks"] == {"database": "ok", "migrations": "ok"}

    async def test_request_id_is_kept_when_sane(self, client: httpx.AsyncClient):
        response = await client.get("/healthz", headers={"X-Request-ID": "abc-123"})
        assert response.headers["x-request-id"] == "abc-123"

    async def test_openapi_docs(self, client: httpx.AsyncClient):
        assert (await client.get("/docs")).status_code == 200
        assert (await client.get("/openapi.json")).json()["info"]["title"] == "creditbank"


class TestSettings:
    def test_prod_refuses_default_secret(self):
        with pytest.raises(ValueError, match="development default"):
            Settings(env="prod")

    def test_prod_refuses_debug(self):
        with pytest.raises(ValueError, match="DEBUG"):
            Settings(env="prod", secret_key="x" * 40, debug=True)

    def test_prod_with_safe_settings(self):
        assert Settings(env="prod", secret_key="x" * 40).env == "prod"

    def test_nested_from_environment(self, monkeypatch: pytest.MonkeyPatch):
        monkeypatch.setenv("CREDITBANK_LRS__MAX_LIMIT", "50")
        assert Settings().lrs.max_limit == 50
