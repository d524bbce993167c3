"""lrs statements: partitioned by stored month on PostgreSQL; keys carry the stored time

``lrs_statements`` becomes ``PARTITION BY RANGE (stored)``: one partition per UTC month
(``lrs_statements_YYYY_MM``) and ``lrs_statements_default`` as the safety net. The
primary key is ``(seq, stored)`` (a partitioned table's unique keys include the
partition key; ``seq`` stays unique, allocated under the append lock). Statement ids
are no longer a unique index: the duplicate check runs under the append lock (every
writer takes it), and ``ix_lrs_statements_id`` finds them.

``lrs_statement_keys.statement_stored`` is the stored time of the key's statement, so
the per-key probe ``seq = ? AND stored = ?`` opens one partition, not all (filled for
the rows present; PostgreSQL only: SQLite leaves it NULL and keeps plain tables).

Revision ID: lrs_0004
Revises: lrs_0003
Create Date: 2026-12-03 14:30:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "lrs_0004"
down_revision: str | Sequence[str] | None = "lrs_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    "seq, id, actor_key, verb_id, object_type, object_activity_id, object_statement_id, "
    "registration, stored, timestamp, institution_id, credential_id, voided, is_voiding, "
    "version, has_attachments, body"
)
MONTHS_AHEAD = 2


def _month(at: datetime, offset: int = 0) -> datetime:
    at = at.astimezone(UTC)
    index = at.year * 12 + (at.month - 1) + offset
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def upgrade() -> None:
    op.add_column(
        "lrs_statement_keys",
        sa.Column("statement_stored", creditbank.kit.types.UTCDateTime(), nullable=True),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    op.execute(
        "UPDATE lrs_statement_keys k SET statement_stored = s.stored "
        "FROM lrs_statements s WHERE s.seq = k.statement_seq"
    )
    op.execute("ALTER TABLE lrs_statements RENAME TO lrs_statements_unpartitioned")
    for old in ("pk_lrs_statements", "uq_lrs_statements_id"):
        op.execute(f"ALTER TABLE lrs_statements_unpartitioned RENAME CONSTRAINT {old} TO {old}_old")
    for old in ("ix_lrs_statements_institution_seq", "ix_lrs_statements_stored_seq"):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_old")
    op.execute(
        "CREATE TABLE lrs_statements ("
        "seq BIGINT NOT NULL, "
        "id UUID NOT NULL, "
        "actor_key TEXT, "
        "verb_id TEXT NOT NULL, "
        "object_type VARCHAR(16) NOT NULL, "
        "object_activity_id TEXT, "
        "object_statement_id UUID, "
        "registration UUID, "
        "stored TIMESTAMP WITH TIME ZONE NOT NULL, "
        "timestamp TIMESTAMP WITH TIME ZONE NOT NULL, "
        "institution_id UUID, "
        "credential_id UUID, "
        "voided BOOLEAN NOT NULL, "
        "is_voiding BOOLEAN NOT NULL, "
        "version VARCHAR(16) NOT NULL, "
        "has_attachments BOOLEAN NOT NULL, "
        "body JSONB NOT NULL"
        ") PARTITION BY RANGE (stored)"
    )
    op.execute("CREATE TABLE lrs_statements_default PARTITION OF lrs_statements DEFAULT")
    first, last = bind.execute(
        sa.text("SELECT min(stored), max(stored) FROM lrs_statements_unpartitioned")
    ).one()
    now = datetime.now(UTC)
    start = _month(first if first is not None and first < now else now)
    end = _month(max(last, now) if last is not None else now, MONTHS_AHEAD)
    while start <= end:
        upper = _month(start, 1)
        op.execute(
            f"CREATE TABLE lrs_statements_{start.year:04d}_{start.month:02d} "
            f"PARTITION OF lrs_statements "
            f"FOR VALUES FROM ('{start.isoformat()}') TO ('{upper.isoformat()}')"
        )
        start = upper
    op.execute(
        f"INSERT INTO lrs_statements ({COLUMNS}) "  # noqa: S608
        f"SELECT {COLUMNS} FROM lrs_statements_unpartitioned"
    )
    op.execute("DROP TABLE lrs_statements_unpartitioned")
    # Partitioned indexes (each partition gets its own), built after the copy.
    op.execute(
        "ALTER TABLE lrs_statements ADD CONSTRAINT pk_lrs_statements PRIMARY KEY (seq, stored)"
    )
    op.execute("CREATE INDEX ix_lrs_statements_id ON lrs_statements (id)")
    op.execute(
        "CREATE INDEX ix_lrs_statements_institution_seq ON lrs_statements (institution_id, seq)"
    )
    op.execute("CREATE INDEX ix_lrs_statements_stored_seq ON lrs_statements (stored, seq)")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("ALTER TABLE lrs_statements RENAME TO lrs_statements_partitioned")
        for name in (
            "pk_lrs_statements",
            "ix_lrs_statements_id",
            "ix_lrs_statements_institution_seq",
            "ix_lrs_statements_stored_seq",
        ):
            op.execute(f"ALTER INDEX {name} RENAME TO {name}_partitioned")
        op.execute(
            "CREATE TABLE lrs_statements (LIKE lrs_statements_partitioned, "
            "CONSTRAINT pk_lrs_statements PRIMARY KEY (seq), "
            "CONSTRAINT uq_lrs_statements_id UNIQUE (id))"
        )
        op.execute(
            f"INSERT INTO lrs_statements ({COLUMNS}) "  # noqa: S608
            f"SELECT {COLUMNS} FROM lrs_statements_partitioned"
        )
        op.execute("DROP TABLE lrs_statements_partitioned CASCADE")
        op.execute(
            "CREATE INDEX ix_lrs_statements_institution_seq ON lrs_statements (institution_id, seq)"
        )
        op.execute("CREATE INDEX ix_lrs_statements_stored_seq ON lrs_statements (stored, seq)")
    op.drop_column("lrs_statement_keys", "statement_stored")
