"""``creditbank bench dataset|balance|dashboard`` on a tiny dataset: each command runs
against the test database and prints its figures (the shape of the lines, never the
timings); the dataset is what the seed says and the ledger it wrote verifies."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from creditbank.bench.dataset import Shape, statements
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.kit.time import isoformat_z
from creditbank.lrs.models import Statement, StatementKey
from creditbank.rules.models import Outcome
from tests.acceptance.li_na import cli, cli_env

TINY = ["--statements", "400", "--learners", "40", "--institutions", "3", "--seed", "5"]
DATASET = re.compile(
    r"^dataset statements: 400 statements \(\d+ filter keys, \d+ outcomes\) in [\d.]+ s = "
    r"\d+ statements/s, \d+ rows/s \((COPY|batched INSERTs), (PostgreSQL|SQLite)\)$",
    re.MULTILINE,
)
MACHINE = re.compile(r"^machine: .+, \d+ CPUs, Python [\d.]+, load average [\d.]+ ", re.MULTILINE)


def _bench(args: list[str], env: dict[str, str]) -> str:
    result = cli(["bench", *args], env)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_seed_decides_the_dataset() -> None:
    shape = Shape(statements=50, learners=7, institutions=2, seed=3, outcomes=0.5, days=30)
    end = datetime(2026, 12, 1, tzinfo=UTC)
    first = list(statements(shape, end - timedelta(days=30), end))
    again = list(statements(shape, end - timedelta(days=30), end))
    other = list(statements(Shape(50, 7, 2, 4, 0.5, 30), end - timedelta(days=30), end))
    assert first == again
    assert [g.body["id"] for g in first] != [g.body["id"] for g in other]
    assert {g.learner for g in first} <= set(range(7))
    stored = [g.stored for g in first]
    assert stored == sorted(stored), "stored must not decrease along seq"
    for g in first:
        assert g.body["stored"] == isoformat_z(g.stored)
        assert g.stored.microsecond % 1000 == 0
        # Every statement is its learner's home institution's: it may send only its own.
        assert g.school == g.learner % 2
        assert g.body["actor"]["account"]["homePage"].startswith(f"https://s{g.school:04d}.")


async def test_dataset_loads_and_prints_rows_per_second(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    secrets = tmp_path / "credentials.json"
    out = _bench(["dataset", *TINY, "--credentials", str(secrets)], env)
    assert DATASET.search(out), out
    assert secrets.stat().st_mode & 0o777 == 0o600
    written = json.loads(secrets.read_text(encoding="utf-8"))
    assert [item["key"] for item in written["institutions"]] == [
        "bench-0000",
        "bench-0001",
        "bench-0002",
    ]
    assert re.search(r"^dataset setup: 3 institutions, 40 learners", out, re.MULTILINE), out
    assert re.search(r"^dataset ledger: \d+ deposits in [\d.]+ s = \d+ deposits/s", out, re.M)
    assert MACHINE.search(out), out
    async with db.read_scope() as session:
        count = (await session.execute(select(func.count()).select_from(Statement))).scalar()
        keys = (await session.execute(select(func.count()).select_from(StatementKey))).scalar()
        outcomes = (await session.execute(select(func.count()).select_from(Outcome))).scalar()
    assert count == 400
    assert keys
    assert keys >= 400 * 5
    assert outcomes
    assert f"{outcomes} outcomes" in out
    async with db.session_scope() as session:
        reader = await identity.authenticate_basic(
            session, written["reader"]["lrs_key"], written["reader"]["lrs_secret"]
        )
        sender = await identity.authenticate_basic(
            session, written["institutions"][1]["lrs_key"], written["institutions"][1]["lrs_secret"]
        )
    assert reader.has_scope("statements/read")
    assert sender.institution_key == "bench-0001"
    verified = cli(["ledger", "verify"], env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The loaded statements are read like any others.
    dashboard = _bench(["dashboard", "--runs", "2"], env)
    for part in ("recognised", "converted", "decisions", "learners_active", "statements_per_day"):
        assert re.search(rf"^dashboard {part}: n 2 p50 [\d.]+ ms p95 [\d.]+ ms$", dashboard, re.M)
    assert re.search(r"^dashboard whole dashboard: n 2 p50 [\d.]+ ms", dashboard, re.M)
    assert MACHINE.search(dashboard), dashboard


async def test_dataset_through_the_ingest_path(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    out = _bench(["dataset", *TINY, "--ingest", "--batch", "50"], env)
    assert re.search(
        r"^dataset statements: 400 statements .* statements/s, \d+ rows/s "
        r"\(through the LRS service, batches of 50",
        out,
        re.M,
    ), out
    async with db.read_scope() as session:
        count = (await session.execute(select(func.count()).select_from(Statement))).scalar()
    assert count == 400


async def test_balance_prints_percentiles(settings: Settings, db: Database, tmp_path: Path) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    out = _bench(["balance", "--entries", "120", "--reads", "5"], env)
    assert re.search(
        r"^balance setup: 120 ledger entries posted in [\d.]+ s \(banked 60", out, re.M
    )
    assert re.search(r"^balance now: n 5 p50 [\d.]+ ms p95 [\d.]+ ms \(banked 60", out, re.M), out
    assert re.search(r"^balance as of mid-history: n 5 p50 [\d.]+ ms p95 [\d.]+ ms", out, re.M)
    assert MACHINE.search(out), out
