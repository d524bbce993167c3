"""reporting: the dashboard's rollups (issue 14: aggregates <= 100 ms at 1M statements)

Monthly credits recognised per institution, statements per day, one row per learner
and month with a ledger entry and their count per month, and the watermark of the
job that keeps them (``reporting.rollup``). The state row is created here, empty:
the job's first run folds in the whole history.

Revision ID: reporting_0001
Revises: 0001
Create Date: 2026-12-03 13:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "reporting_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("reporting",)
depends_on: str | Sequence[str] | None = None


def _time() -> creditbank.kit.types.UTCDateTime:
    return creditbank.kit.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    rollups = op.create_table(
        "reporting_rollups",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("through", _time(), nullable=True),
        sa.Column("built_at", _time(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reporting_rollups")),
    )
    op.create_table(
        "reporting_outcome_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("institution_key", sa.String(length=64), nullable=False),
        sa.Column("credits", sa.BigInteger(), nullable=False),
        sa.Column("outcomes", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "institution_key", name=op.f("pk_reporting_outcome_months")
        ),
    )
    op.create_table(
        "reporting_statement_days",
        sa.Column("day", sa.String(length=10), nullable=False),
        sa.Column("statements", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_reporting_statement_days")),
    )
    op.create_table(
        "reporting_learner_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("learner_id", sa.Uuid(), nullable=False),
        sa.Column("first_at", _time(), nullable=False),
        sa.PrimaryKeyConstraint("month", "learner_id", name=op.f("pk_reporting_learner_months")),
    )
    op.create_table(
        "reporting_active_months",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("learners", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month", name=op.f("pk_reporting_active_months")),
    )
    op.bulk_insert(rollups, [{"name": "dashboard", "through": None, "built_at": None}])


def downgrade() -> None:
    op.drop_table("reporting_active_months")
    op.drop_table("reporting_learner_months")
    op.drop_table("reporting_statement_days")
    op.drop_table("reporting_outcome_months")
    op.drop_table("reporting_rollups")
