"""Data subject rights: a learner's export of everything held about her, and erasure.

Other contexts contribute their part through ``register_exporter`` /
``register_eraser``, called at start-up by ``creditbank.bootstrap.register_data_rights``
(never as an import side effect). Export and erasure refuse to run before that: an
erasure that silently skipped the other contexts would leave her data behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.learners import decrypt_profile, learners
from creditbank.identity.models import Learner
from creditbank.identity.principal import Principal
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.signin import sign_in
from creditbank.kit.crypto import Keyring
from creditbank.kit.time import isoformat_z, utc_now

#: Other contexts add their part of a learner's export: name -> async fn(session, learner_id).
Exporter = Callable[[AsyncSession, uuid.UUID], Awaitable[Any]]
_EXPORTERS: dict[str, Exporter] = {}


def register_exporter(name: str, exporter: Exporter) -> None:
    """Contribute a section to the learner data export (outcomes, ledger, transcripts...)."""
    _EXPORTERS[name] = exporter


#: Other contexts erase or pseudonymise their personal data: name -> async fn(session, id).
Eraser = Callable[[AsyncSession, uuid.UUID], Awaitable[None]]
_ERASERS: dict[str, Eraser] = {}


def register_eraser(name: str, eraser: Eraser) -> None:
    """Run ``eraser`` in the erasure transaction (free text, messages...; never the ledger)."""
    _ERASERS[name] = eraser


def exporters() -> dict[str, Exporter]:
    """The registered export sections (name -> exporter)."""
    return dict(_EXPORTERS)


def erasers() -> dict[str, Eraser]:
    """The registered erasers (name -> eraser)."""
    return dict(_ERASERS)


def _require_registered(hooks: Mapping[str, object]) -> None:
    if not hooks:
        raise RuntimeError(
            "data-rights hooks are not registered: the entry point must call "
            "creditbank.bootstrap.register_data_rights()"
        )


class DataRightsService:
    async def export_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner_id: uuid.UUID,
        *,
        keyring: Keyring,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """Everything the bank holds about the learner, decrypted, as JSON-ready data
        (refusals audited)."""
        async with audit.refusals(
            session,
            actor=actor,
            action="learner.export",
            object_type="learner",
            object_id=learner_id,
            ip=ip,
        ):
            learner = await learners.get_learner(session, learner_id)
            return await self._export(session, actor, learner, keyring=keyring, ip=ip)

    async def _export(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        ip: str | None,
    ) -> dict[str, Any]:

        authz.authorize(actor, "learner.export", Resource(learner_id=learner.id))
        _require_registered(_EXPORTERS)
        repo = IdentityRepository.from_session(session)
        user = await repo.user_of_learner(learner.id)
        sections: dict[str, Any] = {}
        for name, exporter in sorted(_EXPORTERS.items()):
            sections[name] = await exporter(session, learner.id)
        entries = await audit.query(
            session, AuditFilter(object_type="learner", object_id=str(learner.id), limit=500)
        )
        await audit.record(
            session,
            actor=actor,
            action="learner.export",
            object_type="learner",
            object_id=learner.id,
            detail={"sections": sorted(sections)},
            ip=ip,
        )
        return {
            "format": "creditbank.learner-export.v1",
            "exported_at": isoformat_z(utc_now()),
            "learner": {
                "id": str(learner.id),
                "bank_id": learner.bank_id,
                **decrypt_profile(keyring, learner),
                "created_at": isoformat_z(learner.created_at),
                "erased_at": isoformat_z(learner.erased_at) if learner.erased_at else None,
            },
            "identity_links": [
                {
                    "id": str(link.id),
                    "ifi": link.ifi,
                    "kind": link.kind,
                    "method": link.method,
                    "created_at": isoformat_z(link.created_at),
                }
                for link in await repo.links_of(learner.id)
            ],
            "consent_codes": [
                {
                    "id": str(c.id),
                    "created_at": isoformat_z(c.created_at),
                    "expires_at": isoformat_z(c.expires_at),
                    "used_at": isoformat_z(c.used_at) if c.used_at else None,
                }
                for c in await repo.consents_of(learner.id)
            ],
            "user": None if user is None else sign_in.describe_user(user),
            "audit": [
                {
                    "at": isoformat_z(e.at),
                    "action": e.action,
                    "actor_kind": e.actor_kind,
                    "outcome": e.outcome,
                    "detail": e.detail,
                }
                for e in entries
            ],
            **sections,
        }

    async def erase_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner_id: uuid.UUID,
        *,
        ip: str | None = None,
    ) -> Learner:
        """Erase personal data; the account id stays as a pseudonym for the ledger.

        Encrypted fields and the blind index are cleared, identity links and consent
        codes deleted, the sign-in disabled and its sessions revoked. Ledger entries
        and issued transcripts reference only the learner id, so they stay verifiable.
        Refusals are audited.
        """
        async with audit.refusals(
            session,
            actor=actor,
            action="learner.erase",
            object_type="learner",
            object_id=learner_id,
            ip=ip,
        ):
            learner = await learners.get_learner(session, learner_id)
            return await self._erase(session, actor, learner, ip=ip)

    async def _erase(
        self, session: AsyncSession, actor: Principal, learner: Learner, *, ip: str | None
    ) -> Learner:

        authz.authorize(actor, "learner.erase", Resource(learner_id=learner.id))
        _require_registered(_ERASERS)
        if learner.erased_at is not None:
            return learner
        repo = IdentityRepository.from_session(session)
        # Other contexts find her data through her links: erase theirs first.
        for _name, eraser in sorted(_ERASERS.items()):
            await eraser(session, learner.id)
        links = await repo.delete_links_of(learner.id)
        await repo.delete_consents_of(learner.id)
        learner.name_enc = None
        learner.national_id_enc = None
        learner.national_id_index = None
        learner.phone_enc = None
        learner.email_enc = None
        learner.erased_at = utc_now()
        user = await repo.user_of_learner(learner.id)
        if user is not None:
            await sign_in.disable_for_erasure(session, user)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="learner.erase",
            object_type="learner",
            object_id=learner.id,
            detail={"links_removed": links, "erasers": sorted(_ERASERS)},
            ip=ip,
        )
        return learner


data_rights = DataRightsService()
