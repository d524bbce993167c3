"""Every query of the identity context."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from creditbank.identity.models import (
    ConsentCode,
    IdentityLink,
    Institution,
    Learner,
    LoginAttempt,
    LrsCredential,
    RefreshToken,
    RoleGrant,
    User,
)


class IdentityRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> IdentityRepository:
        return cls(session)

    async def institution_by_key(self, key: str) -> Institution | None:
        result = await self.session.execute(select(Institution).where(Institution.key == key))
        return result.scalar_one_or_none()

    async def institution_by_id(self, institution_id: uuid.UUID) -> Institution | None:
        return await self.session.get(Institution, institution_id)

    async def list_institutions(self) -> list[Institution]:
        result = await self.session.execute(select(Institution).order_by(Institution.key))
        return list(result.scalars())

    async def credential_by_key(self, key: str) -> LrsCredential | None:
        result = await self.session.execute(
            select(LrsCredential)
            .options(joinedload(LrsCredential.institution))
            .where(LrsCredential.key == key)
        )
        return result.scalar_one_or_none()

    async def credentials_of(self, institution: Institution) -> list[LrsCredential]:
        result = await self.session.execute(
            select(LrsCredential)
            .where(LrsCredential.institution_id == institution.id)
            .order_by(LrsCredential.created_at)
        )
        return list(result.scalars())

    async def credential_by_id(self, credential_id: uuid.UUID) -> LrsCredential | None:
        result = await self.session.execute(
            select(LrsCredential)
            .options(joinedload(LrsCredential.institution))
            .where(LrsCredential.id == credential_id)
        )
        return result.scalar_one_or_none()

    # -- learners and links -------------------------------------------------------------

    async def learner_by_id(self, learner_id: uuid.UUID) -> Learner | None:
        return await self.session.get(Learner, learner_id)

    async def learner_by_bank_id(self, bank_id: str) -> Learner | None:
        result = await self.session.execute(select(Learner).where(Learner.bank_id == bank_id))
        return result.scalar_one_or_none()

    async def learner_by_national_id_index(self, index: str) -> Learner | None:
        result = await self.session.execute(
            select(Learner).where(Learner.national_id_index == index)
        )
        return result.scalar_one_or_none()

    async def learners_by_national_id_index(self, indexes: list[str]) -> dict[str, Learner]:
        if not indexes:
            return {}
        result = await self.session.execute(
            select(Learner).where(Learner.national_id_index.in_(indexes))
        )
        return {learner.national_id_index or "": learner for learner in result.scalars()}

    async def list_learners(self, *, limit: int, offset: int) -> list[Learner]:
        result = await self.session.execute(
            select(Learner).order_by(Learner.created_at, Learner.id).limit(limit).offset(offset)
        )
        return list(result.scalars())

    async def all_learners(self) -> list[Learner]:
        result = await self.session.execute(select(Learner).order_by(Learner.id))
        return list(result.scalars())

    async def learner_ids_for_ifis(self, ifis: Sequence[str]) -> dict[str, uuid.UUID]:
        """ifi -> learner id for the linked ones among ``ifis`` (one query)."""
        if not ifis:
            return {}
        result = await self.session.execute(
            select(IdentityLink.ifi, IdentityLink.learner_id)
            .join(Learner, Learner.id == IdentityLink.learner_id)
            .where(IdentityLink.ifi.in_(list(ifis)))
        )
        return {str(ifi): learner_id for ifi, learner_id in result.all()}

    async def institutions_by_ids(self, ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Institution]:
        if not ids:
            return {}
        result = await self.session.execute(
            select(Institution).where(Institution.id.in_(list(ids)))
        )
        return {row.id: row for row in result.scalars()}

    async def link_by_ifi(self, ifi: str) -> IdentityLink | None:
        result = await self.session.execute(select(IdentityLink).where(IdentityLink.ifi == ifi))
        return result.scalar_one_or_none()

    async def links_by_ifis(self, ifis: list[str]) -> list[IdentityLink]:
        if not ifis:
            return []
        result = await self.session.execute(select(IdentityLink).where(IdentityLink.ifi.in_(ifis)))
        return list(result.scalars())

    async def link_by_id(self, link_id: uuid.UUID) -> IdentityLink | None:
        return await self.session.get(IdentityLink, link_id)

    async def links_of(self, learner_id: uuid.UUID) -> list[IdentityLink]:
        result = await self.session.execute(
            select(IdentityLink)
            .where(IdentityLink.learner_id == learner_id)
            .order_by(IdentityLink.created_at, IdentityLink.ifi)
        )
        return list(result.scalars())

    async def delete_links_of(self, learner_id: uuid.UUID) -> int:
        result = await self.session.execute(
            delete(IdentityLink).where(IdentityLink.learner_id == learner_id)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def consent_by_hash(self, code_hash: str) -> ConsentCode | None:
        result = await self.session.execute(
            select(ConsentCode).where(ConsentCode.code_hash == code_hash)
        )
        return result.scalar_one_or_none()

    async def use_consent(self, code: ConsentCode, *, at: datetime, by: uuid.UUID) -> bool:
        """Mark a code used, only if still unused (a concurrent second use gets False)."""
        result = await self.session.execute(
            update(ConsentCode)
            .where(ConsentCode.id == code.id, ConsentCode.used_at.is_(None))
            .values(used_at=at, used_by_institution_id=by)
            .execution_options(synchronize_session=False)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def consents_of(self, learner_id: uuid.UUID) -> list[ConsentCode]:
        result = await self.session.execute(
            select(ConsentCode)
            .where(ConsentCode.learner_id == learner_id)
            .order_by(ConsentCode.created_at)
        )
        return list(result.scalars())

    async def delete_consents_of(self, learner_id: uuid.UUID) -> None:
        await self.session.execute(delete(ConsentCode).where(ConsentCode.learner_id == learner_id))

    # -- users --------------------------------------------------------------------------

    async def user_by_username(self, username: str) -> User | None:
        result = await self.session.execute(
            select(User)
            .options(selectinload(User.grants).joinedload(RoleGrant.institution))
            .where(User.username == username)
        )
        return result.scalar_one_or_none()

    async def user_by_id(self, user_id: uuid.UUID) -> User | None:
        result = await self.session.execute(
            select(User)
            .options(selectinload(User.grants).joinedload(RoleGrant.institution))
            .where(User.id == user_id)
            .execution_options(populate_existing=True)
        )
        return result.scalar_one_or_none()

    async def user_of_learner(self, learner_id: uuid.UUID) -> User | None:
        result = await self.session.execute(
            select(User)
            .options(selectinload(User.grants).joinedload(RoleGrant.institution))
            .where(User.learner_id == learner_id)
        )
        return result.scalar_one_or_none()

    async def list_users(self) -> list[User]:
        result = await self.session.execute(
            select(User)
            .options(selectinload(User.grants).joinedload(RoleGrant.institution))
            .order_by(User.username)
        )
        return list(result.scalars())

    async def refresh_by_hash(self, token_hash: str) -> RefreshToken | None:
        result = await self.session.execute(
            select(RefreshToken).where(RefreshToken.token_hash == token_hash)
        )
        return result.scalar_one_or_none()

    async def revoke_refresh(
        self, *, at: datetime, family_id: uuid.UUID | None = None, user_id: uuid.UUID | None = None
    ) -> None:
        query = update(RefreshToken).where(RefreshToken.revoked_at.is_(None))
        if family_id is not None:
            query = query.where(RefreshToken.family_id == family_id)
        if user_id is not None:
            query = query.where(RefreshToken.user_id == user_id)
        await self.session.execute(
            query.values(revoked_at=at).execution_options(synchronize_session=False)
        )

    async def attempts_since(self, ip: str, since: datetime) -> int:
        result = await self.session.execute(
            select(func.count())
            .select_from(LoginAttempt)
            .where(LoginAttempt.ip == ip, LoginAttempt.at >= since)
        )
        return int(result.scalar_one())

    async def failures_since(self, ip: str, username: str, since: datetime) -> int:
        """Failed password attempts of this address for this user name since ``since``."""
        result = await self.session.execute(
            select(func.count())
            .select_from(LoginAttempt)
            .where(
                LoginAttempt.ip == ip,
                LoginAttempt.username == username,
                LoginAttempt.success.is_(False),
                LoginAttempt.at >= since,
            )
        )
        return int(result.scalar_one())

    async def prune_attempts(self, before: datetime) -> None:
        await self.session.execute(delete(LoginAttempt).where(LoginAttempt.at < before))
