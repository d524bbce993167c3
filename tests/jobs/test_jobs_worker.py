"""The job table and the worker: leases, retries with backoff, dead letters, replay."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.principal import Principal
from creditbank.jobs.context import PermanentJobError, TaskContext
from creditbank.jobs.models import Job, JobStatus
from creditbank.jobs.service import backoff
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit.time import utc_now
from workers import scheduler
from workers.registry import Registry
from workers.runner import Worker

OPERATOR = Principal(kind="user", roles=frozenset({"operator"}), label="ops")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


async def _enqueue(db: Database, name: str, payloads: list[dict[str, Any]]) -> None:
    async with db.session_scope() as session:
        await jobs_service.enqueue_many(session, name, payloads)


async def _jobs(db: Database) -> list[Job]:
    async with db.read_scope() as session:
        rows = list((await session.execute(select(Job).order_by(Job.id))).scalars())
        session.expunge_all()
        return rows


def _worker(db: Database, settings: Settings, handlers: dict[str, Any], **kw: Any) -> Worker:
    return Worker(db, settings, registry=Registry(entries={}, handlers=handlers), schedule=(), **kw)


class TestClaim:
    async def test_a_lease_hides_the_job_until_it_runs_out(self, db: Database) -> None:
        await _enqueue(db, "t.x", [{"n": 1}, {"n": 2}])
        async with db.session_scope() as session:
            first = await jobs_service.claim(
                session, worker_id="a", limit=10, lease=timedelta(seconds=30)
            )
        assert [j.payload["n"] for j in first] == [1, 2]
        assert all(j.attempts == 1 for j in first)
        async with db.session_scope() as session:
            again = await jobs_service.claim(
                session, worker_id="b", limit=10, lease=timedelta(seconds=30)
            )
        assert again == []
        # The first worker died: after the lease another one takes the jobs over.
        later = utc_now() + timedelta(seconds=31)
        async with db.session_scope() as session:
            taken = await jobs_service.claim(
                session, worker_id="b", limit=10, lease=timedelta(seconds=30), now=later
            )
        assert [j.attempts for j in taken] == [2, 2]
        rows = await _jobs(db)
        assert {r.locked_by for r in rows} == {"b"}

    async def test_an_expired_lease_on_the_last_attempt_is_a_dead_letter(
        self, db: Database
    ) -> None:
        await _enqueue(db, "t.x", [{}])
        async with db.session_scope() as session:
            (job,) = await jobs_service.claim(
                session, worker_id="a", limit=1, lease=timedelta(seconds=1)
            )
            row = await jobs_service.get(session, OPERATOR, job.id)
            row.attempts = row.max_attempts
        async with db.session_scope() as session:
            taken = await jobs_service.claim(
                session,
                worker_id="b",
                limit=1,
                lease=timedelta(seconds=1),
                now=utc_now() + timedelta(seconds=5),
            )
        assert taken == []
        (row,) = await _jobs(db)
        assert row.status == JobStatus.DEAD
        assert "lease expired" in (row.last_error or "")

    async def test_concurrent_claims_take_disjoint_jobs(self, db: Database) -> None:
        await _enqueue(db, "t.x", [{"n": n} for n in range(40)])

        async def claim(worker_id: str) -> list[int]:
            async with db.session_scope() as session:
                got = await jobs_service.claim(
                    session, worker_id=worker_id, limit=15, lease=timedelta(seconds=30)
                )
                await asyncio.sleep(0.05)  # hold the row locks a while
                return [j.id for j in got]

        results = await asyncio.gather(*(claim(f"w{i}") for i in range(3)))
        ids = [i for r in results for i in r]
        assert len(ids) == len(set(ids)) == 40

    async def test_jobs_of_an_affinity_another_worker_runs_wait_for_it(self, db: Database) -> None:
        async with db.session_scope() as session:
            await jobs_service.enqueue_many(
                session,
                "t.x",
                [{"n": n} for n in range(5)],
                affinities=["a", "b", "a", None, "c"],
            )
        lease = timedelta(seconds=30)
        async with db.session_scope() as session:
            first = await jobs_service.claim(session, worker_id="w1", limit=2, lease=lease)
        assert [j.payload["n"] for j in first] == [0, 1]
        async with db.session_scope() as session:
            second = await jobs_service.claim(session, worker_id="w2", limit=10, lease=lease)
        if db.dialect != "postgresql":
            # SQLite has one worker: affinity keeps nothing apart.
            assert [j.payload["n"] for j in second] == [2, 3, 4]
            return
        # 2 has w1's running affinity "a": left for later; no affinity, or a free one, go.
        assert [j.payload["n"] for j in second] == [3, 4]
        async with db.session_scope() as session:
            await jobs_service.complete_many(session, [j.id for j in first])
        async with db.session_scope() as session:
            third = await jobs_service.claim(session, worker_id="w2", limit=10, lease=lease)
        assert [j.payload["n"] for j in third] == [2]
        # A lease that ran out keeps nothing apart (its worker is gone).
        await _enqueue(db, "t.x", [{"n": 9}])
        async with db.session_scope() as session:
            await jobs_service.enqueue_many(session, "t.x", [{"n": 5}], affinities=["c"])
        async with db.session_scope() as session:
            later = await jobs_service.claim(
                session,
                worker_id="w3",
                limit=10,
                lease=lease,
                now=utc_now() + timedelta(seconds=31),
            )
        assert sorted(j.payload["n"] for j in later) == [2, 3, 4, 5, 9]


class TestRetries:
    def test_backoff_doubles_and_is_capped(self) -> None:
        assert [backoff(n, 2.0).total_seconds() for n in (1, 2, 3, 4)] == [2, 4, 8, 16]
        assert backoff(40, 2.0) == timedelta(hours=1)

    async def test_failures_retry_with_backoff_then_dead_letter_then_replay(
        self, db: Database, settings: Settings
    ) -> None:
        calls: list[int] = []

        async def flaky(ctx: TaskContext, payload: dict[str, Any]) -> None:
            calls.append(ctx.attempt)
            raise RuntimeError(f"boom {ctx.attempt}")

        worker = _worker(db, settings, {"t.flaky": flaky})
        async with db.session_scope() as session:
            await jobs_service.enqueue(session, "t.flaky", {})
            (row,) = (await session.execute(select(Job))).scalars()
            row.max_attempts = 3
        before = utc_now()
        assert await worker.run_once() == 1
        (row,) = await _jobs(db)
        assert row.status == JobStatus.PENDING
        assert "boom 1" in (row.last_error or "")
        assert row.run_at >= before + timedelta(seconds=settings.worker.backoff_base_seconds)
        # Not due yet: nothing runs.
        assert await worker.run_once() == 0
        for attempt in (2, 3):
            async with db.session_scope() as session:
                job = await jobs_service.get(session, OPERATOR, row.id)
                job.run_at = utc_now() - timedelta(seconds=1)
            assert await worker.run_once() == 1
            (row,) = await _jobs(db)
            if attempt == 2:
                assert row.run_at >= utc_now() + timedelta(seconds=3)
        assert calls == [1, 2, 3]
        assert row.status == JobStatus.DEAD
        assert "boom 3" in (row.last_error or "")

        async with db.read_scope() as session:
            dead = await jobs_service.dead_letters(session, OPERATOR)
            session.expunge_all()
        assert [d.id for d in dead] == [row.id]

        # Fixed: the operator replays it and it runs to completion.
        async def fixed(ctx: TaskContext, payload: dict[str, Any]) -> None:
            calls.append(-ctx.attempt)

        worker.registry.register("t.flaky", fixed)
        async with db.session_scope() as session:
            replayed = await jobs_service.replay(session, OPERATOR, row.id)
        assert replayed.status == JobStatus.PENDING
        assert replayed.attempts == 0
        assert await worker.drain() == 1
        (row,) = await _jobs(db)
        assert row.status == JobStatus.DONE
        assert calls[-1] == -1

    async def test_replaying_a_live_job_is_refused(self, db: Database) -> None:
        from creditbank.errors import Conflict

        await _enqueue(db, "t.x", [{}])
        (row,) = await _jobs(db)
        async with db.session_scope() as session:
            with pytest.raises(Conflict):
                await jobs_service.replay(session, OPERATOR, row.id)

    async def test_unknown_jobs_and_permanent_errors_are_dead_at_once(
        self, db: Database, settings: Settings
    ) -> None:
        async def hopeless(ctx: TaskContext, payload: dict[str, Any]) -> None:
            raise PermanentJobError("statement does not exist")

        worker = _worker(db, settings, {"t.hopeless": hopeless})
        await _enqueue(db, "t.nobody", [{}])
        await _enqueue(db, "t.hopeless", [{}])
        assert await worker.drain() == 2
        rows = await _jobs(db)
        assert [r.status for r in rows] == [JobStatus.DEAD, JobStatus.DEAD]
        assert "no job body registered" in (rows[0].last_error or "")
        assert "statement does not exist" in (rows[1].last_error or "")

    async def test_a_job_that_outlives_its_lease_is_cancelled_and_retried(
        self, db: Database, settings: Settings
    ) -> None:
        async def slow(ctx: TaskContext, payload: dict[str, Any]) -> None:
            await asyncio.sleep(5)

        short = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"lease_seconds": 1})}
        )
        worker = _worker(db, short, {"t.slow": slow})
        await _enqueue(db, "t.slow", [{}])
        started = time.monotonic()
        await worker.run_once()
        assert time.monotonic() - started < 3
        (row,) = await _jobs(db)
        assert row.status == JobStatus.PENDING
        assert "timed out" in (row.last_error or "")


class TestAtomicity:
    async def test_a_job_commits_its_writes_with_its_completion_or_neither(
        self, db: Database, settings: Settings
    ) -> None:
        async def writes_then(ctx: TaskContext, payload: dict[str, Any]) -> None:
            await jobs_service.enqueue(ctx.session, "t.child", {"of": payload["n"]})
            if payload["fail"]:
                raise RuntimeError("after writing")

        worker = _worker(db, settings, {"t.parent": writes_then})
        await _enqueue(db, "t.parent", [{"n": 1, "fail": False}, {"n": 2, "fail": True}])
        await worker.run_once()
        rows = await _jobs(db)
        children = [r.payload["of"] for r in rows if r.name == "t.child"]
        assert children == [1]
        parents = {r.payload["n"]: r.status for r in rows if r.name == "t.parent"}
        assert parents == {1: JobStatus.DONE, 2: JobStatus.PENDING}

    async def test_stopping_gives_back_the_rest_of_the_batch(
        self, db: Database, settings: Settings
    ) -> None:
        worker: Worker

        async def stop_after(ctx: TaskContext, payload: dict[str, Any]) -> None:
            worker.stop()

        worker = _worker(db, settings, {"t.x": stop_after})
        await _enqueue(db, "t.x", [{"n": n} for n in range(5)])
        assert await worker.run_once() == 1
        rows = await _jobs(db)
        assert [r.status for r in rows] == [JobStatus.DONE] + [JobStatus.PENDING] * 4
        assert all(r.attempts == 0 and r.locked_by is None for r in rows[1:])


class TestScheduler:
    async def test_each_period_is_enqueued_once_whoever_ticks(self, db: Database) -> None:
        schedule = (scheduler.Periodic("t.hourly", timedelta(hours=1), {"k": 1}),)
        now = utc_now()
        assert await scheduler.tick(db, now, schedule) == ["t.hourly"]
        assert await scheduler.tick(db, now + timedelta(seconds=1), schedule) in ([], ["t.hourly"])
        rows = await _jobs(db)
        slot_now = schedule[0].slot(now)
        keys = {r.dedupe_key for r in rows}
        assert f"periodic:t.hourly:{slot_now}" in keys
        assert len(rows) == len(keys)
        assert await scheduler.tick(db, now + timedelta(hours=1), schedule) == ["t.hourly"]


class TestWorkerProcess:
    def _env(self, settings: Settings) -> dict[str, str]:
        return {
            **os.environ,
            "CREDITBANK_ENV": "test",
            "CREDITBANK_DATABASE_URL": settings.database_url,
            "CREDITBANK_AUTO_MIGRATE": "false",
            "CREDITBANK_LOG_LEVEL": "INFO",
            "CREDITBANK_WORKER__POLL_INTERVAL_SECONDS": "0.1",
        }

    async def test_once_drains_and_unknown_jobs_become_dead_letters(
        self, db: Database, settings: Settings
    ) -> None:
        await _enqueue(db, "t.unknown", [{}])
        result = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "creditbank.cli", "worker", "--once"],
            cwd=ROOT,
            env=self._env(settings),
            capture_output=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr.decode()
        rows = [r for r in await _jobs(db) if r.name == "t.unknown"]
        assert rows[0].status == JobStatus.DEAD

    async def test_sigterm_stops_the_worker_gracefully(
        self, db: Database, settings: Settings
    ) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "creditbank.cli", "worker"],
            cwd=ROOT,
            env=self._env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                rows = await _jobs(db)
                # The first tick enqueues the periodic jobs, and the worker runs them.
                finished = {JobStatus.DONE, JobStatus.DEAD}
                if rows and all(r.status in finished for r in rows):
                    break
                await asyncio.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(process.wait, 20)
        finally:
            if process.poll() is None:
                process.kill()
        output = process.stdout.read().decode() if process.stdout else ""
        assert code == 0, output
        assert "worker stopped" in output


async def test_a_worker_claims_short_batches_while_ingest_holds_the_sqlite_gate(
    db: Database, settings: Settings
):
    from creditbank.db import sqlite_write_gate

    worker = _worker(db, settings, {})
    assert worker.batch_limit() == settings.worker.batch_size
    async with sqlite_write_gate():
        expected = (
            settings.worker.contended_batch_size
            if db.dialect == "sqlite"
            else settings.worker.batch_size
        )
        assert worker.batch_limit() == expected
    assert worker.batch_limit() == settings.worker.batch_size


async def test_the_write_gate_is_contended_until_its_next_holder_has_run():
    from creditbank.db import WriteGate

    gate = WriteGate()
    await gate.acquire()
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    gate.release()
    assert not gate.locked()
    assert gate.contended()  # released, but the waiter has not taken it yet
    await waiter
    assert gate.contended()
    gate.release()
    assert not gate.contended()
