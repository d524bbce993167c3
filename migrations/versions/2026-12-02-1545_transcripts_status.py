"""transcripts: Bitstring Status Lists, their entries, and the outcomes each transcript holds

Revision ID: transcripts_0002
Revises: transcripts_0002_sdjwt
Create Date: 2026-12-02 15:45:00
"""

import json
import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "transcripts_0002"
down_revision: str | Sequence[str] | None = "transcripts_0002_sdjwt"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    links = op.create_table(
        "transcript_outcomes",
        sa.Column("transcript_id", sa.Uuid(), nullable=False),
        sa.Column("outcome_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["transcript_id"],
            ["transcripts.id"],
            name=op.f("fk_transcript_outcomes_transcript_id_transcripts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("transcript_id", "outcome_id", name=op.f("pk_transcript_outcomes")),
    )
    op.create_index(
        op.f("ix_transcript_outcomes_outcome_id"), "transcript_outcomes", ["outcome_id"]
    )
    op.create_table(
        "transcript_status_lists",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("allocated", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", creditbank.kit.types.UTCDateTime(), nullable=False),
        sa.Column("changed_at", creditbank.kit.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_status_lists")),
    )
    op.create_index(
        "ix_transcript_status_lists_purpose_open",
        "transcript_status_lists",
        ["purpose", "allocated"],
    )
    op.create_table(
        "transcript_status_entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("list_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("transcript_id", sa.Uuid(), nullable=False),
        sa.Column("share_id", sa.Uuid(), nullable=True),
        sa.Column("is_set", sa.Boolean(), nullable=False),
        sa.Column("changed_at", creditbank.kit.types.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["list_id"],
            ["transcript_status_lists.id"],
            name=op.f("fk_transcript_status_entries_list_id_transcript_status_lists"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transcript_status_entries")),
        sa.UniqueConstraint(
            "list_id", "index", name=op.f("uq_transcript_status_entries_list_id_index")
        ),
    )
    op.create_index(
        op.f("ix_transcript_status_entries_transcript_id"),
        "transcript_status_entries",
        ["transcript_id"],
    )
    op.create_index(
        op.f("ix_transcript_status_entries_share_id"), "transcript_status_entries", ["share_id"]
    )
    # Transcripts issued before: their outcomes (kept as JSON) become link rows, so
    # revoking one of those outcomes finds them too (they carry no status entry to flip).
    rows = op.get_bind().execute(sa.text("SELECT id, outcome_ids FROM transcripts")).all()
    backfill = []
    for transcript_id, outcome_ids in rows:
        ids = json.loads(outcome_ids) if isinstance(outcome_ids, str) else outcome_ids
        tid = transcript_id if isinstance(transcript_id, uuid.UUID) else uuid.UUID(transcript_id)
        backfill += [{"transcript_id": tid, "outcome_id": uuid.UUID(o)} for o in ids or []]
    if backfill:
        op.bulk_insert(links, backfill)


def downgrade() -> None:
    op.drop_index(
        op.f("ix_transcript_status_entries_share_id"), table_name="transcript_status_entries"
    )
    op.drop_index(
        op.f("ix_transcript_status_entries_transcript_id"), table_name="transcript_status_entries"
    )
    op.drop_table("transcript_status_entries")
    op.drop_index("ix_transcript_status_lists_purpose_open", table_name="transcript_status_lists")
    op.drop_table("transcript_status_lists")
    op.drop_index(op.f("ix_transcript_outcomes_outcome_id"), table_name="transcript_outcomes")
    op.drop_table("transcript_outcomes")
