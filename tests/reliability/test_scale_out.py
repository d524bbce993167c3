"""Issue 14 item 7: stateless API nodes and any number of workers on one database.

Real processes: two ``creditbank serve`` (no in-process worker) and four
``creditbank worker`` on PostgreSQL (two on SQLite, whose writers queue on the
file's one write lock). Client threads push 李娜-style statements for many learners
to both servers at once, every batch to each server and some again as retries (POST
and PUT with the same statement ids), while the workers drain the queue. Then the
database itself is checked: every statement stored once, one job each and done,
evaluated once, every outcome deposited exactly once (one ledger entry per outcome,
idempotency keys unique), ``creditbank ledger verify`` clean and every learner's
balance what the li-na plan banks.
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo
from creditbank.identity.service import identity
from creditbank.identity.tokens import keyring_for
from creditbank.ledger.service import ledger
from tests.acceptance.li_na import XAPI, cli_env, li_na_plan, spawn, stop
from tests.conftest import free_port
from tests.reliability.harness import (
    ledger_verifies,
    query,
    report,
    stored_ids,
    wait_jobs_done,
)

pytestmark = pytest.mark.server

#: Learners besides 李娜, each sent her statements 1-5 and 7 by her institutions.
LEARNERS = 24
BATCH = 6
#: 李娜's statements 1-7 bank 10.0 (statement 6 is from an unaccredited sender,
#: statement 7 a retake of a unit already credited).
BANKED = Decimal("10")


async def _open_learners(settings: Settings, demo: dict[str, Any]) -> list[Any]:
    """``LEARNERS`` accounts, each with an account at fxvs, mooc1, fxcc and syu3a linked."""
    keyring = keyring_for(settings)
    homes = {key: item["home_page"] for key, item in demo["institutions"].items()}
    run = uuid.uuid4().hex[:6]
    out = []
    database = Database.from_settings(settings)
    async with database.session_scope() as session:
        for n in range(LEARNERS):
            learner = await identity.create_learner(
                session, "scale-out", keyring=keyring, name=f"学员{n:03d}"
            )
            accounts = {}
            for key in ("fxvs", "mooc1", "fxcc", "syu3a"):
                agent = {"account": {"homePage": homes[key], "name": f"so-{run}-{n}"}}
                await identity.link_by_operator(
                    session, "scale-out", learner, agent=agent, process_waiting=False
                )
                accounts[key] = {"objectType": "Agent", **agent}
            out.append((learner.id, accounts))
    await database.dispose()
    return out


async def _banked(settings: Settings, owners: list[uuid.UUID]) -> list[Decimal]:
    database = Database.from_settings(settings)
    try:
        async with database.read_scope() as session:
            return [(await ledger.balances(session, owner)).banked for owner in owners]
    finally:
        await database.dispose()


def _plan(demo: dict[str, Any], learners: list[Any]) -> list[tuple[str, dict[str, Any]]]:
    """李娜's seven statements and, per other learner, the same with her own accounts."""
    plan = li_na_plan(demo)
    template = [(key, body) for key, body in plan if key != "shady"]
    lina = {
        item["institution"]: {"objectType": "Agent", "account": item["account"]}
        for item in demo["users"]["learner"]["linked_accounts"]
    }
    for _, accounts in learners:
        for key, body in template:
            assert body["actor"] == lina[key]
            plan.append((key, {**body, "id": str(uuid.uuid4()), "actor": accounts[key]}))
    return plan


async def _load_demo(settings: Settings) -> dict[str, Any]:
    """What ``creditbank demo --json --no-story`` prints, loaded in this process."""
    database = Database.from_settings(settings)
    try:
        async with database.session_scope() as session:
            demo: dict[str, Any] = json.loads(json.dumps(await load_demo(session, settings)))
            return demo
    finally:
        await database.dispose()


