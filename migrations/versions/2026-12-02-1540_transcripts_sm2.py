"""transcripts: the optional detached SM2 proof beside the VC-JWT

Revision ID: transcripts_sm2
Revises: transcripts_0001
Create Date: 2026-12-02 15:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision: str = "transcripts_sm2"
down_revision: str | Sequence[str] | None = "transcripts_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    json_type = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("sm2", json_type, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("sm2")
