"""Crash drills: real ``creditbank serve`` / ``worker`` processes, concurrent xAPI
clients that remember what was acknowledged, and checks made on the database itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text

from creditbank.db import Database
from tests.acceptance.li_na import XAPI, cli, spawn
from tests.conftest import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PASSED = "http://adlnet.gov/expapi/verbs/passed"


def start_server(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # a loaded 2-core CI box starts slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(log.read_text())
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def kill(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown hook, no flush, no goodbye."""
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)


def statement_batch(home_page: str, size: int, tag: str) -> list[dict[str, Any]]:
    return [
        {
            "id": str(uuid.uuid4()),
            "actor": {"objectType": "Agent", "account": {"homePage": home_page, "name": tag}},
            "verb": {"id": PASSED, "display": {"en-US": "passed"}},
            "object": {"objectType": "Activity", "id": f"{home_page}/xapi/activities/drill"},
            "result": {"score": {"scaled": 0.9}},
        }
        for _ in range(size)
    ]


@dataclass
class Load:
    """Clients posting batches until stopped; every batch and every answer is recorded."""

    url: str
    auth: tuple[str, str]
    home_page: str
    clients: int = 4
    batch: int = 5
    sent: list[list[str]] = field(default_factory=list)
    acked: list[list[str]] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    #: Answers per second while running: (status, Retry-After) pairs in order.
    answers: list[tuple[float, int, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for n in range(self.clients):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def _run(self, n: int) -> None:
        with httpx.Client(base_url=self.url, timeout=10, auth=self.auth, headers=XAPI) as client:
            while not self._stop.is_set():
                body = statement_batch(self.home_page, self.batch, f"drill-{n}")
                ids = [s["id"] for s in body]
                with self._lock:
                    self.sent.append(ids)
                try:
                    response = client.post("/xapi/statements", json=body)
                except httpx.HTTPError:
                    with self._lock:
                        self.statuses[0] += 1
                    time.sleep(0.05)
                    continue
                with self._lock:
                    self.statuses[response.status_code] += 1
                    self.answers.append(
                        (
                            time.monotonic(),
                            response.status_code,
                            response.headers.get("retry-after"),
                        )
                    )
                    if response.status_code == 200:
                        assert response.json() == ids
                        self.acked.append(ids)
                if response.status_code == 503:
                    time.sleep(0.1)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=15)


async def _query(url: str, sql: str) -> list[Any]:
    database = Database.from_url(url)
    try:
        async with database.read_scope() as session:
            return list((await session.execute(text(sql))).all())
    finally:
        await database.dispose()


def query(url: str, sql: str) -> list[Any]:
    return asyncio.run(_query(url, sql))


def stored_ids(url: str) -> Counter[str]:
    rows = query(url, "SELECT id FROM lrs_statements")
    return Counter(str(uuid.UUID(str(row[0]))) for row in rows)


def statement_jobs(url: str) -> list[tuple[str, str, int]]:
    """``(statement_id, status, attempts)`` of every ``lrs.statement_stored`` job."""
    rows = query(
        url, "SELECT payload, status, attempts FROM jobs WHERE name = 'lrs.statement_stored'"
    )
    out = []
    for payload, status, attempts in rows:
        data = payload if isinstance(payload, dict) else json.loads(payload)
        out.append((data["statement_id"], status, attempts))
    return out


def wait_jobs_done(url: str, timeout: float = 60) -> list[tuple[str, str, int]]:
    deadline = time.monotonic() + timeout
    jobs = statement_jobs(url)
    while time.monotonic() < deadline:
        jobs = statement_jobs(url)
        if jobs and all(status == "done" for _, status, _ in jobs):
            return jobs
        time.sleep(0.3)
    raise AssertionError(f"jobs not done: {Counter(status for _, status, _ in jobs)}")


def assert_durable(url: str, load: Load, *, jobs_timeout: float = 60) -> dict[str, int]:
    """Every acknowledged statement stored once, no batch half stored, one job each,
    each job done, each statement evaluated once."""
    stored = stored_ids(url)
    assert all(count == 1 for count in stored.values())
    acked = [sid for batch in load.acked for sid in batch]
    missing = [sid for sid in acked if sid not in stored]
    assert not missing, f"{len(missing)} acknowledged statements lost"
    for batch in load.sent:
        present = sum(1 for sid in batch if sid in stored)
        assert present in (0, len(batch)), f"half-written batch: {present} of {len(batch)}"
    jobs = wait_jobs_done(url, jobs_timeout)
    per_statement = Counter(sid for sid, _, _ in jobs)
    assert set(per_statement) == set(stored), "a stored statement without its job (or a stray)"
    assert all(n == 1 for n in per_statement.values()), "a statement enqueued twice"
    held = Counter(
        str(uuid.UUID(str(r[0])))
        for r in query(url, "SELECT statement_id FROM rule_held_statements")
    )
    assert all(n == 1 for n in held.values()), "a statement held twice"
    return {
        "sent": sum(len(b) for b in load.sent),
        "acked": len(acked),
        "stored": len(stored),
        "taken_over": sum(1 for _, _, attempts in jobs if attempts > 1),
    }


def report(name: str, figures: dict[str, Any]) -> None:
    """Append a drill's figures to ``$CREDITBANK_DRILL_REPORT`` (for docs/reliability.md)."""
    target = os.environ.get("CREDITBANK_DRILL_REPORT")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps({"drill": name, **figures}) + "\n")


def ledger_verifies(env: dict[str, str]) -> None:
    result = cli(["ledger", "verify", "--json"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["ok"] is True


class Cluster:
    """A PostgreSQL 15 cluster of the test's own (initdb as ``postgres`` in a temp dir)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="creditbank-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.log = self.dir / "postgres.log"
        shutil.chown(self.dir, "postgres", "postgres")
        self._as_postgres(
            [str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"]
        )

    def _as_postgres(self, args: list[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=check)

    def _ctl(self, *args: str) -> None:
        self._as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-w",
                "-o",
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=on",
                *args,
            ]
        )

    def start(self) -> None:
        self._ctl("start")

    def restart_immediate(self) -> None:
        self._ctl("restart", "-m", "immediate")

    def stop_immediate(self) -> None:
        self._as_postgres(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-w", "stop", "-m", "immediate"],
            check=False,
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def createdb(self, name: str) -> str:
        self._as_postgres(
            [
                str(PG_BIN / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ]
        )
        return self.url(name)

    def remove(self) -> None:
        self.stop_immediate()
        shutil.rmtree(self.dir, ignore_errors=True)
