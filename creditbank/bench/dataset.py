"""``creditbank bench dataset|balance|dashboard``: provincial volumes and what they cost.

``dataset`` generates, from a seed, N statements over L learners and I institutions
(default 1,000,000 / 100,000 / 200) and loads them into the configured database
(use a throwaway one):

- ``I`` accredited institutions, each with an LRS credential (``identity`` service);
- ``L`` learners, each with one account at a home institution, linked;
- ``N`` statements spread over the last ``--days`` days (``stored`` non-decreasing
  along ``seq``, as the LRS stamps them), with their filter keys, each by an
  institution about its own learner: li-na style verbs, courses, scores, durations,
  registrations and context activities;
- for about ``--outcomes`` of them (passed/completed, one per learner and unit; with
  ``--credit-attended`` attended too, as community, senior and training courses
  credit attendance), a recognised outcome dated when its statement was stored, and
  its ledger deposit through the ledger service (real hash chains, so ``ledger
  verify`` holds; the entries are posted now);
- at the end, the dashboard's rollups folded up to the end of the load, as the
  ``reporting.rollup`` job does once the load is older than its settling time (the
  load is the only writer: everything is committed).

Rows go in with ``COPY`` on PostgreSQL and batched INSERTs on SQLite; with
``--ingest`` the statements go through the LRS service instead (validation, keys,
one ``lrs.statement_stored`` job each, stored now; no outcomes). The same seed
gives the same institutions, learners and statements (ids included).

``balance`` opens a learner with E ledger entries (deposits through the ledger
service) and times reading her balance, now and as of the middle of her history.
``dashboard`` times the operator dashboard's aggregates (``creditbank/reporting``)
on whatever the database holds, each query and the whole.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from creditbank.bench.repository import BenchRepository
from creditbank.bench.runner import percentile
from creditbank.bench.statements import COURSES, VERBS, registration
from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.models import IdentityLink, InstitutionType, Learner
from creditbank.kit.progress import progress_bar
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.ledger.service import Deposit
from creditbank.lrs.keys import agent_key, key_hash, statement_keys
from creditbank.lrs.models import Statement
from creditbank.rules.models import Outcome, OutcomeStatus
from creditbank.rules.outcomes import deposit_of_row

#: Region codes of the dashboard's map (十堰 and its counties, 武汉, 黄石).
REGIONS = ("420100", "420200", "420302", "420303", "420304", "420322", "420323", "420325")
TYPES = (
    InstitutionType.VOCATIONAL,
    InstitutionType.COMMUNITY,
    InstitutionType.SENIOR,
    InstitutionType.MOOC,
    InstitutionType.DEGREE,
    InstitutionType.TRAINING,
)
CATEGORIES = ("vocational", "general", "community", "senior")
RECOGNISED_VERBS = frozenset({VERBS[0][0], VERBS[1][0]})  # passed, completed
ATTENDED = VERBS[2][0]
NAMESPACE = uuid.UUID("0b5e7d1c-14a0-4c2e-9d3b-6a1f00000014")
#: Statements generated and written per transaction.
CHUNK = 20_000


@dataclass(frozen=True)
class Shape:
    statements: int
    learners: int
    institutions: int
    seed: int
    outcomes: float
    days: int
    #: Verbs whose statements are credited (one outcome per learner and unit).
    credited: frozenset[str] = RECOGNISED_VERBS


@dataclass(frozen=True)
class School:
    key: str
    home_page: str
    type: str
    region: str


def machine() -> str:
    """One line about where the figures were taken."""
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return (
        f"machine: {platform.machine()} {platform.processor() or platform.system()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )


def schools(shape: Shape) -> list[School]:
    return [
        School(
            key=f"bench-{n:04d}",
            home_page=f"https://s{n:04d}.bench.example.edu.cn",
            type=str(TYPES[n % len(TYPES)]),
            region=REGIONS[n % len(REGIONS)],
        )
        for n in range(shape.institutions)
    ]


def learner_id(shape: Shape, n: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{shape.seed}:learner:{n}")


def account_name(n: int) -> str:
    return f"B{n:07d}"


class Generated(NamedTuple):
    """One statement: its learner's and institution's index, its body and its times."""

    learner: int
    school: int
    id: uuid.UUID
    registration: uuid.UUID
    body: dict[str, Any]
    stored: datetime
    timestamp: datetime


def statements(shape: Shape, start: datetime, end: datetime) -> Iterator[Generated]:
    """Every statement of the dataset, in ``stored`` order."""
    rng = random.Random(shape.seed)
    span = (end - start).total_seconds()
    step = span / max(shape.statements, 1)
    homes = schools(shape)
    registrations = [uuid.UUID(registration(n)) for n in range(500)]
    for n in range(shape.statements):
        who = rng.randrange(shape.learners)
        school = homes[who % shape.institutions]
        verb_id, zh, en = VERBS[rng.randrange(len(VERBS))]
        course = rng.randrange(len(COURSES) * 3)
        title = COURSES[course % len(COURSES)]
        scaled = rng.randrange(30, 101) / 100
        stored = start + timedelta(milliseconds=round(n * step * 1000))
        stored -= timedelta(microseconds=stored.microsecond % 1000)
        timestamp = stored - timedelta(seconds=rng.randrange(7 * 86400))
        activity = f"{school.home_page}/xapi/activities/course-{course:03d}"
        statement_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        registered = registrations[rng.randrange(500)]
        body = {
            "id": str(statement_id),
            "actor": {
                "objectType": "Agent",
                "name": f"学员{who % 10000:04d}",
                "account": {"homePage": school.home_page, "name": account_name(who)},
            },
            "verb": {"id": verb_id, "display": {"zh-CN": zh, "en-US": en}},
            "object": {
                "objectType": "Activity",
                "id": activity,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"zh-CN": title, "en-US": f"Course {course}"},
                },
            },
            "result": {
                "score": {"scaled": scaled},
                "success": scaled >= 0.6,
                "completion": True,
                "duration": f"PT{rng.randrange(1, 40)}H",
            },
            "context": {
                "registration": str(registered),
                "platform": school.key,
                "language": "zh-CN",
                "contextActivities": {
                    "parent": [
                        {"id": f"{school.home_page}/xapi/activities/programme-{course % 4}"}
                    ],
                },
            },
            "timestamp": isoformat_z(timestamp),
            "stored": isoformat_z(stored),
            "version": "1.0.0",
        }
        yield Generated(
            who, who % shape.institutions, statement_id, registered, body, stored, timestamp
        )


def _statement_row(seq: int, item: Generated, institution_id: uuid.UUID) -> dict[str, Any]:
    body = item.body
    return {
        "seq": seq,
        "id": item.id,
        "actor_key": agent_key(body["actor"]),
        "verb_id": body["verb"]["id"],
        "object_type": "Activity",
        "object_activity_id": body["object"]["id"],
        "object_statement_id": None,
        "registration": item.registration,
        "stored": item.stored,
        "timestamp": item.timestamp,
        "institution_id": institution_id,
        "credential_id": None,
        "voided": False,
        "is_voiding": False,
        "version": body["version"],
        "has_attachments": False,
        "body": body,
    }


def _outcome_row(
    learner: uuid.UUID, school: School, item: Generated, course: str
) -> dict[str, Any]:
    body = item.body
    digest = uuid.uuid5(NAMESPACE, body["id"])
    credits = Decimal(1 + digest.int % 4)
    return {
        "id": digest,
        "learner_id": learner,
        "unit_code": course,
        "unit_title_zh": body["object"]["definition"]["name"]["zh-CN"],
        "unit_title_en": body["object"]["definition"]["name"]["en-US"],
        "category": CATEGORIES[digest.int % len(CATEGORIES)],
        "level": 1 + digest.int % 5,
        "credits": credits,
        "unit_credits": credits,
        "score_scaled": str(body["result"]["score"]["scaled"]),
        "status": OutcomeStatus.ACTIVE.value,
        "statement_id": item.id,
        "statement_ids": [body["id"]],
        "institution_key": school.key,
        "rule_id": "bench",
        "rule_version": 1,
        "standards_id": "bench",
        "standards_version": "bench",
        "standards_hash": "0" * 64,
        "evaluation_id": uuid.uuid5(NAMESPACE, "evaluation:" + body["id"]),
        "trace": {"bench": True},
        "requires_review": False,
        "recognised_at": item.stored,
        "statement_timestamp": item.timestamp,
        "expires_at": None,
        "revoked_at": None,
        "revoked_reason": None,
        "superseded_by": None,
    }


@dataclass
class Loaded:
    statements: int = 0
    keys: int = 0
    outcomes: int = 0
    deposits: int = 0
    statements_seconds: float = 0.0
    ledger_seconds: float = 0.0
    setup_seconds: float = 0.0
    rollup_seconds: float = 0.0
    analyzed: list[str] = field(default_factory=list)
    #: Hears of each batch of statements written (the command line's progress bar).
    progress: Callable[[int], None] | None = field(default=None, repr=False, compare=False)

    def written(self, statements: int) -> None:
        self.statements += statements
        if self.progress is not None:
            self.progress(statements)


def _write_secret_file(path: Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


async def _setup(
    database: Database, settings: Settings, shape: Shape, credentials: Path | None = None
) -> tuple[dict[int, uuid.UUID], dict[int, tuple[str, str]]]:
    """Institutions (and one credential each) through the identity service; learners and
    their links as bulk rows. Returns institution ids and ``(key, secret)`` by index.

    ``credentials``: also issue a reader credential (``statements/read``, on the first
    institution) and write every key and secret there (mode 0600), for ``bench query``.
    """
    from creditbank.identity.service import identity

    ids: dict[int, uuid.UUID] = {}
    secrets: dict[int, tuple[str, str]] = {}
    homes = schools(shape)
    reader: tuple[str, str] | None = None
    async with database.session_scope() as session:
        for n, school in enumerate(homes):
            institution = await identity.create_institution(
                session,
                key=school.key,
                name_zh=f"基准机构{n:04d}",
                name_en=f"Bench institution {n}",
                type=school.type,
                home_pages=[school.home_page],
                accredited=True,
                region_code=school.region,
            )
            issued = await identity.issue_credential(session, institution, label="bench")
            ids[n] = institution.id
            secrets[n] = (issued.credential.key, issued.secret)
            if credentials is not None and n == 0:
                read = await identity.issue_credential(
                    session, institution, scopes=("statements/read",), label="bench reader"
                )
                reader = (read.credential.key, read.secret)
    if credentials is not None:
        document = {
            "reader": {"lrs_key": reader[0], "lrs_secret": reader[1]} if reader else None,
            # What regenerates the statements' actors, verbs and activities from the
            # seed (``bench query --dataset``).
            "shape": {
                "statements": shape.statements,
                "learners": shape.learners,
                "institutions": shape.institutions,
                "seed": shape.seed,
                "days": shape.days,
            },
            "institutions": [
                {
                    "key": school.key,
                    "home_page": school.home_page,
                    "lrs_key": key,
                    "lrs_secret": secret,
                }
                for school, (key, secret) in zip(homes, secrets.values(), strict=True)
            ],
        }
        _write_secret_file(credentials, json.dumps(document, indent=1))
    now = utc_now()
    for start in range(0, shape.learners, CHUNK):
        learners, links = [], []
        for n in range(start, min(start + CHUNK, shape.learners)):
            lid = learner_id(shape, n)
            school = homes[n % shape.institutions]
            learners.append(
                {
                    "id": lid,
                    "bank_id": f"CB9{shape.seed % 1000:03d}{n:08d}",
                    "name_enc": None,
                    "national_id_enc": None,
                    "national_id_index": None,
                    "phone_enc": None,
                    "email_enc": None,
                    "created_at": now,
                    "erased_at": None,
                }
            )
            links.append(
                {
                    "id": uuid.uuid5(NAMESPACE, f"{shape.seed}:link:{n}"),
                    "learner_id": lid,
                    "ifi": f"account:{school.home_page}|{account_name(n)}",
                    "kind": "account",
                    "institution_id": ids[n % shape.institutions],
                    "method": "operator",
                    "created_at": now,
                }
            )
        async with database.session_scope() as session:
            repo = BenchRepository.from_session(session)
            await repo.load(Learner.__table__, learners)  # type: ignore[arg-type]
            await repo.load(IdentityLink.__table__, links)  # type: ignore[arg-type]
    return ids, secrets


async def load_dataset(
    settings: Settings,
    shape: Shape,
    *,
    ingest: bool = False,
    batch: int = 100,
    credentials: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> Loaded:
    database = Database.from_settings(settings)
    loaded = Loaded(progress=progress)
    try:
        started = time.perf_counter()
        ids, secrets = await _setup(database, settings, shape, credentials)
        loaded.setup_seconds = time.perf_counter() - started
        started = time.perf_counter()
        if ingest:
            await _ingest(database, settings, shape, secrets, loaded, batch)
            loaded.statements_seconds = time.perf_counter() - started
            loaded.rollup_seconds = await _roll_up(database)
            return loaded
        async with database.read_scope() as session:
            seq, last_stored = await BenchRepository.from_session(session).head()
        end = utc_now()
        start = end - timedelta(days=shape.days)
        if last_stored is not None and last_stored > start:
            start = last_stored
        async with database.session_scope() as session:
            await BenchRepository.from_session(session).ensure_statement_partitions(start, end)
        homes = schools(shape)
        rng = random.Random(shape.seed ^ 0x14)
        credited: set[tuple[int, str]] = set()
        outcomes: list[dict[str, Any]] = []
        generator = statements(shape, start, end)
        while True:
            rows: list[dict[str, Any]] = []
            keys: list[tuple[int, int, bool, datetime]] = []
            for item in generator:
                who, school, body = item.learner, item.school, item.body
                seq += 1
                row = _statement_row(seq, item, ids[school])
                rows.append(row)
                keys.extend(
                    (key_hash(kind, value), seq, related, item.stored)
                    for kind, value, related in statement_keys(body).entries()
                )
                course = body["object"]["id"].rsplit("/", 1)[-1]
                if (
                    body["verb"]["id"] in shape.credited
                    and (who, course) not in credited
                    and rng.random() < shape.outcomes
                ):
                    credited.add((who, course))
                    outcomes.append(
                        _outcome_row(learner_id(shape, who), homes[school], item, course)
                    )
                if len(rows) >= CHUNK:
                    break
            if not rows:
                break
            async with database.session_scope() as session:
                repo = BenchRepository.from_session(session)
                await repo.load(Statement.__table__, rows)  # type: ignore[arg-type]
                await repo.load_keys(keys)
                await repo.load(Outcome.__table__, outcomes)  # type: ignore[arg-type]
            loaded.written(len(rows))
            loaded.keys += len(keys)
            loaded.outcomes += len(outcomes)
            await _deposit_all(database, outcomes, loaded, batch=1000)
            outcomes = []
        loaded.statements_seconds = time.perf_counter() - started - loaded.ledger_seconds
        loaded.rollup_seconds = await _roll_up(database)
        loaded.analyzed = await _analyze(database)
        return loaded
    finally:
        await database.dispose()


async def _roll_up(database: Database) -> float:
    """The dashboard's rollups up to now (``reporting.rollup`` with nothing left to settle)."""
    from creditbank.reporting.service import roll_up

    started = time.perf_counter()
    async with database.session_scope() as session:
        await roll_up(session, now=utc_now(), settle=timedelta(0))
    return time.perf_counter() - started


