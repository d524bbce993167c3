"""transcripts: the SD-JWT VC of each transcript and its selectively disclosed shares

Revision ID: transcripts_0002_sdjwt
Revises: transcripts_sm2
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbank.kit.types

revision: str = "transcripts_0002_sdjwt"
down_revision: str | Sequence[str] | None = "transcripts_sm2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> sa.types.TypeEngine:  # type: ignore[type-arg]
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("transcripts") as batch:
        batch.add_column(sa.Column("sd_jwt", sa.Text(), nullable=True))
    op.create_table(
        "transcript_shares",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("transcript_id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", creditbank.kit.types.UTCDateTime(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("audience", sa.String(length=500), nullable=True),
        sa.Column("expires_at", creditbank.kit.types.UTCDateTime(), nullable=True),
        sa.Column("disclosed", _json(), nullable=False),
        sa.Column("sd_jwt", sa.Text(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("key_bound", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", creditbank.kit.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_shares_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_shares")),
    )
    op.create_index(
        "ix_transcript_shares_transcript",
        "transcript_shares",
        ["transcript_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_transcript_shares_transcript", table_name="transcript_shares")
    op.drop_table("transcript_shares")
    with op.batch_alter_table("transcripts") as batch:
        batch.drop_column("sd_jwt")
