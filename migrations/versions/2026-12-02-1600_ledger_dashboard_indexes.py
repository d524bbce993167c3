"""ledger: dashboard index on posted_at

Learners active per month (distinct learners with a ledger entry): a range on
posted_at; the index carries learner_id so the count reads the index only.

Revision ID: ledger_0002
Revises: ledger_0001
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ledger_0002"
down_revision: str | Sequence[str] | None = "ledger_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_posted", "ledger_entries", ["posted_at", "learner_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_posted", table_name="ledger_entries")
