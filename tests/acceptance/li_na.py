"""Shared parts of the li-na acceptance tests: the CLI subprocesses and 李娜's statements.

The ``bank`` fixture built from these lives in ``tests/acceptance/conftest.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from creditbank.config import Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
XAPI = {"X-Experience-API-Version": "1.0.3"}
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def cli_env(
    settings: Settings, tmp_path: Path, *, in_process: bool, log_level: str = "WARNING"
) -> dict[str, str]:
    return {
        **os.environ,
        "CREDITBANK_ENV": "test",
        "CREDITBANK_DATABASE_URL": settings.database_url,
        "CREDITBANK_KEY_DIR": str(tmp_path / "keys"),
        "CREDITBANK_AUTO_MIGRATE": "false",
        "CREDITBANK_LOG_LEVEL": log_level,
        "CREDITBANK_WORKER__IN_PROCESS": "true" if in_process else "false",
        "CREDITBANK_WORKER__POLL_INTERVAL_SECONDS": "0.1",
    }


def cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditbank.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "creditbank.cli", *args],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


class Bank:
    """A running ``creditbank serve`` loaded by ``creditbank demo --json``.

    ``worker`` is the separate ``creditbank worker`` process (PostgreSQL), or None when
    the server's in-process worker does the work (SQLite); ``env`` runs further CLI
    commands against the same database.
    """

    def __init__(
        self,
        url: str,
        demo: dict[str, Any],
        env: dict[str, str],
        worker: subprocess.Popen[bytes] | None,
    ) -> None:
        self.url = url
        self.demo = demo
        self.env = env
        self.worker = worker


def run_bank(
    settings: Settings,
    tmp_path: Path,
    *,
    demo_args: tuple[str, ...] = ("demo", "--json", "--no-story"),
    extra_env: dict[str, str] | None = None,
) -> Iterator[Bank]:
    """Load the demo, start the server (and on PostgreSQL a separate worker), yield, stop.

    ``demo_args``/``extra_env``: another story's demo (``demo --alliance --json`` with
    ``CREDITBANK_RULES__STANDARDS_SET=hubei-alliance``)."""
    separate_worker = not settings.is_sqlite
    env = {**cli_env(settings, tmp_path, in_process=not separate_worker), **(extra_env or {})}
    demo_run = cli(list(demo_args), env)
    assert demo_run.returncode == 0, demo_run.stderr
    demo = json.loads(demo_run.stdout)
    port = free_port()
    server_log = tmp_path / "server.log"
    server = spawn(["serve", "--host", "127.0.0.1", "--port", str(port)], env, server_log)
    worker = spawn(["worker"], env, tmp_path / "worker.log") if separate_worker else None
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(server_log.read_text())
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        yield Bank(url, demo, env, worker)
    finally:
        if worker is not None:
            stop(worker)
        stop(server)


def statement(
    actor: dict[str, Any], verb: str, activity: str, result: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": actor,
        "verb": {"id": verb, "display": {"zh-CN": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
        "result": result,
    }


def linked_accounts(demo: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """李娜's xAPI agents, by institution key."""
    return {
        item["institution"]: {"objectType": "Agent", "account": item["account"]}
        for item in demo["users"]["learner"]["linked_accounts"]
    }


def li_na_plan(demo: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Statements 1-7, each with the key of the institution that sends it."""
    accounts = linked_accounts(demo)
    shady_student = {
        "objectType": "Agent",
        "account": {"homePage": "https://shady.example.com", "name": "LN-0001"},
    }
    return [
        (
            "fxvs",
            statement(
                accounts["fxvs"],
                PASSED,
                "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment",
                {"score": {"scaled": 0.82}},
            ),
        ),
        (
            "mooc1",
            statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/python",
                {"success": True, "score": {"scaled": 0.91}},
            ),
        ),
        (
            "mooc1",
            statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/data-structures",
                {"success": True, "score": {"scaled": 0.55}},
            ),
        ),
        (
            "fxcc",
            statement(
                accounts["fxcc"],
                ATTENDED,
                "https://fxcc.example.edu.cn/courses/first-aid-16h",
                {"duration": "PT16H"},
            ),
        ),
        (
            "syu3a",
            statement(
                accounts["syu3a"],
                COMPLETED,
                "https://syu3a.example.edu.cn/courses/calligraphy",
                {"duration": "PT20H"},
            ),
        ),
        (
            "shady",
            statement(
                shady_student,
                COMPLETED,
                "https://shady.example.com/courses/data-structures",
                {"success": True, "completion": True},
            ),
        ),
        (
            "mooc1",
            statement(
                accounts["mooc1"],
                COMPLETED,
                "https://mooc1.example.cn/courses/python",
                {"success": True, "score": {"scaled": 0.95}},
            ),
        ),
    ]


def post_statement(
    client: httpx.Client, demo: dict[str, Any], key: str, body: dict[str, Any]
) -> None:
    item = demo["institutions"][key]
    response = client.post(
        "/xapi/statements",
        json=body,
        headers=XAPI,
        auth=(item["lrs_key"], item["lrs_secret"]),
    )
    assert response.status_code == 200, response.text


def login(client: httpx.Client, user: dict[str, str]) -> dict[str, str]:
    response = client.post(
        "/api/v1/auth/login",
        json={"username": user["username"], "password": user["password"]},
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def wait_for(check: Callable[[], Any], what: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last is not None:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")