def _healthy(process: subprocess.Popen[bytes], port: int) -> str:
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert process.poll() is None, f"serve on {port} exited"
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return url
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"serve on {port} did not start")


class Pusher:
    """Client threads sending batches to both servers; records every answer."""

    def __init__(self, urls: list[str], demo: dict[str, Any], work: list[Any]) -> None:
        self.urls = urls
        self.demo = demo
        self.work = work
        self.statuses: Counter[int] = Counter()
        self.retried = 0
        self.failures: list[str] = []
        self._lock = threading.Lock()

    def run(self, clients: int) -> None:
        threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    def _next(self) -> Any:
        with self._lock:
            return self.work.pop() if self.work else None

    def _client(self) -> None:
        clients = [httpx.Client(base_url=url, timeout=30, headers=XAPI) for url in self.urls]
        try:
            while (item := self._next()) is not None:
                server, method, key, body = item
                self._send(clients[server], method, key, body)
        finally:
            for client in clients:
                client.close()

    def _send(self, client: httpx.Client, method: str, key: str, body: Any) -> None:
        item = self.demo["institutions"][key]
        auth = (item["lrs_key"], item["lrs_secret"])
        for _ in range(20):  # a client retries what was not acknowledged
            try:
                if method == "PUT":
                    response = client.put(
                        "/xapi/statements", params={"statementId": body["id"]}, json=body, auth=auth
                    )
                else:
                    response = client.post("/xapi/statements", json=body, auth=auth)
            except httpx.HTTPError:
                with self._lock:
                    self.statuses[0] += 1
                    self.retried += 1
                time.sleep(0.1)
                continue
            with self._lock:
                self.statuses[response.status_code] += 1
            if response.status_code == 503:
                with self._lock:
                    self.retried += 1
                time.sleep(0.1)
                continue
            expected = 204 if method == "PUT" else 200
            if response.status_code != expected:
                with self._lock:
                    self.failures.append(f"{method} {response.status_code} {response.text[:200]}")
            elif method == "POST" and response.json() != [s["id"] for s in body]:
                with self._lock:
                    self.failures.append(f"POST answered {response.text[:200]}")
            return
        with self._lock:
            self.failures.append(f"{method} never acknowledged")


def _work(plan: list[tuple[str, dict[str, Any]]], rng: random.Random) -> list[Any]:
    """Every batch to each server, a third of the batches posted again and some
    statements PUT one by one: ``(server, method, key, body)``, popped from the end.

    A batch's sends are adjacent, so different clients take them at nearly the same
    moment: the same statement ids race into both servers."""
    by_institution: dict[str, list[dict[str, Any]]] = {}
    for key, body in plan:
        by_institution.setdefault(key, []).append(body)
    groups: list[list[Any]] = []
    for key, bodies in by_institution.items():
        for start in range(0, len(bodies), BATCH):
            batch = bodies[start : start + BATCH]
            group: list[Any] = [(0, "POST", key, batch), (1, "POST", key, batch)]
            if rng.random() < 0.33:
                group.append((rng.randrange(2), "POST", key, batch))
            if rng.random() < 0.25:
                group.append((rng.randrange(2), "PUT", key, rng.choice(batch)))
            rng.shuffle(group)
            groups.append(group)
    rng.shuffle(groups)
    return [item for group in groups for item in group]


