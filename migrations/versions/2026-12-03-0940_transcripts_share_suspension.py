"""transcripts: when a share itself was suspended (not through its transcript)

Revision ID: transcripts_0003
Revises: transcripts_0002
Create Date: 2026-12-03 09:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "transcripts_0003"
down_revision: str | Sequence[str] | None = "transcripts_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcript_shares") as batch:
        batch.add_column(
            sa.Column("suspended_at", creditbank.kit.types.UTCDateTime(), nullable=True)
        )
        batch.add_column(sa.Column("suspended_by", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcript_shares") as batch:
        batch.drop_column("suspended_by")
        batch.drop_column("suspended_at")
