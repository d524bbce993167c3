"""Identity links: which xAPI agents (IFIs) are which learner.

A link is made with the learner's consent code, by national ID in bulk, or by the
operator; ``learner_for_ifi`` and ``ifis_of`` are the lookups other contexts use.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.errors import BadRequest, Conflict, DomainError, NotFound
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.institutions import institutions
from creditbank.identity.learners import CTX_NATIONAL_ID, learners, require_not_erased
from creditbank.identity.models import (
    ConsentCode,
    IdentityLink,
    Institution,
    Learner,
)
from creditbank.identity.national_id import normalise_national_id
from creditbank.identity.principal import Principal
from creditbank.identity.repository import IdentityRepository
from creditbank.jobs.service import jobs
from creditbank.kit.crypto import Keyring
from creditbank.kit.time import utc_now
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.lrs.xapi.validate import validate_agent

CTX_CONSENT = "consent_codes.code"

LINK_CREATED_JOB = "identity.link_created"
CONSENT_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


class LinkService:
    # -- lookups for other contexts ----------------------------------------------

    async def learner_for_ifi(self, session: AsyncSession, ifi: str) -> Learner | None:
        """The learner a canonical IFI key is linked to, if any."""
        repo = IdentityRepository.from_session(session)
        link = await repo.link_by_ifi(ifi)
        return None if link is None else await repo.learner_by_id(link.learner_id)

    async def learner_ids_for_ifis(
        self, session: AsyncSession, ifis: Sequence[str]
    ) -> dict[str, uuid.UUID]:
        """Batch :meth:`learner_for_ifi`: ifi -> learner id, for the linked ones (one query)."""
        return await IdentityRepository.from_session(session).learner_ids_for_ifis(ifis)

    async def linked_through(
        self, session: AsyncSession, ifis: list[str]
    ) -> dict[str, uuid.UUID | None]:
        """For each of ``ifis`` linked to a learner: the institution it was linked
        through (``None``: linked by the operator or in bulk without one)."""
        links = await IdentityRepository.from_session(session).links_by_ifis(ifis)
        return {link.ifi: link.institution_id for link in links}

    async def ifis_of(self, session: AsyncSession, learner_id: uuid.UUID) -> list[str]:
        """Every canonical IFI key linked to the learner."""
        links = await IdentityRepository.from_session(session).links_of(learner_id)
        return [link.ifi for link in links]

    # -- making and removing links (acting for a caller) -------------------------

    async def create_consent_code(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        ttl_seconds: int,
        institution: Institution | None = None,
        ip: str | None = None,
    ) -> tuple[ConsentCode, str]:
        """A single-use code (shown once) the learner gives an institution to link her."""
        authz.authorize(actor, "consent.create", Resource(learner_id=learner.id))
        require_not_erased(learner)
        raw = "".join(secrets.choice(CONSENT_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        consent = ConsentCode(
            learner_id=learner.id,
            code_hash=keyring.blind_index(raw, context=CTX_CONSENT),
            institution_id=institution.id if institution else None,
            expires_at=utc_now() + timedelta(seconds=ttl_seconds),
        )
        session.add(consent)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="consent.create",
            object_type="learner",
            object_id=learner.id,
            detail={
                "consent_id": str(consent.id),
                "institution": institution.key if institution else None,
            },
            ip=ip,
        )
        return consent, code

    async def link_with_consent(
        self,
        session: AsyncSession,
        actor: Principal,
        institution_key: str | None,
        *,
        keyring: Keyring,
        consent_code: str,
        agent: Mapping[str, Any],
        ip: str | None = None,
    ) -> IdentityLink:
        """(a) The institution (named, or the caller's own) asserts that ``agent`` is the
        learner who gave the code. Refusals (unknown or replayed codes, IFIs linked to
        someone else) are audited."""
        async with audit.refusals(
            session, actor=actor, action="link.create", object_type="identity_link", ip=ip
        ):
            institution = await institutions.institution_for_caller(session, actor, institution_key)
            return await self._link_with_consent(
                session,
                actor,
                institution,
                keyring=keyring,
                consent_code=consent_code,
                agent=agent,
                ip=ip,
            )

    async def _link_with_consent(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        keyring: Keyring,
        consent_code: str,
        agent: Mapping[str, Any],
        ip: str | None = None,
    ) -> IdentityLink:
        """(a) The institution asserts that ``agent`` is the learner who gave the code."""
        authz.authorize(actor, "link.assert", Resource(institution_id=institution.id))
        ifi, kind = canonical_ifi(agent)
        _require_owned_home_page(institution, ifi, kind)
        raw = consent_code.strip().upper().replace("-", "").replace(" ", "")
        repo = IdentityRepository.from_session(session)
        consent = await repo.consent_by_hash(keyring.blind_index(raw, context=CTX_CONSENT))
        now = utc_now()
        if consent is None:
            raise BadRequest("unknown consent code / 授权码无效", code="invalid_consent_code")
        if consent.used_at is not None:
            raise Conflict("consent code already used / 授权码已使用", code="consent_code_used")
        if consent.expires_at <= now:
            raise BadRequest("consent code expired / 授权码已过期", code="consent_code_expired")
        if consent.institution_id is not None and consent.institution_id != institution.id:
            raise BadRequest(
                "consent code was given to another institution / 授权码不属于本机构",
                code="invalid_consent_code",
            )
        learner = await learners.get_learner(session, consent.learner_id)
        require_not_erased(learner)
        if not await repo.use_consent(consent, at=now, by=institution.id):
            raise Conflict("consent code already used / 授权码已使用", code="consent_code_used")
        link, _created = await self._link(
            session,
            actor,
            learner,
            ifi=ifi,
            kind=kind,
            institution=institution,
            method="consent",
            ip=ip,
            detail={"consent_id": str(consent.id)},
        )
        return link

    async def bulk_link_by_national_id(
        self,
        session: AsyncSession,
        actor: Principal,
        institution_key: str | None,
        *,
        keyring: Keyring,
        items: list[Mapping[str, Any]],
        ip: str | None = None,
    ) -> list[dict[str, Any]]:
        """(b) in bulk for the institution named (or the caller's own); refusals audited."""
        async with audit.refusals(
            session, actor=actor, action="link.bulk", object_type="identity_link", ip=ip
        ):
            institution = await institutions.institution_for_caller(session, actor, institution_key)
            return await self._bulk_link_by_national_id(
                session, actor, institution, keyring=keyring, items=items, ip=ip
            )

    async def _bulk_link_by_national_id(
        self,
        session: AsyncSession,
        actor: Principal,
        institution: Institution,
        *,
        keyring: Keyring,
        items: list[Mapping[str, Any]],
        ip: str | None = None,
    ) -> list[dict[str, Any]]:
        """(b) Link each ``{national_id, agent}`` to the learner with that national ID.

        All-or-nothing: a malformed item is 400, an IFI linked to someone else 409,
        and nothing is linked. Items whose national ID has no account are reported
        ``no_learner`` (the institution learns nothing else about them).
        """
        authz.authorize(actor, "link.bulk", Resource(institution_id=institution.id))
        if not items or len(items) > 1000:
            raise BadRequest("between 1 and 1000 items", code="invalid_batch")
        prepared: list[tuple[str, str, str]] = []
        problems: list[dict[str, Any]] = []
        for position, item in enumerate(items):
            try:
                number = normalise_national_id(str(item.get("national_id", "")))
                ifi, kind = canonical_ifi(item.get("agent") or {})
                _require_owned_home_page(institution, ifi, kind)
            except DomainError as exc:
                problems.append({"index": position, "error": exc.code})
                continue
            prepared.append((keyring.blind_index(number, context=CTX_NATIONAL_ID), ifi, kind))
        if problems:
            raise BadRequest(
                f"{len(problems)} invalid item(s), nothing linked: {problems}",
                code="invalid_items",
            )
        repo = IdentityRepository.from_session(session)
        learners = await repo.learners_by_national_id_index([p[0] for p in prepared])
        results: list[dict[str, Any]] = []
        for position, (index, ifi, kind) in enumerate(prepared):
            learner = learners.get(index)
            if learner is None or learner.erased_at is not None:
                results.append({"index": position, "status": "no_learner"})
                continue
            try:
                link, created = await self._link(
                    session,
                    actor,
                    learner,
                    ifi=ifi,
                    kind=kind,
                    institution=institution,
                    method="national_id",
                    ip=ip,
                    detail={"bulk_index": position},
                )
            except Conflict as exc:
                raise Conflict(
                    f"item {position}: {exc.detail}; nothing linked", code=exc.code
                ) from exc
            results.append(
                {
                    "index": position,
                    "status": "linked" if created else "already_linked",
                    "link_id": str(link.id),
                    "bank_id": learner.bank_id,
                }
            )
        return results

    async def link_by_operator(
        self,
        session: AsyncSession,
        actor: Principal | str,
        learner: Learner,
        *,
        agent: Mapping[str, Any],
        institution: Institution | None = None,
        ip: str | None = None,
        process_waiting: bool = True,
    ) -> IdentityLink:
        """The operator (or the demo loader / CLI) attaches an IFI directly.

        ``process_waiting=False`` skips the ``identity.link_created`` job: only for a
        loader that knows no statement of this IFI can exist yet (the demo's fresh data).
        """
        if isinstance(actor, Principal):
            authz.authorize(actor, "user.manage")
        ifi, kind = canonical_ifi(agent)
        link, _ = await self._link(
            session,
            actor,
            learner,
            ifi=ifi,
            kind=kind,
            institution=institution,
            method="operator",
            ip=ip,
            detail={},
            process_waiting=process_waiting,
        )
        return link

    async def _link(
        self,
        session: AsyncSession,
        actor: Principal | str,
        learner: Learner,
        *,
        ifi: str,
        kind: str,
        institution: Institution | None,
        method: str,
        ip: str | None,
        detail: dict[str, Any],
        process_waiting: bool = True,
    ) -> tuple[IdentityLink, bool]:
        repo = IdentityRepository.from_session(session)
        existing = await repo.link_by_ifi(ifi)
        if existing is not None:
            if existing.learner_id == learner.id:
                return existing, False
            raise Conflict(
                "this identity is linked to another learner / 该身份已关联其他学习者",
                code="ifi_already_linked",
            )
        link = IdentityLink(
            learner_id=learner.id,
            ifi=ifi,
            kind=kind,
            institution_id=institution.id if institution else None,
            method=method,
        )
        session.add(link)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                "this identity is linked to another learner / 该身份已关联其他学习者",
                code="ifi_already_linked",
            ) from exc
        # Statements of this actor that waited for a link get processed, exactly once.
        if process_waiting:
            await jobs.enqueue(
                session,
                LINK_CREATED_JOB,
                {"learner_id": str(learner.id), "ifi": ifi, "link_id": str(link.id)},
                dedupe_key=f"link:{ifi}:{link.id}"[:200],
            )
        await audit.record(
            session,
            actor=actor,
            action="link.create",
            object_type="learner",
            object_id=learner.id,
            detail={
                "link_id": str(link.id),
                "kind": kind,
                "method": method,
                "institution": institution.key if institution else None,
                **detail,
            },
            ip=ip,
        )
        return link, True

    async def list_links(
        self, session: AsyncSession, actor: Principal, learner: Learner
    ) -> list[IdentityLink]:
        authz.authorize(actor, "link.read", Resource(learner_id=learner.id))
        return await IdentityRepository.from_session(session).links_of(learner.id)

    async def remove_link(
        self,
        session: AsyncSession,
        actor: Principal,
        link_id: uuid.UUID,
        *,
        ip: str | None = None,
    ) -> None:
        repo = IdentityRepository.from_session(session)
        link = await repo.link_by_id(link_id)
        if link is None:
            raise NotFound("no such link", code="link_not_found")
        authz.authorize(
            actor,
            "link.delete",
            Resource(learner_id=link.learner_id, institution_id=link.institution_id),
        )
        await session.delete(link)
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="link.delete",
            object_type="learner",
            object_id=link.learner_id,
            detail={"link_id": str(link.id), "kind": link.kind},
            ip=ip,
        )


def canonical_ifi(agent: object) -> tuple[str, str]:
    """``(ifi key, kind)`` of an xAPI Agent the LRS accepts (its own validation), else 400.

    One rule for both: a link never names an agent the LRS would refuse, nor refuses
    one the LRS stores.
    """
    try:
        valid = validate_agent(agent, path="agent", allow_group=False)
    except XAPIValidationError as exc:
        raise BadRequest(f"invalid agent: {exc}", code="invalid_agent") from exc
    ifi = agent_ifi(valid)
    if ifi is None:  # pragma: no cover - a valid Agent has exactly one IFI
        raise BadRequest("agent has no IFI", code="invalid_agent")
    return ifi, ifi.partition(":")[0]


def _require_owned_home_page(institution: Institution, ifi: str, kind: str) -> None:
    """An institution asserts account IFIs only on the homePages it owns."""
    if kind != "account":
        return
    home_page = ifi[len("account:") :].partition("|")[0]
    owned = {page.rstrip("/") for page in institution.home_pages}
    if home_page.rstrip("/") not in owned:
        raise DomainError(
            "account homePage is not one of this institution's / 账号主页不属于本机构",
            code="home_page_not_owned",
            status_code=403,
        )


links = LinkService()
