"""``creditbank bench ingest|query``: load a running LRS over HTTP and report latencies
(every bench command's flags are in :mod:`creditbank.bench.cli`).

``query`` draws its probes from the li-na demo institutions and a sample of what the
server holds; ``query --dataset FILE`` draws every one from a ``bench dataset``
database instead. Each kind's line says how many statements a page held on average,
so probes that find nothing show."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import random
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from creditbank.bench.statements import (
    INSTITUTIONS,
    LEARNERS,
    VERBS,
    activity_id,
    make_batches,
)
from creditbank.config import Settings
from creditbank.kit.time import isoformat_z

HEADERS = {"X-Experience-API-Version": "1.0.3"}


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of ``values`` (0 for none)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _client(args: argparse.Namespace) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=args.url.rstrip("/"),
        auth=(args.key, args.secret),
        headers=HEADERS,
        timeout=120,
        limits=httpx.Limits(max_connections=max(args.concurrency, 1) * 2),
    )


async def run_ingest(args: argparse.Namespace) -> str:
    batches = [
        orjson.dumps(b)
        for b in make_batches(args.statements, args.batch, args.seed, args.home_page)
    ]
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in batches:
        queue.put_nowait(body)
    latencies: list[float] = []
    errors = 0
    stored = 0

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, stored
        while True:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            try:
                response = await client.post(
                    "/xapi/statements",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
            except httpx.HTTPError as exc:
                errors += 1
                print(f"error: {exc!r}")
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if response.status_code == 200:
                stored += len(response.json())
            else:
                errors += 1
                if errors <= 5:
                    print(f"error: HTTP {response.status_code} {response.text[:200]}")

    async with _client(args) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(args.concurrency)))
        elapsed = time.perf_counter() - started
    rate = stored / elapsed if elapsed else 0.0
    print(
        f"batches {len(batches)} of {args.batch}, concurrency {args.concurrency}, "
        f"stored {stored} in {elapsed:.2f} s"
    )
    return (
        f"ingest: {rate:.0f} statements/s p50 {percentile(latencies, 0.50):.1f} "
        f"p95 {percentile(latencies, 0.95):.1f} p99 {percentile(latencies, 0.99):.1f} "
        f"errors {errors}"
    )


async def _sample(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/xapi/statements", params={"limit": "200"})
    response.raise_for_status()
    statements: list[dict[str, Any]] = response.json()["statements"]
    return statements


def _queries(sample: list[dict[str, Any]], rng: random.Random) -> dict[str, list[dict[str, str]]]:
    """Parameters per query kind, drawn from what the server holds."""
    count = 0
    kinds: dict[str, list[dict[str, str]]] = defaultdict(list)
    registrations = sorted(
        {s["context"]["registration"] for s in sample if s.get("context", {}).get("registration")}
    )
    stored = sorted(s["stored"] for s in sample)
    while count < 200:
        count += 1
        home_page, _ = INSTITUTIONS[rng.randrange(len(INSTITUTIONS))]
        agent = {"account": {"homePage": home_page, "name": f"2023{rng.randrange(LEARNERS):05d}"}}
        if sample and rng.random() < 0.5:
            agent = {"account": sample[rng.randrange(len(sample))]["actor"]["account"]}
        kinds["agent"].append({"agent": orjson.dumps(agent).decode(), "limit": "50"})
        kinds["verb"].append({"verb": VERBS[rng.randrange(len(VERBS))][0], "limit": "50"})
        kinds["activity"].append(
            {"activity": activity_id(home_page, rng.randrange(30)), "limit": "50"}
        )
        if registrations:
            kinds["registration"].append(
                {"registration": registrations[rng.randrange(len(registrations))], "limit": "50"}
            )
        if stored:
            kinds["since"].append({"since": stored[rng.randrange(len(stored))], "limit": "50"})
        kinds["related_activities"].append(
            {
                "activity": f"{home_page}/xapi/activities/programme-{rng.randrange(4)}",
                "related_activities": "true",
                "limit": "50",
            }
        )
    return kinds


#: Statements of a ``bench dataset`` regenerated to draw the probes from.
DATASET_SAMPLE = 5000


def read_dataset(path: Path) -> dict[str, Any]:
    """What ``bench dataset --credentials`` wrote: the reader credential and the shape."""
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document.get("shape"), dict):
        raise SystemExit(f"{path}: no dataset shape (written by an older bench dataset?)")
    return document


async def _dataset_queries(
    client: httpx.AsyncClient, document: dict[str, Any], rng: random.Random
) -> dict[str, list[dict[str, str]]]:
    """Parameters per query kind drawn from a ``bench dataset`` database: its statements
    regenerated from the seed (actors, verbs, activities, registrations and parent
    activities do not depend on when it was loaded), ``since`` anywhere between the
    oldest stored statement and the 100th newest, so every page can be full."""
    from creditbank.bench.dataset import Shape, statements

    shape = Shape(outcomes=0.0, **document["shape"])
    end = datetime.now(UTC)
    bodies = [
        g.body
        for g in itertools.islice(statements(shape, end - timedelta(days=1), end), DATASET_SAMPLE)
    ]
    oldest = await client.get("/xapi/statements", params={"limit": "1", "ascending": "true"})
    oldest.raise_for_status()
    newest = await client.get("/xapi/statements", params={"limit": "100"})
    newest.raise_for_status()
    first = [s["stored"] for s in oldest.json()["statements"]]
    last = [s["stored"] for s in newest.json()["statements"]]
    kinds: dict[str, list[dict[str, str]]] = defaultdict(list)
    if first and last:
        low = datetime.fromisoformat(first[0].replace("Z", "+00:00"))
        high = datetime.fromisoformat(last[-1].replace("Z", "+00:00"))
        for _ in range(200):
            since = low + (high - low) * rng.random()
            kinds["since"].append({"since": isoformat_z(since), "limit": "50"})
    for _ in range(200):
        body = bodies[rng.randrange(len(bodies))]
        agent = {"account": body["actor"]["account"]}
        kinds["agent"].append({"agent": orjson.dumps(agent).decode(), "limit": "50"})
        kinds["verb"].append({"verb": body["verb"]["id"], "limit": "50"})
        kinds["activity"].append({"activity": body["object"]["id"], "limit": "50"})
        kinds["registration"].append(
            {"registration": body["context"]["registration"], "limit": "50"}
        )
        parent = body["context"]["contextActivities"]["parent"][0]["id"]
        kinds["related_activities"].append(
            {"activity": parent, "related_activities": "true", "limit": "50"}
        )
    return kinds


async def run_query(args: argparse.Namespace) -> list[str]:
    rng = random.Random(args.seed)
    timings: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    rows: dict[str, int] = defaultdict(int)
    document = read_dataset(args.dataset) if args.dataset else None
    if document is not None and args.key is None:
        reader = document.get("reader") or {}
        args.key, args.secret = reader.get("lrs_key"), reader.get("lrs_secret")
    if not args.key or not args.secret:
        raise SystemExit("bench query: --key and --secret, or a --dataset file with a reader")
    async with _client(args) as client:
        if document is not None:
            kinds = await _dataset_queries(client, document, rng)
        else:
            kinds = _queries(await _sample(client), rng)
        jobs: list[tuple[str, dict[str, str]]] = [
            (kind, params) for kind, items in kinds.items() for params in items[: args.queries]
        ]
        jobs += [("more", {"limit": "25"}) for _ in range(args.queries)]
        rng.shuffle(jobs)
        queue: asyncio.Queue[tuple[str, dict[str, str]]] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)

        async def timed(kind: str, url: str, params: dict[str, str] | None) -> Any:
            started = time.perf_counter()
            response = await client.get(url, params=params)
            timings[kind].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                errors[kind] += 1
                return None
            page = response.json()
            rows[kind] += len(page.get("statements", []))
            return page

        async def worker() -> None:
            while True:
                try:
                    kind, params = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                if kind != "more":
                    await timed(kind, "/xapi/statements", params)
                    continue
                # Follow ``more`` for a few pages of the unfiltered stream.
                page = await timed("first page", "/xapi/statements", params)
                for _ in range(3):
                    if not page or not page.get("more"):
                        break
                    page = await timed("more", page["more"], None)

        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
    lines = []
    for kind in sorted(timings):
        values = timings[kind]
        lines.append(
            f"query {kind}: n {len(values)} p50 {percentile(values, 0.5):.1f} ms "
            f"p95 {percentile(values, 0.95):.1f} ms p99 {percentile(values, 0.99):.1f} ms "
            f"rows/page {rows[kind] / len(values):.1f} errors {errors[kind]}"
        )
    return lines


def _cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    print(asyncio.run(run_ingest(args)))
    return 0


def _cmd_query(args: argparse.Namespace, settings: Settings) -> int:
    for line in asyncio.run(run_query(args)):
        print(line)
    return 0
