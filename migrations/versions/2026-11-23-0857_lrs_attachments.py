"""lrs attachments: statement attachment content, stored once per SHA-2 digest

Revision ID: lrs_0002
Revises: lrs_0001
Create Date: 2026-11-23 08:57:04.459707
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import creditbank.kit.types

revision: str = "lrs_0002"
down_revision: str | Sequence[str] | None = "lrs_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "lrs_attachments",
        sa.Column("sha2", sa.String(length=128), nullable=False),
        sa.Column("content_type", sa.String(length=255), nullable=False),
        sa.Column("length", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sha2", name=op.f("pk_lrs_attachments")),
    )


def downgrade() -> None:
    op.drop_table("lrs_attachments")
