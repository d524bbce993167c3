"""``bench query --dataset``: against a ``bench dataset`` database, every probe kind is
drawn from the dataset (regenerated from the seed) and reads statements, never the
empty pages the li-na probes get there."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from tests.acceptance.li_na import cli

pytestmark = pytest.mark.server

TINY = ["--statements", "600", "--learners", "20", "--institutions", "2", "--seed", "11"]
LINE = re.compile(
    r"^query (?P<kind>[a-z_ ]+): n (?P<n>\d+) p50 [\d.]+ ms p95 [\d.]+ ms p99 [\d.]+ ms "
    r"rows/page (?P<rows>[\d.]+) errors (?P<errors>\d+)$"
)


async def test_every_kind_reads_statements_of_the_dataset(live_server, tmp_path: Path) -> None:
    written = tmp_path / "cred.json"
    loaded = await asyncio.to_thread(
        cli, ["bench", "dataset", *TINY, "--credentials", str(written)], live_server.env
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert json.loads(written.read_text(encoding="utf-8"))["shape"]["seed"] == 11
    args = ["bench", "query", "--url", live_server.url, "--dataset", str(written)]
    query = await asyncio.to_thread(cli, [*args, "--queries", "8"], live_server.env)
    assert query.returncode == 0, query.stdout + query.stderr
    found = {}
    for line in query.stdout.strip().splitlines():
        match = LINE.match(line)
        assert match, line
        found[match["kind"]] = match
    kinds = {"agent", "verb", "activity", "registration", "since", "related_activities"}
    assert kinds | {"first page", "more"} <= set(found)
    for kind in kinds:
        assert found[kind]["errors"] == "0"
        assert float(found[kind]["rows"]) > 0, f"{kind} probes found nothing: {query.stdout}"
    # 600 statements over 20 learners, 5 verbs, 60 activities, 500 registrations:
    # verb and parent-activity pages are full.
    assert float(found["verb"]["rows"]) == 50
    assert float(found["related_activities"]["rows"]) == 50