async def _analyze(database: Database) -> list[str]:
    """What the ``jobs.analyze_stale`` job does within ten minutes of a bulk load: fresh
    planner statistics for the tables the load changed."""
    from creditbank.jobs.service import jobs

    async with database.session_scope() as session:
        return await jobs.analyze_stale(session)


async def _deposit_all(
    database: Database, outcomes: list[dict[str, Any]], loaded: Loaded, *, batch: int
) -> None:
    from creditbank.ledger.service import ledger

    started = time.perf_counter()
    for start in range(0, len(outcomes), batch):
        async with database.session_scope() as session:
            entries = await ledger.deposit_many(
                session,
                [deposit_of_row(row, actor="bench") for row in outcomes[start : start + batch]],
            )
        loaded.deposits += len(entries)
    loaded.ledger_seconds += time.perf_counter() - started


async def _ingest(
    database: Database,
    settings: Settings,
    shape: Shape,
    secrets: dict[int, tuple[str, str]],
    loaded: Loaded,
    batch: int,
) -> None:
    """The statements through ``StatementService.store_statements``, ``batch`` a request."""
    from creditbank.identity.service import identity
    from creditbank.lrs.service import statements as statement_service

    end = utc_now()
    pending: dict[int, list[dict[str, Any]]] = {}

    async def flush(school: int) -> None:
        bodies = pending.pop(school, [])
        if not bodies:
            return
        async with database.session_scope() as session:
            principal = await identity.authenticate_basic(session, *secrets[school])
            await statement_service.store_statements(
                session, principal, bodies, version="1.0.3", settings=settings.lrs
            )
        loaded.written(len(bodies))

    for item in statements(shape, end - timedelta(days=shape.days), end):
        school, body = item.school, item.body
        del body["stored"], body["version"]
        pending.setdefault(school, []).append(body)
        if len(pending[school]) >= batch:
            await flush(school)
    for school in list(pending):
        await flush(school)


