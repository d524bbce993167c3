"""conversions: dashboard indexes on created_at and decided_at

Applications submitted per month (created_at) and credits converted per month
(decided_at of approved applications): each a range on its own time column.

Revision ID: conversions_0002
Revises: conversions_0001
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "conversions_0002"
down_revision: str | Sequence[str] | None = "conversions_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_conversion_applications_created",
        "conversion_applications",
        ["created_at"],
        unique=False,
    )
    op.create_index(
        "ix_conversion_applications_decided",
        "conversion_applications",
        ["decided_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_conversion_applications_decided", table_name="conversion_applications")
    op.drop_index("ix_conversion_applications_created", table_name="conversion_applications")
