"""``creditbank bench rules``: statements per second through recognition and accumulation.

Against the configured database (use a throwaway one): loads the demo
institutions and standards, opens ``--learners`` learners with linked accounts,
stores ``--statements`` statements through the LRS service (which enqueues one
``lrs.statement_stored`` job each) while no worker runs, then starts N
``creditbank worker`` processes and times them draining the queue. ``--unlinked
SHARE`` sends that share of the statements from accounts linked to no learner (held
until the link, with a preview evaluation each). Throughput is
every job over the span from the first claim to the last job finished (process
start-up excluded). The first claim is read from the lease the claim wrote
(``locked_until`` less the lease); should the poll miss it, only the jobs finished
after the first commit count, over the span from that commit. Counting every job
from the first finish instead would leave the first committed batch's work (up to
``worker.batch_size`` jobs) outside the span. Each run uses new learners, so runs
are comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.jobs.models import Job, JobStatus

PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
JOB = "lrs.statement_stored"

#: (institution, verb, activity, result maker) of the demo catalog.
KINDS: tuple[tuple[str, str, str, str], ...] = (
    ("fxvs", PASSED, "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment", "score"),
    ("mooc1", COMPLETED, "https://mooc1.example.cn/courses/python", "success"),
    ("mooc1", COMPLETED, "https://mooc1.example.cn/courses/data-structures", "success"),
    ("fxcc", ATTENDED, "https://fxcc.example.edu.cn/courses/first-aid-16h", "hours"),
    ("syu3a", COMPLETED, "https://syu3a.example.edu.cn/courses/calligraphy", "hours"),
)


@dataclass(frozen=True)
class RunResult:
    workers: int
    statements: int
    seconds: float
    recognised: int
    #: "first claim" (every job counted) or "first commit" (the jobs after it).
    since: str = "first claim"

    @property
    def per_second(self) -> float:
        return self.statements / self.seconds if self.seconds > 0 else 0.0


def _result(kind: str, rng: random.Random) -> dict[str, Any]:
    scaled = round(rng.uniform(0.45, 0.99), 2)
    if kind == "score":
        return {"score": {"scaled": scaled}}
    if kind == "success":
        return {"success": True, "score": {"scaled": scaled}}
    return {"duration": f"PT{rng.choice([8, 16, 20, 32])}H"}


async def prepare(
    settings: Settings,
    *,
    learners: int,
    statements: int,
    batch: int,
    seed: int,
    unlinked: float = 0.0,
) -> int:
    """Learners, links and stored statements (jobs enqueued); returns the last job id before."""
    from creditbank.demo import load_demo
    from creditbank.identity.service import identity
    from creditbank.identity.tokens import keyring_for
    from creditbank.lrs.service import statements as statement_service

    rng = random.Random(seed)
    database = Database.from_settings(settings)
    run = uuid.uuid4().hex[:8]
    try:
        async with database.session_scope() as session:
            demo = await load_demo(session, settings)
            before = (await session.execute(select(func.max(Job.id)))).scalar() or 0
        keyring = keyring_for(settings)
        homes = {key: item["home_page"] for key, item in demo["institutions"].items()}
        accounts: list[dict[str, dict[str, Any]]] = []
        async with database.session_scope() as session:
            for n in range(learners):
                learner = await identity.create_learner(
                    session, "bench", keyring=keyring, name=f"学员{run}{n:05d}"
                )
                mine: dict[str, dict[str, Any]] = {}
                for key in ("fxvs", "mooc1", "fxcc", "syu3a"):
                    agent = {"account": {"homePage": homes[key], "name": f"{run}-{n}"}}
                    await identity.link_by_operator(
                        session, "bench", learner, agent=agent, process_waiting=False
                    )
                    mine[key] = {"objectType": "Agent", **agent}
                accounts.append(mine)
        by_institution: dict[str, list[dict[str, Any]]] = {}
        for _ in range(statements):
            key, verb, activity, kind = rng.choice(KINDS)
            if unlinked and rng.random() < unlinked:
                # An account nobody has linked yet: the statement is held.
                name = f"{run}-unlinked-{rng.randrange(max(learners, 1))}"
                actor = {"objectType": "Agent", "account": {"homePage": homes[key], "name": name}}
            else:
                actor = rng.choice(accounts)[key]
            by_institution.setdefault(key, []).append(
                {
                    "id": str(uuid.uuid4()),
                    "actor": actor,
                    "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
                    "object": {"objectType": "Activity", "id": activity},
                    "result": _result(kind, rng),
                }
            )
        for key, bodies in by_institution.items():
            item = demo["institutions"][key]
            for start in range(0, len(bodies), batch):
                async with database.session_scope() as session:
                    principal = await identity.authenticate_basic(
                        session, item["lrs_key"], item["lrs_secret"]
                    )
                    await statement_service.store_statements(
                        session,
                        principal,
                        bodies[start : start + batch],
                        version="1.0.3",
                        settings=settings.lrs,
                    )
        return int(before)
    finally:
        await database.dispose()


async def _progress(
    settings: Settings, after: int
) -> tuple[int, int, datetime | None, datetime | None]:
    database = Database.from_settings(settings)
    try:
        async with database.read_scope() as session:
            open_ = (
                await session.execute(
                    select(func.count()).where(
                        Job.id > after,
                        Job.name == JOB,
                        Job.status.in_([JobStatus.PENDING.value, JobStatus.RUNNING.value]),
                    )
                )
            ).scalar_one()
            done, first, last = (
                await session.execute(
                    select(
                        func.count(), func.min(Job.finished_at), func.max(Job.finished_at)
                    ).where(Job.id > after, Job.name == JOB, Job.status == JobStatus.DONE.value)
                )
            ).one()
            return int(open_), int(done), first, last
    finally:
        await database.dispose()


async def _first_claim(settings: Settings, after: int, *, deadline: float) -> datetime | None:
    """When the first job was claimed: the earliest lease of a running job less the
    lease, seen before any job finished (None if one finished first, or at the deadline).
    """
    database = Database.from_settings(settings)
    lease = timedelta(seconds=settings.worker.lease_seconds)
    mine = (Job.id > after, Job.name == JOB)
    try:
        while time.monotonic() < deadline:
            async with database.read_scope() as session:
                leased, done = (
                    await session.execute(
                        select(
                            func.min(Job.locked_until).filter(
                                Job.status == JobStatus.RUNNING.value
                            ),
                            func.count().filter(Job.status == JobStatus.DONE.value),
                        ).where(*mine)
                    )
                ).one()
            if done:
                return None
            if leased is not None:
                return leased - lease
            await asyncio.sleep(0.01)
        return None
    finally:
        await database.dispose()


async def _finished_after(settings: Settings, after: int, moment: datetime) -> int:
    database = Database.from_settings(settings)
    try:
        async with database.read_scope() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).where(
                            Job.id > after,
                            Job.name == JOB,
                            Job.status == JobStatus.DONE.value,
                            Job.finished_at > moment,
                        )
                    )
                ).scalar_one()
            )
    finally:
        await database.dispose()


async def _recognised(settings: Settings, after_time: datetime) -> int:
    from creditbank.rules.models import Outcome

    database = Database.from_settings(settings)
    try:
        async with database.read_scope() as session:
            return int(
                (
                    await session.execute(
                        select(func.count()).where(Outcome.recognised_at >= after_time)
                    )
                ).scalar_one()
            )
    finally:
        await database.dispose()


def run_once(settings: Settings, args: argparse.Namespace, workers: int) -> RunResult:
    after = asyncio.run(
        prepare(
            settings,
            learners=args.learners,
            statements=args.statements,
            batch=args.batch,
            seed=args.seed + workers,
            unlinked=args.unlinked,
        )
    )
    env = {
        **os.environ,
        "CREDITBANK_DATABASE_URL": settings.database_url,
        "CREDITBANK_LOG_LEVEL": "WARNING",
        "CREDITBANK_WORKER__POLL_INTERVAL_SECONDS": "0.05",
    }
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "creditbank.cli", "worker"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + args.timeout
        claimed = asyncio.run(_first_claim(settings, after, deadline=deadline))
        while time.monotonic() < deadline:
            open_, done, first, last = asyncio.run(_progress(settings, after))
            if open_ == 0 and done > 0:
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"workers did not drain the queue within {args.timeout} s")
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    if first is None or last is None:
        raise RuntimeError("no job finished")
    recognised = asyncio.run(_recognised(settings, claimed or first))
    if claimed is not None:
        # Every job was claimed and finished within [first claim, last finish].
        return RunResult(workers, done, (last - claimed).total_seconds(), recognised)
    # The first commit's jobs were worked on before it: count only those after.
    counted = asyncio.run(_finished_after(settings, after, first))
    return RunResult(
        workers, counted, (last - first).total_seconds(), recognised, since="first commit"
    )


def _cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    if settings.is_sqlite and not args.allow_sqlite:
        print(
            "creditbank bench rules measures PostgreSQL workers; set CREDITBANK_DATABASE_URL "
            "to a throwaway PostgreSQL database (or pass --allow-sqlite)",
            file=sys.stderr,
        )
        return 2
    if settings.is_sqlite or args.migrate:
        from creditbank.migrate import upgrade

        upgrade(settings.database_url)
    if not 0.0 <= args.unlinked <= 1.0:
        print("--unlinked is a share between 0 and 1", file=sys.stderr)
        return 2
    for workers in [int(w) for w in args.workers.split(",")]:
        result = run_once(settings, args, workers)
        print(
            f"rules workers {result.workers}: {result.statements} statements in "
            f"{result.seconds:.2f} s since the {result.since} = "
            f"{result.per_second:.0f} statements/s ({result.recognised} outcomes credited"
            + (f"; {args.unlinked:.0%} from unlinked accounts, held)" if args.unlinked else ")")
        )
    return 0