def _cmd_dataset(args: argparse.Namespace, settings: Settings) -> int:
    if args.migrate or (settings.is_sqlite and settings.auto_migrate):
        from creditbank.migrate import upgrade

        upgrade(settings.database_url)
    shape = Shape(
        statements=args.statements,
        learners=args.learners,
        institutions=args.institutions,
        seed=args.seed,
        outcomes=args.outcomes,
        days=args.days,
        credited=RECOGNISED_VERBS | {ATTENDED} if args.credit_attended else RECOGNISED_VERBS,
    )
    bar = progress_bar(args.progress)
    task = bar.add_task("数据集 statements", total=shape.statements)
    cpu = time.process_time()
    with bar:
        loaded = asyncio.run(
            load_dataset(
                settings,
                shape,
                ingest=args.ingest,
                batch=args.batch,
                credentials=args.credentials,
                progress=lambda n: bar.advance(task, n),
            )
        )
    cpu = time.process_time() - cpu
    how = (
        f"through the LRS service, batches of {args.batch}"
        if args.ingest
        else ("COPY" if not settings.is_sqlite else "batched INSERTs")
    )
    rows = loaded.statements + loaded.keys + loaded.outcomes
    seconds = loaded.statements_seconds
    print(
        f"dataset setup: {shape.institutions} institutions, {shape.learners} learners "
        f"(with links) in {loaded.setup_seconds:.2f} s"
    )
    print(
        f"dataset statements: {loaded.statements} statements ({loaded.keys} filter keys, "
        f"{loaded.outcomes} outcomes) in {seconds:.2f} s = "
        f"{loaded.statements / seconds if seconds else 0:.0f} statements/s, "
        f"{rows / seconds if seconds else 0:.0f} rows/s ({how}, {_dialect(settings)})"
    )
    if loaded.deposits:
        print(
            f"dataset ledger: {loaded.deposits} deposits in {loaded.ledger_seconds:.2f} s = "
            f"{loaded.deposits / loaded.ledger_seconds:.0f} deposits/s (ledger service)"
        )
    print(f"dataset rollups: folded in {loaded.rollup_seconds:.2f} s (reporting.rollup)")
    if loaded.analyzed:
        print(f"dataset analyzed (as jobs.analyze_stale would): {', '.join(loaded.analyzed)}")
    print(f"dataset cpu: {cpu:.1f} s of this process")
    print(machine())
    return 0


