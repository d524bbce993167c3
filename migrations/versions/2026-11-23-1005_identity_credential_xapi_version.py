"""identity: the xAPI version an LRS credential's client speaks

Revision ID: identity_0002
Revises: identity_0001
Create Date: 2026-11-23 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "identity_0002"
down_revision: str | Sequence[str] | None = "identity_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing credentials keep answering with the server default.
    op.add_column("lrs_credentials", sa.Column("xapi_version", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lrs_credentials") as batch_op:
        batch_op.drop_column("xapi_version")
