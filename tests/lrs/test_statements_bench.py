"""``creditbank bench`` against a real server: output shape only, never timings."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys

import pytest

pytestmark = pytest.mark.server

INGEST_LINE = re.compile(r"^ingest: \d+ statements/s p50 [\d.]+ p95 [\d.]+ p99 [\d.]+ errors 0$")


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "creditbank.cli", "bench", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


async def test_bench_ingest_then_query(live_server, demo):
    fxvs = demo["fxvs"]
    flags = ["--url", live_server.url, "--key", fxvs["lrs_key"], "--secret", fxvs["lrs_secret"]]
    ingest = await asyncio.to_thread(
        run,
        ["ingest", *flags, "--statements", "300", "--batch", "50", "--concurrency", "2"],
        live_server.env,
    )
    assert INGEST_LINE.match(ingest.strip().splitlines()[-1]), ingest
    query = await asyncio.to_thread(
        run, ["query", *flags, "--queries", "3", "--concurrency", "2"], live_server.env
    )
    kinds = {line.split(":")[0] for line in query.strip().splitlines()}
    assert {"query agent", "query verb", "query activity", "query registration"} <= kinds
    assert {"query since", "query more"} <= kinds
    assert all(line.endswith("errors 0") for line in query.strip().splitlines()), query