# -- balance --------------------------------------------------------------------------


async def run_balance(settings: Settings, *, entries: int, reads: int) -> dict[str, Any]:
    from creditbank.identity.service import identity
    from creditbank.identity.tokens import keyring_for
    from creditbank.ledger.service import ledger

    database = Database.from_settings(settings)
    try:
        async with database.session_scope() as session:
            learner = await identity.create_learner(
                session, "bench", keyring=keyring_for(settings), name="基准学员"
            )
        started = time.perf_counter()
        middle: datetime | None = None
        for start in range(0, entries, 500):
            deposits = [
                Deposit(
                    learner_id=learner.id,
                    outcome_id=uuid.uuid4(),
                    amount=Decimal("0.5"),
                    category=CATEGORIES[n % len(CATEGORIES)],
                    level=1 + n % 5,
                    unit_code=f"BENCH-{n:06d}",
                    rule_id="bench",
                    rule_version="1",
                    standards_version="bench",
                    statement_ids=[],
                    actor="bench",
                    idempotency_key=f"bench-balance:{learner.id}:{n}",
                )
                for n in range(start, min(start + 500, entries))
            ]
            async with database.session_scope() as session:
                await ledger.deposit_many(session, deposits)
            if middle is None and start + 500 >= entries // 2:
                middle = utc_now()
        posting = time.perf_counter() - started

        async def timed(as_of: datetime | None) -> tuple[list[float], Decimal]:
            times: list[float] = []
            banked = Decimal(0)
            for _ in range(reads):
                begun = time.perf_counter()
                async with database.read_scope() as session:
                    banked = (await ledger.balances(session, learner.id, as_of=as_of)).banked
                times.append((time.perf_counter() - begun) * 1000)
            return times, banked

        now, banked = await timed(None)
        past, banked_then = await timed(middle)
        return {
            "entries": entries,
            "posting": posting,
            "now": now,
            "past": past,
            "banked": banked,
            "banked_then": banked_then,
        }
    finally:
        await database.dispose()


