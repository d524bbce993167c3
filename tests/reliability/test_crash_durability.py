"""Crash drills (issue 13, B1): SIGKILL the server, SIGKILL a worker, restart PostgreSQL.

Each drill runs real processes with concurrent xAPI clients and then checks the
database itself: every acknowledged statement stored exactly once, no batch half
written, one recognition job per statement and every job done, each statement held
or evaluated once, and ``creditbank ledger verify`` clean.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import (
    cli,
    cli_env,
    li_na_plan,
    login,
    post_statement,
    spawn,
    stop,
    wait_for,
)
from tests.reliability.harness import (
    Cluster,
    Load,
    assert_durable,
    kill,
    ledger_verifies,
    report,
    start_server,
    statement_jobs,
    stored_ids,
)

pytestmark = pytest.mark.server


def _demo(env: dict[str, str]) -> dict[str, Any]:
    result = cli(["demo", "--json", "--no-story"], env)
    assert result.returncode == 0, result.stderr
    demo: dict[str, Any] = json.loads(result.stdout)
    return demo


def _load(url: str, demo: dict[str, Any]) -> Load:
    fxvs = demo["institutions"]["fxvs"]
    return Load(url, (fxvs["lrs_key"], fxvs["lrs_secret"]), fxvs["home_page"]).start()


def _wait_until(condition, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


def test_server_sigkilled_mid_ingest_loses_nothing_acknowledged(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    """SQLite: the server with its in-process worker; PostgreSQL: server + worker."""
    separate_worker = not settings.is_sqlite
    env = cli_env(settings, tmp_path, in_process=not separate_worker)
    demo = _demo(env)
    server, url = start_server(env, tmp_path / "server-1.log")
    worker = spawn(["worker"], env, tmp_path / "worker.log") if separate_worker else None
    try:
        load = _load(url, demo)
        _wait_until(lambda: len(load.acked) >= 20)
        kill(server)  # mid-run: the clients are still sending
        load.stop()
        assert len(load.acked) >= 20, load.statuses
        server, url = start_server(env, tmp_path / "server-2.log")
        figures = assert_durable(settings.database_url, load)
        ledger_verifies(env)
        assert figures["acked"] >= 100
        report(f"server-sigkill-{settings.database_url.split('+')[0]}", figures)
        # The restarted server takes new statements.
        after = _load(url, demo)
        _wait_until(lambda: len(after.acked) >= 2)
        after.stop()
        assert after.acked
    finally:
        if worker is not None:
            stop(worker)
        stop(server)


@pytest.mark.postgres
def test_worker_sigkilled_mid_job_another_finishes_without_double_credit(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("one in-process worker on SQLite; leases are taken over on PostgreSQL")
    env = {**cli_env(settings, tmp_path, in_process=False), "CREDITBANK_WORKER__LEASE_SECONDS": "2"}
    demo = _demo(env)
    server, url = start_server(env, tmp_path / "server.log")
    first = None
    second = None
    try:
        # 李娜's statements 1-7 and a stream of others; the first worker dies mid-queue.
        with httpx.Client(base_url=url, timeout=30) as client:
            for key, body in li_na_plan(demo):
                post_statement(client, demo, key, body)
        load = _load(url, demo)
        _wait_until(lambda: len(load.acked) >= 40)
        load.stop()
        first = spawn(["worker"], env, tmp_path / "worker-1.log")
        pending = {"n": 0}

        def some_done() -> bool:
            jobs = statement_jobs(settings.database_url)
            pending["n"] = sum(1 for _, status, _ in jobs if status != "done")
            return any(status == "done" for _, status, _ in jobs) and pending["n"] > 0

        _wait_until(some_done, timeout=30)
        kill(first)
        assert pending["n"] > 0, "the first worker finished everything before the kill"
        second = spawn(["worker"], env, tmp_path / "worker-2.log")
        try:
            # A loaded CI box starts the second worker slowly (CI saw 119 leases and
            # 107 pending jobs untouched after 60 s): wait longer, and say why if not.
            figures = assert_durable(settings.database_url, load, jobs_timeout=180)
        except AssertionError as failed:
            log = (tmp_path / "worker-2.log").read_text(errors="replace")[-3000:]
            alive = "running" if second.poll() is None else f"exited {second.returncode}"
            raise AssertionError(f"{failed}; second worker {alive}; its log:\n{log}") from None
        ledger_verifies(env)
        with httpx.Client(base_url=url, timeout=30) as client:
            lina = login(client, demo["users"]["learner"])
            learner_id = demo["users"]["learner"]["learner_id"]

            def balances() -> dict[str, Any] | None:
                got = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=lina)
                return got.json() if got.status_code == 200 else None

            figures_now = wait_for(balances, "balances")
            # Banked exactly 10.0: statements 1-7 credited once, however the jobs ran.
            assert str(figures_now["banked"]) in ("10.0", "10.00", "10")
        assert figures["stored"] >= 40
        report("worker-sigkill", figures)
    finally:
        for process in (first, second):
            if process is not None:
                stop(process)
        stop(server)


@pytest.fixture
def cluster():
    own = Cluster()
    own.start()
    try:
        yield own
    finally:
        own.remove()


@pytest.mark.postgres
def test_postgres_restarted_under_load_503_with_retry_after_never_500(
    settings: Settings, cluster: Cluster, tmp_path: Path
) -> None:
    if settings.is_sqlite:
        pytest.skip("PostgreSQL restart drill")
    url = cluster.createdb("creditbank")
    from creditbank.migrate import upgrade

    upgrade(url)
    env = {
        **cli_env(settings, tmp_path, in_process=False),
        "CREDITBANK_DATABASE_URL": url,
    }
    demo = _demo(env)
    server, base = start_server(env, tmp_path / "server.log")
    try:
        load = _load(base, demo)
        _wait_until(lambda: len(load.acked) >= 10)
        before_restart = len(load.answers)
        cluster.restart_immediate()
        # After the restart, the same server answers again without being restarted.
        acked_at_restart = len(load.acked)
        _wait_until(lambda: len(load.acked) >= acked_at_restart + 10, timeout=30)
        load.stop()
        assert len(load.acked) >= acked_at_restart + 10, load.statuses
        statuses = {status for _, status, _ in load.answers}
        assert 500 not in statuses, load.statuses
        assert statuses <= {200, 503}, load.statuses
        report(
            "postgres-restart",
            {"answers": {str(k): v for k, v in load.statuses.items()}, "acked": len(load.acked)},
        )
        unavailable = [a for a in load.answers[before_restart:] if a[1] == 503]
        assert all(retry is not None and int(retry) >= 1 for _, _, retry in unavailable)
        assert server.poll() is None
        # No worker runs here (jobs stay pending): check what was stored.
        stored = stored_ids(url)
        acked = [sid for batch in load.acked for sid in batch]
        assert all(sid in stored for sid in acked)
        for batch in load.sent:
            assert sum(1 for sid in batch if sid in stored) in (0, len(batch))
        assert (tmp_path / "server.log").read_text().count('"status": 500') == 0
    finally:
        stop(server)
