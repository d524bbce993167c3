"""counters: exact counts for /metrics (rules decisions, ledger postings), shared by
every process; backfilled from the rows already written

Revision ID: counters_0001
Revises: 0001
Create Date: 2026-12-03 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "counters_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("counters",)
# The backfill reads the evaluation log and the ledger.
depends_on: str | Sequence[str] | None = ("rules_0001", "ledger_0001")


def upgrade() -> None:
    op.create_table(
        "counts",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=64), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counts")),
    )
    op.execute(
        "INSERT INTO counts (name, label, n) "
        "SELECT 'rules.decisions', "
        "CASE WHEN kind IN ('held', 'voided') THEN kind || ':' || kind "
        "WHEN recognised THEN kind || ':' || 'recognised' "
        "ELSE kind || ':' || 'not_recognised' END, count(*) "
        "FROM rule_evaluations GROUP BY kind, recognised"
    )
    op.execute(
        "INSERT INTO counts (name, label, n) "
        "SELECT 'ledger.postings', kind, count(*) FROM ledger_entries GROUP BY kind"
    )


def downgrade() -> None:
    op.drop_table("counts")
