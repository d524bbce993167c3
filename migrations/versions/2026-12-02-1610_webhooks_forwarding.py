"""webhooks: statement forwarding targets (another LRS per institution)

Revision ID: webhooks_0002
Revises: webhooks_0001
Create Date: 2026-12-02 16:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "webhooks_0002"
down_revision: str | Sequence[str] | None = "webhooks_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "forwarding_targets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("institution_id", sa.Uuid(), nullable=False),
        sa.Column("institution_key", sa.String(length=64), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("username", sa.String(length=200), nullable=False),
        sa.Column("password_enc", sa.Text(), nullable=False),
        sa.Column("only_recognised", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forwarding_targets")),
        sa.UniqueConstraint("institution_id", name=op.f("uq_forwarding_targets_institution_id")),
    )


def downgrade() -> None:
    op.drop_table("forwarding_targets")
