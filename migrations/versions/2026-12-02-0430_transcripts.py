"""transcripts: issued transcripts (credential bytes and VC-JWTs)

Revision ID: transcripts_0001
Revises: 0001
Create Date: 2026-12-02 04:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbank.kit.types

revision: str = "transcripts_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("transcripts",)
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "transcripts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Uuid(), nullable=False),
        sa.Column("subject_id", sa.String(length=100), nullable=False),
        sa.Column("issued_at", creditbank.kit.types.UTCDateTime(), nullable=False),
        sa.Column("as_of", creditbank.kit.types.UTCDateTime(), nullable=False),
        sa.Column("issued_by", sa.Uuid(), nullable=True),
        sa.Column("alg", sa.String(length=16), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("credential", sa.Text(), nullable=False),
        sa.Column("vc_jwt", sa.Text(), nullable=False),
        sa.Column("vc_jose", sa.Text(), nullable=False),
        sa.Column("outcome_ids", _json(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcripts")),
    )
    op.create_index(
        "ix_transcripts_learner_issued", "transcripts", ["learner_id", "issued_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_transcripts_learner_issued", table_name="transcripts")
    op.drop_table("transcripts")
