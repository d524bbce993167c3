"""A2: documents stored before documents were per institution move into the space
of the institution that wrote them (migration lrsdoc_0002)."""

from __future__ import annotations

import asyncio
import uuid

from alembic import command
from sqlalchemy import insert

from creditbank.db import Database
from creditbank.identity.principal import Principal
from creditbank.kit.time import utc_now
from creditbank.lrs.documents.models import Document, DocumentKind
from creditbank.lrs.documents.service import DocumentAddress, _digest
from creditbank.lrs.documents.service import documents as documents_service
from creditbank.migrate import alembic_config


async def test_existing_documents_move_to_their_institution(db: Database) -> None:
    url = db.write_engine.url.render_as_string(hide_password=False)
    await asyncio.to_thread(command.downgrade, alembic_config(url), "lrsdoc_0001")
    owner = uuid.uuid4()
    old_scope = (DocumentKind.STATE.value, "https://a.example/act", "mbox:mailto:a@b.cn")
    async with db.session_scope() as session:
        await session.execute(
            insert(Document).values(
                id=uuid.uuid4(),
                kind=DocumentKind.STATE.value,
                doc_key=_digest(*old_scope, "", "bookmark"),
                scope_key=_digest(*old_scope),
                activity_id=old_scope[1],
                agent_ifi=old_scope[2],
                registration=None,
                doc_id="bookmark",
                content=b"{}",
                content_type="application/json",
                etag="bf21a9e8fbc5a3846fb05b4fa0859e0917b2202f",
                updated=utc_now(),
                institution_id=owner,
                credential_id=None,
            )
        )
    await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
    address = DocumentAddress(
        kind=DocumentKind.STATE, activity_id=old_scope[1], agent_ifi=old_scope[2]
    )
    mine = Principal(
        kind="credential", id=uuid.uuid4(), institution_id=owner, scopes=frozenset({"state"})
    )
    other = Principal(
        kind="credential", id=uuid.uuid4(), institution_id=uuid.uuid4(), scopes=frozenset({"state"})
    )
    async with db.read_scope() as session:
        found = await documents_service.get(session, mine, address, "bookmark")
        assert found.content == b"{}"
        ids = await documents_service.list_ids(session, other, address)
        assert ids.ids == []
