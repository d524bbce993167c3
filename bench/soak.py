"""Soak test (issue 13, B7; not in CI): mixed traffic at a fixed rate for N minutes,
memory and latency recorded every minute, one JSON line per minute on stdout.

    creditbank demo --json > demo.json
    creditbank serve --port 8831 &   # (and on PostgreSQL: creditbank worker &)
    python bench/soak.py --url http://127.0.0.1:8831 --demo demo.json \\
        --minutes 30 --rate 20 --pid $(pgrep -f 'creditbank serve' | head -1)

Traffic per tick (``--rate`` operations per second, spread over 4 clients): ingest of
small batches for 李娜's linked accounts and others (so recognition runs), statement
queries by agent and verb, sign-ins, balance and outcome reads, conversion options.
Choose ``--rate`` at half the measured capacity (``creditbank bench ingest``).
Per minute: operations, errors (non-2xx other than the expected), p50/p95/p99 latency
per kind, and the server's resident memory (``/proc/PID/status`` VmRSS) when
``--pid`` is given. A growth trend in memory or latency, or any error, is a finding.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

XAPI = {"X-Experience-API-Version": "1.0.3"}
PASSED = "http://adlnet.gov/expapi/verbs/passed"


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def rss_kib(pid: int | None) -> int | None:
    if pid is None:
        return None
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


class Soak:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.demo: dict[str, Any] = json.loads(Path(args.demo).read_text())
        self.rng = random.Random(args.seed)
        self.latency: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)
        self.ops = 0
        self.tokens: dict[str, str] = {}

    async def login(self, client: httpx.AsyncClient, role: str) -> str:
        user = self.demo["users"][role]
        response = await client.post(
            "/api/v1/auth/login",
            json={"username": user["username"], "password": user["password"]},
        )
        response.raise_for_status()
        token: str = response.json()["access_token"]
        return token

    def _statement(self, institution: dict[str, Any], name: str) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "actor": {"account": {"homePage": institution["home_page"], "name": name}},
            "verb": {"id": PASSED, "display": {"zh-CN": "通过"}},
            "object": {
                "id": f"{institution['home_page']}/xapi/activities/soak-{self.rng.randrange(50)}"
            },
            "result": {"score": {"scaled": round(self.rng.uniform(0.3, 1.0), 2)}},
        }

    async def one(self, client: httpx.AsyncClient) -> None:
        kind = self.rng.choices(
            ["ingest", "query", "login", "balances", "outcomes", "options"],
            weights=[5, 3, 1, 2, 1, 1],
        )[0]
        institutions = self.demo["institutions"]
        key = self.rng.choice(["fxvs", "mooc1", "fxcc", "syu3a", "hbou"])
        institution = institutions[key]
        auth = (institution["lrs_key"], institution["lrs_secret"])
        learner_id = self.demo["users"]["learner"]["learner_id"]
        lina = {"Authorization": f"Bearer {self.tokens.get('learner', '')}"}
        started = time.perf_counter()
        if kind == "ingest":
            names = [f"soak{self.rng.randrange(500)}" for _ in range(5)]
            body = [self._statement(institution, name) for name in names]
            response = await client.post("/xapi/statements", json=body, headers=XAPI, auth=auth)
        elif kind == "query":
            agent = {"account": {"homePage": institution["home_page"], "name": "soak1"}}
            params = {"agent": json.dumps(agent), "limit": "20"}
            response = await client.get("/xapi/statements", params=params, headers=XAPI, auth=auth)
        elif kind == "login":
            response = await client.post(
                "/api/v1/auth/login",
                json={
                    "username": self.demo["users"]["learner"]["username"],
                    "password": self.demo["users"]["learner"]["password"],
                },
            )
            if response.status_code == 200:
                self.tokens["learner"] = response.json()["access_token"]
        elif kind == "balances":
            response = await client.get(
                f"/api/v1/ledger/learners/{learner_id}/balances", headers=lina
            )
        elif kind == "outcomes":
            response = await client.get("/api/v1/learners/me/outcomes", headers=lina)
        else:
            response = await client.get(
                f"/api/v1/conversions/learners/{learner_id}/options", headers=lina
            )
        self.latency[kind].append((time.perf_counter() - started) * 1000)
        self.ops += 1
        # A 429 on sign-in is the rate limit doing its job at this rate, not a fault.
        if not (200 <= response.status_code < 300) and not (
            kind == "login" and response.status_code == 429
        ):
            self.errors[f"{kind}:{response.status_code}"] += 1

    async def run(self) -> None:
        args = self.args
        async with httpx.AsyncClient(base_url=args.url, timeout=30) as client:
            self.tokens["learner"] = await self.login(client, "learner")
            end = time.monotonic() + args.minutes * 60
            minute_end = time.monotonic() + 60
            minute = 0
            interval = 1.0 / args.rate
            pending: set[asyncio.Task[None]] = set()
            next_at = time.monotonic()
            while time.monotonic() < end:
                next_at += interval
                task = asyncio.create_task(self.one(client))
                pending.add(task)
                task.add_done_callback(pending.discard)
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
                if time.monotonic() >= minute_end:
                    minute += 1
                    self.report(minute, len(pending))
                    minute_end += 60
            await asyncio.gather(*pending, return_exceptions=True)

    def report(self, minute: int, in_flight: int) -> None:
        line = {
            "minute": minute,
            "ops": self.ops,
            "in_flight": in_flight,
            "errors": dict(self.errors),
            "rss_kib": rss_kib(self.args.pid),
            "latency_ms": {
                kind: {
                    "n": len(values),
                    "p50": round(percentile(values, 0.5), 1),
                    "p95": round(percentile(values, 0.95), 1),
                    "p99": round(percentile(values, 0.99), 1),
                }
                for kind, values in sorted(self.latency.items())
            },
        }
        print(json.dumps(line), flush=True)
        self.latency.clear()
        self.errors.clear()
        self.ops = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--demo", required=True, help="the output of creditbank demo --json")
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--rate", type=float, default=20, help="operations per second")
    parser.add_argument("--pid", type=int, default=None, help="server pid, for its memory")
    parser.add_argument("--seed", type=int, default=13)
    asyncio.run(Soak(parser.parse_args()).run())


if __name__ == "__main__":
    main()
