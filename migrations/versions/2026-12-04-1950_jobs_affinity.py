"""jobs: an affinity column (a hash, e.g. of the learner a statement is about)

PostgreSQL workers do not claim a job while another worker runs one of the same
affinity, so two workers' batches hold disjoint learners instead of waiting for each
other's locks. Nullable; on the partitioned PostgreSQL table the column is added to
every partition.

Revision ID: foundation_0003
Revises: foundation_0002
Create Date: 2026-12-04 19:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "foundation_0003"
down_revision: str | Sequence[str] | None = "foundation_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("affinity", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("affinity")
