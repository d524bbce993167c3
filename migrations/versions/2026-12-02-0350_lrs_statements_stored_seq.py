"""lrs statements: (stored, seq) index instead of (stored)

``since``/``until`` are turned into a ``seq`` range by two ``ORDER BY stored, seq
LIMIT 1`` lookups on this index (``stored`` never decreases along ``seq``), so the
page itself is a primary-key range scan that no statistics (or their absence)
can make the planner walk the whole table for.

Revision ID: lrs_0003
Revises: lrs_0002
Create Date: 2026-12-02 03:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "lrs_0003"
down_revision: str | Sequence[str] | None = "lrs_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.create_index("ix_lrs_statements_stored_seq", ["stored", "seq"], unique=False)
        batch_op.drop_index("ix_lrs_statements_stored")


def downgrade() -> None:
    with op.batch_alter_table("lrs_statements", schema=None) as batch_op:
        batch_op.create_index("ix_lrs_statements_stored", ["stored"], unique=False)
        batch_op.drop_index("ix_lrs_statements_stored_seq")
