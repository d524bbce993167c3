"""standards: published versions (immutable)

Revision ID: standards_0001
Revises: 0001
Create Date: 2026-11-23 09:01:57.706143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbank.kit.types

revision: str = "standards_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("standards",)
depends_on: str | Sequence[str] | None = None


IMMUTABLE_PG = """
CREATE FUNCTION standards_versions_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'standards_versions rows are immutable once published';
END;
$$ LANGUAGE plpgsql
"""

IMMUTABLE_PG_TRIGGER = """
CREATE TRIGGER standards_versions_no_update BEFORE UPDATE ON standards_versions
    FOR EACH ROW EXECUTE FUNCTION standards_versions_immutable();
"""

IMMUTABLE_SQLITE = """
CREATE TRIGGER standards_versions_no_update BEFORE UPDATE ON standards_versions
BEGIN
    SELECT RAISE(ABORT, 'standards_versions rows are immutable once published');
END
"""


def upgrade() -> None:
    op.create_table(
        "standards_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("set_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("title_zh", sa.String(length=200), nullable=False),
        sa.Column("title_en", sa.String(length=200), nullable=False),
        sa.Column(
            "content",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("published_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standards_versions")),
        sa.UniqueConstraint("set_id", "version", name=op.f("uq_standards_versions_set_id_version")),
    )
    with op.batch_alter_table("standards_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_standards_versions_content_hash"), ["content_hash"], unique=False
        )
        batch_op.create_index(
            "ix_standards_versions_in_force", ["effective_from", "published_at"], unique=False
        )

    # ### end Alembic commands ###
    # A published version never changes (deletes stay possible for test clean-up).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(IMMUTABLE_PG)
        op.execute(IMMUTABLE_PG_TRIGGER)
    else:
        op.execute(IMMUTABLE_SQLITE)


def downgrade() -> None:
    op.execute(
        "DROP TRIGGER IF EXISTS standards_versions_no_update ON standards_versions"
        if op.get_bind().dialect.name == "postgresql"
        else "DROP TRIGGER IF EXISTS standards_versions_no_update"
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS standards_versions_immutable()")
    with op.batch_alter_table("standards_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_standards_versions_in_force")
        batch_op.drop_index(batch_op.f("ix_standards_versions_content_hash"))
    op.drop_table("standards_versions")