def test_two_servers_and_workers_credit_each_outcome_once(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """PostgreSQL: 2 ``serve`` + 4 ``worker``; SQLite: 2 ``serve`` + 2 ``worker``."""
    started = time.monotonic()
    workers = 2 if settings.is_sqlite else 4
    env = cli_env(settings, tmp_path, in_process=False)
    demo = asyncio.run(_load_demo(settings))
    learners = asyncio.run(_open_learners(settings, demo))
    plan = _plan(demo, learners)
    processes = []
    try:
        # Every process starts at once (a loaded 2-core box starts each in seconds).
        ports = [free_port(), free_port()]
        processes += [
            spawn(
                ["serve", "--host", "127.0.0.1", "--port", str(port)], env, tmp_path / f"s{n}.log"
            )
            for n, port in enumerate(ports)
        ]
        processes += [spawn(["worker"], env, tmp_path / f"worker-{n}.log") for n in range(workers)]
        servers = [(processes[n], _healthy(processes[n], port)) for n, port in enumerate(ports)]
        phases = {"started": time.monotonic() - started}
        pusher = Pusher([url for _, url in servers], demo, _work(plan, random.Random(14)))
        sent = len(pusher.work)
        pusher.run(clients=6)
        phases["pushed"] = time.monotonic() - started
        assert not pusher.failures, pusher.failures[:5]
        assert not pusher.work, "clients stopped before the work was sent"

        ids = {body["id"] for _, body in plan}
        stored = stored_ids(settings.database_url)
        assert set(stored) == ids, "a statement lost or a stray stored"
        assert all(n == 1 for n in stored.values()), "a statement stored twice"

        jobs = wait_jobs_done(settings.database_url, timeout=90)
        phases["drained"] = time.monotonic() - started
        per_statement = Counter(sid for sid, _, _ in jobs)
        assert set(per_statement) == ids
        assert all(n == 1 for n in per_statement.values()), "a statement enqueued twice"
        evaluated = Counter(
            str(uuid.UUID(str(row[0])))
            for row in query(
                settings.database_url,
                "SELECT statement_id FROM rule_evaluations WHERE kind = 'statement'",
            )
        )
        held = Counter(
            str(uuid.UUID(str(row[0])))
            for row in query(settings.database_url, "SELECT statement_id FROM rule_held_statements")
        )
        # The unaccredited sender's statement (李娜's 6) is held: its actor is nobody's.
        assert set(held) == {body["id"] for key, body in plan if key == "shady"}
        assert set(evaluated) | set(held) == ids, "a statement neither evaluated nor held"
        assert all(n == 1 for n in (evaluated + held).values()), "a statement processed twice"

        outcomes = [
            str(uuid.UUID(str(row[0])))
            for row in query(settings.database_url, "SELECT id FROM rule_outcomes")
        ]
        deposits = query(
            settings.database_url,
            "SELECT outcome_id, idempotency_key FROM ledger_entries WHERE kind = 'deposit'",
        )
        deposited = Counter(str(uuid.UUID(str(outcome))) for outcome, _ in deposits)
        assert len(deposits) == len(outcomes), "ledger deposits differ from outcomes"
        assert set(deposited) == set(outcomes)
        assert all(n == 1 for n in deposited.values()), "an outcome credited twice"
        keys = Counter(key for _, key in deposits)
        assert all(n == 1 for n in keys.values())
        entries = query(settings.database_url, "SELECT count(*) FROM ledger_entries")[0][0]
        assert entries == len(deposits), "an entry that is not a deposit"
        ledger_verifies(env)

        owners = [uuid.UUID(demo["users"]["learner"]["learner_id"])]
        banked = asyncio.run(_banked(settings, owners + [lid for lid, _ in learners]))
        assert banked == [BANKED] * (LEARNERS + 1), Counter(banked)
        for process in processes:
            assert process.poll() is None, "a server or worker died"
        seconds = time.monotonic() - started
        report(
            f"scale-out-{settings.database_url.split('+')[0]}",
            {
                "servers": 2,
                "workers": workers,
                "requests": sent,
                "statements": len(ids),
                "outcomes": len(outcomes),
                "answers": {str(k): v for k, v in pusher.statuses.items()},
                "retried": pusher.retried,
                "seconds": round(seconds, 1),
                "phases": {name: round(at, 1) for name, at in phases.items()},
            },
        )
    finally:
        for process in processes:  # all at once, then wait for each
            if process.poll() is None:
                process.terminate()
        for process in processes:
            stop(process)
