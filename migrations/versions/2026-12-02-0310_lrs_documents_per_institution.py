"""lrs documents: each institution's documents in a space of its own (A1/A2 of issue 13)

Documents were one space per LRS, so one institution could read and overwrite
another's State. Their keys now hash the owning institution in; the documents
stored so far move into the space of the institution that wrote them (no two can
collide: the old keys were unique without the institution).

Revision ID: lrsdoc_0002
Revises: lrsdoc_0001
Create Date: 2026-12-02 03:10:00
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "lrsdoc_0002"
down_revision: str | Sequence[str] | None = "lrsdoc_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DOCS = sa.table(
    "lrs_documents",
    sa.column("id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("doc_key", sa.String()),
    sa.column("scope_key", sa.String()),
    sa.column("activity_id", sa.Text()),
    sa.column("agent_ifi", sa.Text()),
    sa.column("registration", sa.Uuid()),
    sa.column("doc_id", sa.Text()),
    sa.column("institution_id", sa.Uuid()),
)


def _digest(*parts: str) -> str:
    # As creditbank.lrs.documents.service._digest at this revision.
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _rekey(to_namespaced: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(_DOCS).where(_DOCS.c.institution_id.is_not(None))
    ).mappings()
    for row in list(rows):
        prefix = (f"ns:{row['institution_id']}",) if to_namespaced else ()
        scope = (*prefix, row["kind"], row["activity_id"] or "", row["agent_ifi"] or "")
        registration = str(row["registration"]) if row["registration"] is not None else ""
        connection.execute(
            sa.update(_DOCS)
            .where(_DOCS.c.id == row["id"])
            .values(
                scope_key=_digest(*scope),
                doc_key=_digest(*scope, registration, row["doc_id"]),
            )
        )


def upgrade() -> None:
    _rekey(to_namespaced=True)


def downgrade() -> None:
    _rekey(to_namespaced=False)
