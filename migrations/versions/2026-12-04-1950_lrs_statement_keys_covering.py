"""lrs statement keys: the primary key's index carries related and statement_stored

A filtered GET (agent, activity, verb, registration) walks ``lrs_statement_keys`` by
``(key_hash, statement_seq)`` newest first and needs each row's ``related`` (the
plain filter skips related rows) and ``statement_stored`` (the partition of its
statement). With them only in the heap, every candidate costs a key-table heap page
as well as its statement's: the rows of one activity or agent are spread over the
whole table, so at 1,000,000 statements an activity page read ~35 key heap pages
besides its ~50 statement pages. ``INCLUDE (related, statement_stored)`` lets the walk
be an index-only scan (on pages the visibility map marks all-visible, i.e. once
vacuumed). PostgreSQL only: SQLite's rowid-less table is already its primary key.

Rebuilding the index holds an exclusive lock on the table for its duration (about
20 s per 5,000,000 key rows on the bench machine).

Revision ID: lrs_0005
Revises: lrs_0004
Create Date: 2026-12-04 19:50:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "lrs_0005"
down_revision: str | Sequence[str] | None = "lrs_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _primary_key(include: str) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "ALTER TABLE lrs_statement_keys DROP CONSTRAINT pk_lrs_statement_keys, "
        "ADD CONSTRAINT pk_lrs_statement_keys PRIMARY KEY (key_hash, statement_seq)" + include
    )


def upgrade() -> None:
    _primary_key(" INCLUDE (related, statement_stored)")


def downgrade() -> None:
    _primary_key("")
