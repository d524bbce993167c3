"""Statement forwarding to a second, real ``creditbank serve`` acting as the remote LRS
(its own SQLite database and demo credentials), on both local databases: statements
arrive there under the same ids, a failed attempt is retried from the job table, a
retry after the remote stored it already (PUT by id) stores nothing twice, and
``only_recognised`` forwards only what the bank recognised."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.principal import Principal
from creditbank.jobs.service import jobs as jobs_service
from creditbank.migrate import upgrade
from creditbank.webhooks.service import forwarding
from tests.acceptance.li_na import cli, spawn, stop
from tests.conftest import free_port
from tests.rules_processing.conftest import World, store, worker
from tests.webhooks.test_webhooks import elec, login

pytestmark = pytest.mark.server
XAPI = {"X-Experience-API-Version": "1.0.3"}


@dataclass
class Remote:
    url: str
    auth: tuple[str, str]

    def statement(self, statement_id: str) -> httpx.Response:
        return httpx.get(
            f"{self.url}/xapi/statements",
            params={"statementId": statement_id},
            auth=self.auth,
            headers=XAPI,
            timeout=10,
        )

    def ids(self) -> set[str]:
        response = httpx.get(
            f"{self.url}/xapi/statements",
            params={"limit": "100"},
            auth=self.auth,
            headers=XAPI,
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return {s["id"] for s in response.json()["statements"]}


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Remote]:
    """Another bank's LRS: its own database, keys and demo credentials."""
    home = tmp_path / "remote"
    home.mkdir()
    database_url = f"sqlite+aiosqlite:///{home / 'remote.db'}"
    upgrade(database_url)
    env = {
        **os.environ,
        "CREDITBANK_ENV": "test",
        "CREDITBANK_DATABASE_URL": database_url,
        "CREDITBANK_KEY_DIR": str(home / "keys"),
        "CREDITBANK_AUTO_MIGRATE": "false",
        "CREDITBANK_LOG_LEVEL": "WARNING",
        "CREDITBANK_WORKER__IN_PROCESS": "false",
    }
    loaded = cli(["demo", "--json", "--no-story"], env)
    assert loaded.returncode == 0, loaded.stderr
    fxvs = json.loads(loaded.stdout)["institutions"]["fxvs"]
    port = free_port()
    server = spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, home / "log")
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(900):
            if server.poll() is not None:
                raise RuntimeError((home / "log").read_text())
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        yield Remote(url=url, auth=(fxvs["lrs_key"], fxvs["lrs_secret"]))
    finally:
        stop(server)


async def until(check: Any, db: Database, settings: Settings, rounds: int = 100) -> None:
    runner = worker(db, settings)
    for _ in range(rounds):
        await runner.drain()
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.1)


@pytest.mark.usefixtures("admin")
async def test_statements_are_forwarded_once_under_their_ids(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    remote: Remote,
) -> None:
    settings.worker.backoff_base_seconds = 0.05
    headers = await login(client)
    target = {"username": remote.auth[0], "password": remote.auth[1]}
    # First an endpoint where nobody answers: the attempts fail and are retried.
    dead = f"http://127.0.0.1:{free_port()}/xapi"
    response = await client.put(
        "/api/v1/institutions/fxvs/forwarding", json={"endpoint": dead, **target}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert "password" not in response.json()
    recognised, failed = await store(db, settings, world, "fxvs", elec(world), elec(world, 0.3))
    await worker(db, settings).drain()
    assert remote.ids() == set()

    response = await client.put(
        "/api/v1/institutions/fxvs/forwarding",
        json={"endpoint": f"{remote.url}/xapi/", **target},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    await until(lambda: len(remote.ids()) >= 2, db, settings)
    assert remote.ids() == {recognised, failed}
    copy = remote.statement(recognised)
    assert copy.status_code == 200
    assert copy.json()["id"] == recognised
    assert copy.json()["result"]["score"]["scaled"] == 0.9

    # A retry after a timeout the remote had already stored (PUT by id): no copy twice.
    async with db.session_scope() as session:
        target_row = await forwarding.get(session, _operator(), "fxvs")
        again = await forwarding.forward(session, settings, target_row.id, uuid.UUID(recognised))
        # ... and the same job enqueued again is one job (deduplicated by target + statement).
        assert not await jobs_service.enqueue_unique(
            session,
            "webhooks.forward",
            {"target_id": str(target_row.id), "statement_id": recognised},
            dedupe_key=f"webhooks.forward:{target_row.id}:{recognised}",
        )
    assert again == "forwarded"
    assert remote.ids() == {recognised, failed}

    # Only the recognised ones, once set so.
    response = await client.put(
        "/api/v1/institutions/fxvs/forwarding",
        json={"endpoint": f"{remote.url}/xapi", "only_recognised": True, **target},
        headers=headers,
    )
    assert response.json()["only_recognised"] is True
    (low,) = await store(db, settings, world, "fxvs", elec(world, 0.2))
    (high,) = await store(db, settings, world, "fxvs", elec(world, 0.95))
    await until(lambda: high in remote.ids(), db, settings)
    assert low not in remote.ids()

    gone = await client.delete("/api/v1/institutions/fxvs/forwarding", headers=headers)
    assert gone.status_code == 204
    assert (
        await client.get("/api/v1/institutions/fxvs/forwarding", headers=headers)
    ).status_code == 404


def _operator() -> Principal:
    return Principal(kind="user", roles=frozenset({"operator"}), label="test")
