"""rules: outcomes, evaluation log, held statements

Revision ID: rules_0001
Revises: 0001
Create Date: 2026-11-23 09:01:57.706143
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import creditbank.kit.types

revision: str = "rules_0001"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = ("rules",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_evaluations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Uuid(), nullable=True),
        sa.Column("institution_key", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("standards_id", sa.String(length=64), nullable=True),
        sa.Column("standards_version", sa.String(length=64), nullable=True),
        sa.Column("standards_hash", sa.String(length=64), nullable=True),
        sa.Column("recognised", sa.Boolean(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=True),
        sa.Column("credited", creditbank.kit.types.Credits(), nullable=False),
        sa.Column("reason_zh", sa.Text(), nullable=False),
        sa.Column("reason_en", sa.Text(), nullable=False),
        sa.Column("outcome_id", sa.Uuid(), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("evaluated_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_evaluations")),
    )
    with op.batch_alter_table("rule_evaluations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rule_evaluations_learner_id"), ["learner_id"], unique=False
        )
        batch_op.create_index(
            "ix_rule_evaluations_statement", ["statement_id", "evaluated_at"], unique=False
        )
    op.create_table(
        "rule_held_statements",
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("actor_ifi", sa.Text(), nullable=False),
        sa.Column("held_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_rule_held_statements")),
    )
    with op.batch_alter_table("rule_held_statements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rule_held_statements_actor_ifi"), ["actor_ifi"], unique=False
        )
    op.create_table(
        "rule_outcomes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Uuid(), nullable=False),
        sa.Column("unit_code", sa.String(length=64), nullable=False),
        sa.Column("unit_title_zh", sa.String(length=200), nullable=False),
        sa.Column("unit_title_en", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("credits", creditbank.kit.types.Credits(), nullable=False),
        sa.Column("unit_credits", creditbank.kit.types.Credits(), nullable=False),
        sa.Column("score_scaled", sa.String(length=40), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column(
            "statement_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("institution_key", sa.String(length=64), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("rule_version", sa.Integer(), nullable=False),
        sa.Column("standards_id", sa.String(length=64), nullable=False),
        sa.Column("standards_version", sa.String(length=64), nullable=False),
        sa.Column("standards_hash", sa.String(length=64), nullable=False),
        sa.Column("evaluation_id", sa.Uuid(), nullable=False),
        sa.Column(
            "trace",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("requires_review", sa.Boolean(), nullable=False),
        sa.Column("recognised_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "statement_timestamp", creditbank.kit.types.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("expires_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", creditbank.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_reason", sa.Text(), nullable=True),
        sa.Column("superseded_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_outcomes")),
    )
    with op.batch_alter_table("rule_outcomes", schema=None) as batch_op:
        batch_op.create_index("ix_rule_outcomes_expiry", ["status", "expires_at"], unique=False)
        batch_op.create_index(
            "ix_rule_outcomes_learner", ["learner_id", "recognised_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_rule_outcomes_statement_id"), ["statement_id"], unique=False
        )
        batch_op.create_index(
            "uq_rule_outcomes_active_unit",
            ["learner_id", "unit_code"],
            unique=True,
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("rule_outcomes", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_rule_outcomes_active_unit",
            postgresql_where=sa.text("status = 'active'"),
            sqlite_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index(batch_op.f("ix_rule_outcomes_statement_id"))
        batch_op.drop_index("ix_rule_outcomes_learner")
        batch_op.drop_index("ix_rule_outcomes_expiry")
    op.drop_table("rule_outcomes")
    with op.batch_alter_table("rule_held_statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_held_statements_actor_ifi"))
    op.drop_table("rule_held_statements")
    with op.batch_alter_table("rule_evaluations", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_evaluations_statement")
        batch_op.drop_index(batch_op.f("ix_rule_evaluations_learner_id"))
    op.drop_table("rule_evaluations")
    # ### end Alembic commands ###
