"""B2: the same import file committed several times at once, over HTTP (the ASGI app),
on both databases (issue 13).

Two ways one file can be stored twice:

- the same preview committed by several requests at once (a double click, a retried
  request) — ``POST …/imports/{id}/commit`` × 4;
- the same file previewed several times and each preview committed, all at once (two
  clerks uploading the same grade sheet) — (``POST …/imports`` then its commit) × 3,
  the previews and commits interleaving.

Either way every row is stored exactly once under its deterministic statement id
(the ids the file itself gives, read back from the database); every answer is a 2xx
or a 409 with a code, never a 5xx; the commits' ``created`` add up to the rows, each
commit accounts for every row (``created + unchanged``), and there is exactly one
``lrs.statement_stored`` job per stored statement — so recognition runs once per row.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter

import httpx
from sqlalchemy import text

from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.imports.mapping import parse_mapping
from creditbank.imports.service import imports
from tests.hostile.conftest import Demo
from tests.imports.files import MAPPING, csv_bytes

BASE = "/api/v1/institutions/fxvs/imports"
ROWS = 120
COMMITS = 4
UPLOADS = 3


def _rows(tag: str) -> list[list[str]]:
    return [
        [
            f"{tag}{n:04d}",
            "ELEC4" if n % 2 else "WELD1",
            "通过",
            str(60 + n % 40),
            "8",
            "2024-05-06",
        ]
        for n in range(ROWS)
    ]


async def _preview(client: httpx.AsyncClient, demo: Demo, content: bytes) -> httpx.Response:
    return await client.post(
        BASE,
        files={
            "file": ("grades.csv", content, "text/csv"),
            "mapping": ("mapping.yaml", MAPPING.encode(), "application/yaml"),
        },
        auth=demo.basic("fxvs"),
    )


async def _commit(client: httpx.AsyncClient, demo: Demo, import_id: str) -> httpx.Response:
    return await client.post(f"{BASE}/{import_id}/commit", auth=demo.basic("fxvs"))


async def _expected_ids(db: Database, content: bytes) -> set[str]:
    """The statement ids the file gives (the pure analysis; no database writes)."""
    async with db.read_scope() as session:
        fxvs = await identity.get_institution(session, "fxvs")
        analysis = imports.analyse(
            fxvs, filename="grades.csv", content=content, mapping=parse_mapping(MAPPING)
        )
    assert not analysis.errors
    return {str(item.id) for item in analysis.statements}


async def _stored(db: Database) -> tuple[Counter[str], Counter[str]]:
    """Stored statement ids and ``lrs.statement_stored`` jobs per statement id."""
    async with db.read_scope() as session:
        ids = (await session.execute(text("SELECT id FROM lrs_statements"))).scalars().all()
        payloads = (
            await session.execute(
                text("SELECT payload FROM jobs WHERE name = 'lrs.statement_stored'")
            )
        ).scalars()
        jobs = Counter(
            (p if isinstance(p, dict) else json.loads(p))["statement_id"] for p in payloads
        )
    return Counter(str(uuid.UUID(str(i))) for i in ids), jobs


def _no_server_errors(answers: list[httpx.Response]) -> None:
    for r in answers:
        assert r.status_code < 500, r.text
        if r.status_code >= 400:
            assert r.status_code == 409, r.text
            assert r.json()["error"], r.text


def _assert_stored_once(stored: Counter[str], jobs: Counter[str], expected: set[str]) -> None:
    assert set(stored) == expected, (len(stored), len(expected))
    assert all(n == 1 for n in stored.values())
    assert jobs == Counter(dict.fromkeys(expected, 1)), "a stored row without its job, or twice"


async def test_one_preview_committed_four_times_at_once(
    client: httpx.AsyncClient, db: Database, demo: Demo
) -> None:
    content = csv_bytes(_rows("C"))
    preview = await _preview(client, demo, content)
    assert preview.status_code == 201, preview.text
    assert preview.json()["new"] == ROWS

    answers = await asyncio.gather(
        *(_commit(client, demo, preview.json()["id"]) for _ in range(COMMITS))
    )
    _no_server_errors(answers)
    committed = [r.json() for r in answers if r.status_code == 200]
    assert committed, [r.text for r in answers]
    # Every 200 is the one commit's result: the rows were stored once.
    for body in committed:
        assert body["status"] == "committed"
        assert body["result"] == {
            "created": ROWS,
            "unchanged": 0,
            "conflicts": 0,
            "duplicate_rows": 0,
        }
    stored, jobs = await _stored(db)
    _assert_stored_once(stored, jobs, await _expected_ids(db, content))


async def test_the_same_file_previewed_and_committed_three_times_at_once(
    client: httpx.AsyncClient, db: Database, demo: Demo
) -> None:
    content = csv_bytes(_rows("P"))

    async def upload_and_commit() -> tuple[httpx.Response, httpx.Response | None]:
        preview = await _preview(client, demo, content)
        if preview.status_code != 201:
            return preview, None
        return preview, await _commit(client, demo, preview.json()["id"])

    runs = await asyncio.gather(*(upload_and_commit() for _ in range(UPLOADS)))
    previews = [p for p, _ in runs]
    commits = [c for _, c in runs if c is not None]
    _no_server_errors(previews + commits)
    assert all(p.status_code == 201 for p in previews), [p.text for p in previews]
    results = [c.json()["result"] for c in commits if c.status_code == 200]
    # Whoever came first created the rows; the others found them there, unchanged.
    assert sum(r["created"] for r in results) == ROWS, results
    for r in results:
        assert r["created"] + r["unchanged"] == ROWS, r
        assert r["conflicts"] == 0, r
    # A loser may only have been refused with a 409; none was here.
    assert len(results) + sum(1 for c in commits if c.status_code == 409) == UPLOADS

    stored, jobs = await _stored(db)
    _assert_stored_once(stored, jobs, await _expected_ids(db, content))

    # A fourth, later upload of the file: nothing new, every row unchanged.
    late = await _preview(client, demo, content)
    assert late.status_code == 201
    assert (late.json()["new"], late.json()["unchanged"]) == (0, ROWS)
    done = await _commit(client, demo, late.json()["id"])
    assert done.json()["result"]["created"] == 0
    assert (await _stored(db)) == (stored, jobs)
