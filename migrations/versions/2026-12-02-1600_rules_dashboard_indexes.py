"""rules: dashboard and ingest-statistics indexes on the time columns

The operator's dashboard sums outcomes recognised per month (a range on
recognised_at, grouped by institution): the index carries institution_key and credits
so the aggregate reads the index only. An institution's ingest statistics read its
evaluations over a window: (institution_key, evaluated_at).

Revision ID: rules_0002
Revises: rules_0001
Create Date: 2026-12-02 16:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "rules_0002"
down_revision: str | Sequence[str] | None = "rules_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_rule_outcomes_recognised",
        "rule_outcomes",
        ["recognised_at", "institution_key", "credits"],
        unique=False,
    )
    op.create_index(
        "ix_rule_evaluations_institution",
        "rule_evaluations",
        ["institution_key", "evaluated_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_rule_evaluations_institution", table_name="rule_evaluations")
    op.drop_index("ix_rule_outcomes_recognised", table_name="rule_outcomes")