def _cmd_balance(args: argparse.Namespace, settings: Settings) -> int:
    if args.migrate or (settings.is_sqlite and settings.auto_migrate):
        from creditbank.migrate import upgrade

        upgrade(settings.database_url)
    result = asyncio.run(run_balance(settings, entries=args.entries, reads=args.reads))
    print(
        f"balance setup: {result['entries']} ledger entries posted in {result['posting']:.2f} s "
        f"(banked {result['banked']})"
    )
    for label, key, banked in (
        ("now", "now", result["banked"]),
        ("as of mid-history", "past", result["banked_then"]),
    ):
        times = result[key]
        print(
            f"balance {label}: n {len(times)} p50 {percentile(times, 0.5):.2f} ms "
            f"p95 {percentile(times, 0.95):.2f} ms (banked {banked}, {_dialect(settings)})"
        )
    print(machine())
    return 0


# -- dashboard ------------------------------------------------------------------------


async def run_dashboard(settings: Settings, *, runs: int) -> dict[str, list[float]]:
    from creditbank.identity.principal import Principal
    from creditbank.reporting.service import reporting

    operator = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"operator"}))
    database = Database.from_settings(settings)
    timings: dict[str, list[float]] = {}
    try:
        now = utc_now()
        parts = _dashboard_parts(now)
        for _ in range(runs):
            async with database.read_scope() as session:
                for name, call in parts.items():
                    begun = time.perf_counter()
                    await call(session)
                    timings.setdefault(name, []).append((time.perf_counter() - begun) * 1000)
                begun = time.perf_counter()
                await reporting.dashboard(session, operator, now=now)
                timings.setdefault("whole dashboard", []).append(
                    (time.perf_counter() - begun) * 1000
                )
        return timings
    finally:
        await database.dispose()


