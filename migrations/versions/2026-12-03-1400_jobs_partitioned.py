"""jobs: partitioned on PostgreSQL, done rows by finished month (retention by DROP)

``jobs`` becomes ``PARTITION BY LIST (status)``: ``jobs_open`` (DEFAULT: pending,
running, dead) keeps the primary key, the unique ``dedupe_key`` and the claim index, so
claims touch a table holding only live work; ``jobs_done`` (``'done'``) is itself
``PARTITION BY RANGE (finished_at)``, one partition per month (``jobs_done_YYYY_MM``)
and ``jobs_done_default`` as the safety net. Purging done jobs detaches and drops whole
months. The rows present are copied (ids and the id sequence kept). SQLite keeps the
plain table.

Revision ID: foundation_0002
Revises: 0001
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "foundation_0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "id, name, payload, status, attempts, max_attempts, run_at, locked_until, locked_by, "
    "last_error, dedupe_key, created_at, finished_at, trace_id"
)
MONTHS_AHEAD = 2


def _month(at: datetime, offset: int = 0) -> datetime:
    at = at.astimezone(UTC)
    index = at.year * 12 + (at.month - 1) + offset
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _create_month(start: datetime) -> None:
    end = _month(start, 1)
    op.execute(
        f"CREATE TABLE jobs_done_{start.year:04d}_{start.month:02d} PARTITION OF jobs_done "
        f"FOR VALUES FROM ('{start.isoformat()}') TO ('{end.isoformat()}')"
    )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    bind = op.get_bind()
    op.execute("ALTER TABLE jobs RENAME TO jobs_unpartitioned")
    op.execute("ALTER TABLE jobs_unpartitioned RENAME CONSTRAINT pk_jobs TO pk_jobs_unpartitioned")
    op.execute(
        "ALTER TABLE jobs_unpartitioned "
        "RENAME CONSTRAINT uq_jobs_dedupe_key TO uq_jobs_unpartitioned_dedupe_key"
    )
    op.execute("ALTER INDEX ix_jobs_claim RENAME TO ix_jobs_unpartitioned_claim")
    op.execute("ALTER SEQUENCE jobs_id_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE jobs ("
        "id BIGINT NOT NULL DEFAULT nextval('jobs_id_seq'), "
        "name VARCHAR(100) NOT NULL, "
        "payload JSONB NOT NULL, "
        "status VARCHAR(16) NOT NULL, "
        "attempts INTEGER NOT NULL, "
        "max_attempts INTEGER NOT NULL, "
        "run_at TIMESTAMP WITH TIME ZONE NOT NULL, "
        "locked_until TIMESTAMP WITH TIME ZONE, "
        "locked_by VARCHAR(100), "
        "last_error TEXT, "
        "dedupe_key VARCHAR(200), "
        "created_at TIMESTAMP WITH TIME ZONE NOT NULL, "
        "finished_at TIMESTAMP WITH TIME ZONE, "
        "trace_id UUID"
        ") PARTITION BY LIST (status)"
    )
    op.execute("ALTER SEQUENCE jobs_id_seq OWNED BY jobs.id")
    op.execute("CREATE TABLE jobs_open PARTITION OF jobs DEFAULT")
    op.execute("ALTER TABLE jobs_open ADD CONSTRAINT pk_jobs_open PRIMARY KEY (id)")
    op.execute("ALTER TABLE jobs_open ADD CONSTRAINT uq_jobs_open_dedupe_key UNIQUE (dedupe_key)")
    op.execute("CREATE INDEX ix_jobs_claim ON jobs_open (status, run_at, id)")
    op.execute(
        "CREATE TABLE jobs_done PARTITION OF jobs FOR VALUES IN ('done') "
        "PARTITION BY RANGE (finished_at)"
    )
    # Partitioned indexes: every month partition gets its own.
    op.execute("CREATE INDEX ix_jobs_done_id ON jobs_done (id)")
    op.execute("CREATE INDEX ix_jobs_done_dedupe_key ON jobs_done (dedupe_key)")
    op.execute("CREATE TABLE jobs_done_default PARTITION OF jobs_done DEFAULT")

    # A partition for every month the done rows present fall in, and the months ahead.
    first, last = bind.execute(
        sa.text(
            "SELECT min(finished_at), max(finished_at) FROM jobs_unpartitioned "
            "WHERE status = 'done' AND finished_at IS NOT NULL"
        )
    ).one()
    now = datetime.now(UTC)
    start = _month(first if first is not None and first < now else now)
    end = _month(max(last, now) if last is not None else now, MONTHS_AHEAD)
    while start <= end:
        _create_month(start)
        start = _month(start, 1)

    op.execute(
        f"INSERT INTO jobs ({COLUMNS}) SELECT {COLUMNS} FROM jobs_unpartitioned"  # noqa: S608
    )
    op.execute("DROP TABLE jobs_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE jobs RENAME TO jobs_partitioned")
    op.execute("ALTER SEQUENCE jobs_id_seq OWNED BY NONE")
    op.execute(
        "CREATE TABLE jobs (LIKE jobs_partitioned INCLUDING DEFAULTS, "
        "CONSTRAINT pk_jobs PRIMARY KEY (id), "
        "CONSTRAINT uq_jobs_dedupe_key UNIQUE (dedupe_key))"
    )
    op.execute("CREATE INDEX ix_jobs_claim_new ON jobs (status, run_at, id)")
    op.execute(
        f"INSERT INTO jobs ({COLUMNS}) SELECT {COLUMNS} FROM jobs_partitioned"  # noqa: S608
    )
    op.execute("DROP TABLE jobs_partitioned CASCADE")
    op.execute("ALTER INDEX ix_jobs_claim_new RENAME TO ix_jobs_claim")
    op.execute("ALTER SEQUENCE jobs_id_seq OWNED BY jobs.id")
