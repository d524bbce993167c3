"""rules: an outcome's trace is read from its evaluation row, not stored again

Each credited statement stored two JSON documents: the evaluation-log row's detail
(facts, gates, every rule, the decisions) and the outcome's trace (the reason, the
gates, its rule and its accumulation) - the same parts a second time. New outcomes
leave ``trace`` NULL and are explained from the evaluation their ``evaluation_id``
names (``creditbank.rules.outcomes.outcome_trace``); outcomes stored before keep
their trace, which is read as it is. Nothing is rewritten, so the upgrade is a
change of the column's nullability only.

Revision ID: rules_0003
Revises: rules_0002
Create Date: 2026-12-03 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "rules_0003"
down_revision: str | Sequence[str] | None = "rules_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TRACE = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("rule_outcomes", schema=None) as batch_op:
        batch_op.alter_column("trace", existing_type=TRACE, nullable=True)


def downgrade() -> None:
    # The old schema wants a trace on every row: the ones read by reference get an
    # empty document (their explanation is still their evaluation row's detail).
    op.execute("UPDATE rule_outcomes SET trace = '{}' WHERE trace IS NULL")
    with op.batch_alter_table("rule_outcomes", schema=None) as batch_op:
        batch_op.alter_column("trace", existing_type=TRACE, nullable=False)