def _dashboard_parts(now: datetime) -> dict[str, Callable[[Any], Any]]:
    """Each aggregate of the dashboard over its window (12 months, 30 days), as the
    dashboard computes it (rollups plus the live rows since their watermark)."""
    from creditbank.reporting import service
    from creditbank.reporting.repository import ReportingRepository

    first = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    since_month = first
    for _ in range(11):
        since_month = (since_month - timedelta(days=1)).replace(day=1)
    since_day = (now - timedelta(days=29)).replace(hour=0, minute=0, second=0, microsecond=0)

    def part(name: str, since: datetime) -> Callable[[Any], Any]:
        return lambda session: getattr(ReportingRepository.from_session(session), name)(since)

    def rolled(name: str, since: datetime) -> Callable[[Any], Any]:
        return lambda session: getattr(service, name)(session, since)

    return {
        "recognised": rolled("recognised", since_month),
        "converted": part("converted", since_month),
        "decisions": part("decisions", since_month),
        "learners_active": rolled("learners_active", since_month),
        "statements_per_day": rolled("statements_per_day", since_day),
    }


def _cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    timings = asyncio.run(run_dashboard(settings, runs=args.runs))
    for name, times in timings.items():
        print(
            f"dashboard {name}: n {len(times)} p50 {percentile(times, 0.5):.1f} ms "
            f"p95 {percentile(times, 0.95):.1f} ms"
        )
    print(f"dashboard database: {_dialect(settings)}")
    print(machine())
    return 0


def _dialect(settings: Settings) -> str:
    return "SQLite" if settings.is_sqlite else "PostgreSQL"
