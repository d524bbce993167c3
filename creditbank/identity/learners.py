"""Learners: bank accounts with encrypted personal fields and a blind-indexed national ID."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.config import Settings
from creditbank.errors import BadRequest, Conflict, NotFound
from creditbank.identity import authz
from creditbank.identity.authz import Resource
from creditbank.identity.classification import mask
from creditbank.identity.models import Learner
from creditbank.identity.national_id import normalise_national_id
from creditbank.identity.principal import Principal
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.signin import RoleSpec, sign_in
from creditbank.kit.crypto import Keyring

#: Associated-data contexts of the encrypted learner columns (and of the blind index).
CTX_NAME = "learners.name"
CTX_NATIONAL_ID = "learners.national_id"
CTX_PHONE = "learners.phone"
CTX_EMAIL = "learners.email"
_PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class LearnerService:
    async def get_learner(self, session: AsyncSession, learner_id: uuid.UUID) -> Learner:
        learner = await IdentityRepository.from_session(session).learner_by_id(learner_id)
        if learner is None:
            raise NotFound("no such learner / 学习者不存在", code="learner_not_found")
        return learner

    async def create_learner(
        self,
        session: AsyncSession,
        actor: Principal | str,
        *,
        keyring: Keyring,
        name: str,
        national_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        ip: str | None = None,
    ) -> Learner:
        """A new bank account; personal fields encrypted, national ID blind-indexed."""
        if isinstance(actor, Principal):
            authz.authorize(actor, "learner.create")
        fields = _check_profile(name=name, phone=phone, email=email)
        number = normalise_national_id(national_id) if national_id is not None else None
        repo = IdentityRepository.from_session(session)
        index = keyring.blind_index(number, context=CTX_NATIONAL_ID) if number else None
        if index is not None and await repo.learner_by_national_id_index(index) is not None:
            raise Conflict(
                "a learner with this national ID exists / 该身份证号已开户", code="learner_exists"
            )
        learner = Learner(
            bank_id=await self._new_bank_id(repo),
            name_enc=keyring.encrypt(fields["name"] or "", context=CTX_NAME),
            national_id_enc=keyring.encrypt_optional(number, context=CTX_NATIONAL_ID),
            national_id_index=index,
            phone_enc=keyring.encrypt_optional(fields["phone"], context=CTX_PHONE),
            email_enc=keyring.encrypt_optional(fields["email"], context=CTX_EMAIL),
        )
        session.add(learner)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("learner exists / 学习者已存在", code="learner_exists") from exc
        await audit.record(
            session,
            actor=actor,
            action="learner.create",
            object_type="learner",
            object_id=learner.id,
            detail={"bank_id": learner.bank_id},
            ip=ip,
        )
        return learner

    async def open_account(
        self,
        session: AsyncSession,
        actor: Principal,
        *,
        keyring: Keyring,
        settings: Settings,
        name: str,
        national_id: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        username: str | None = None,
        password: str | None = None,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """A bank account and, given a username and password, the learner's sign-in, as
        one operation: both or neither (a savepoint, so even a caller that catches the
        error keeps nothing). Returns the masked profile."""
        async with session.begin_nested():
            learner = await self.create_learner(
                session,
                actor,
                keyring=keyring,
                name=name,
                national_id=national_id,
                phone=phone,
                email=email,
                ip=ip,
            )
            if username is not None and password is not None:
                await sign_in.create_user(
                    session,
                    actor,
                    settings=settings,
                    username=username,
                    password=password,
                    display_name=None,
                    learner=learner,
                    roles=[RoleSpec("learner")],
                    ip=ip,
                )
        return await self.read_profile(session, actor, learner, keyring=keyring)

    async def read_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner_id: uuid.UUID,
        *,
        keyring: Keyring,
        reveal: bool = False,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """:meth:`read_profile` of the learner with this id; refusals are audited."""
        async with audit.refusals(
            session,
            actor=actor,
            action="learner.read",
            object_type="learner",
            object_id=learner_id,
            ip=ip,
        ):
            learner = await self.get_learner(session, learner_id)
            return await self.read_profile(
                session, actor, learner, keyring=keyring, reveal=reveal, ip=ip
            )

    @staticmethod
    async def _new_bank_id(repo: IdentityRepository) -> str:
        while True:
            bank_id = f"CB{secrets.randbelow(10**12):012d}"
            if await repo.learner_by_bank_id(bank_id) is None:
                return bank_id

    async def update_learner(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        changes: Mapping[str, str | None],
        ip: str | None = None,
    ) -> Learner:
        """Name, phone, email (the national ID is fixed once given, unless it was absent)."""
        authz.authorize(actor, "learner.update", Resource(learner_id=learner.id))
        require_not_erased(learner)
        allowed = {"name", "phone", "email", "national_id"}
        unknown = set(changes) - allowed
        if unknown:
            raise BadRequest(f"cannot change {sorted(unknown)}", code="invalid_field")
        fields = _check_profile(
            name=changes.get("name"), phone=changes.get("phone"), email=changes.get("email")
        )
        if "name" in changes and fields["name"]:
            learner.name_enc = keyring.encrypt(fields["name"], context=CTX_NAME)
        if "phone" in changes:
            learner.phone_enc = keyring.encrypt_optional(fields["phone"], context=CTX_PHONE)
        if "email" in changes:
            learner.email_enc = keyring.encrypt_optional(fields["email"], context=CTX_EMAIL)
        if changes.get("national_id") is not None:
            if learner.national_id_enc is not None:
                raise Conflict("national ID already set / 身份证号已登记", code="national_id_set")
            number = normalise_national_id(str(changes["national_id"]))
            index = keyring.blind_index(number, context=CTX_NATIONAL_ID)
            repo = IdentityRepository.from_session(session)
            if await repo.learner_by_national_id_index(index) is not None:
                raise Conflict("national ID belongs to another account", code="learner_exists")
            learner.national_id_enc = keyring.encrypt(number, context=CTX_NATIONAL_ID)
            learner.national_id_index = index
        await session.flush()
        await audit.record(
            session,
            actor=actor,
            action="learner.update",
            object_type="learner",
            object_id=learner.id,
            detail={"fields": sorted(changes)},
            ip=ip,
        )
        return learner

    async def read_profile(
        self,
        session: AsyncSession,
        actor: Principal,
        learner: Learner,
        *,
        keyring: Keyring,
        reveal: bool = False,
        ip: str | None = None,
    ) -> dict[str, Any]:
        """The profile; masked unless ``reveal`` (and the role allows it: audited read)."""
        authz.authorize(actor, "learner.read", Resource(learner_id=learner.id))
        profile = decrypt_profile(keyring, learner)
        if reveal:
            authz.authorize(actor, "learner.read_sensitive", Resource(learner_id=learner.id))
            await audit.record(
                session,
                actor=actor,
                action="learner.read_sensitive",
                object_type="learner",
                object_id=learner.id,
                detail={"fields": sorted(k for k, v in profile.items() if v)},
                ip=ip,
            )
        else:
            profile = {k: mask(k, v) for k, v in profile.items()}
        return {
            "id": learner.id,
            "bank_id": learner.bank_id,
            **profile,
            "created_at": learner.created_at,
            "erased": learner.erased_at is not None,
            "masked": not reveal,
        }

    async def find_by_national_id(
        self,
        session: AsyncSession,
        actor: Principal,
        national_id: str,
        *,
        keyring: Keyring,
        ip: str | None = None,
    ) -> Learner | None:
        """Exact lookup through the blind index (operator; audited)."""
        authz.authorize(actor, "learner.list")
        number = normalise_national_id(national_id)
        learner = await IdentityRepository.from_session(session).learner_by_national_id_index(
            keyring.blind_index(number, context=CTX_NATIONAL_ID)
        )
        await audit.record(
            session,
            actor=actor,
            action="learner.lookup_national_id",
            object_type="learner",
            object_id=learner.id if learner else None,
            detail={"found": learner is not None},
            ip=ip,
        )
        return learner

    async def list_learners(
        self, session: AsyncSession, actor: Principal, *, limit: int = 100, offset: int = 0
    ) -> list[Learner]:
        authz.authorize(actor, "learner.list")
        return await IdentityRepository.from_session(session).list_learners(
            limit=max(1, min(limit, 500)), offset=max(0, offset)
        )

    # -- key rotation -----------------------------------------------------------------

    async def reencrypt_all(self, session: AsyncSession, *, keyring: Keyring) -> int:
        """Re-encrypt every learner field not under the current key; returns the count."""
        count = 0
        columns = (
            ("name_enc", CTX_NAME),
            ("national_id_enc", CTX_NATIONAL_ID),
            ("phone_enc", CTX_PHONE),
            ("email_enc", CTX_EMAIL),
        )
        for learner in await IdentityRepository.from_session(session).all_learners():
            for column, context in columns:
                value = getattr(learner, column)
                if keyring.needs_reencrypt(value):
                    setattr(learner, column, keyring.reencrypt(value, context=context))
                    count += 1
        await session.flush()
        await audit.record(
            session,
            actor="cli",
            action="keys.reencrypt",
            object_type="keyring",
            object_id=keyring.current,
            detail={"values": count},
        )
        return count


def require_not_erased(learner: Learner) -> None:
    if learner.erased_at is not None:
        raise Conflict("the account was erased / 账户已注销", code="learner_erased")


def decrypt_profile(keyring: Keyring, learner: Learner) -> dict[str, str | None]:
    return {
        "name": keyring.decrypt_optional(learner.name_enc, context=CTX_NAME),
        "national_id": keyring.decrypt_optional(learner.national_id_enc, context=CTX_NATIONAL_ID),
        "phone": keyring.decrypt_optional(learner.phone_enc, context=CTX_PHONE),
        "email": keyring.decrypt_optional(learner.email_enc, context=CTX_EMAIL),
    }


def _check_profile(
    *, name: str | None, phone: str | None, email: str | None
) -> dict[str, str | None]:
    if name is not None:
        name = name.strip()
        if not name or len(name) > 100:
            raise BadRequest("name must be 1-100 characters / 姓名长度1-100", code="invalid_name")
    if phone is not None:
        phone = phone.strip()
        if not _PHONE.match(phone):
            raise BadRequest("malformed phone number / 手机号格式错误", code="invalid_phone")
    if email is not None:
        email = email.strip()
        if not _EMAIL.match(email) or len(email) > 254:
            raise BadRequest("malformed email address / 邮箱格式错误", code="invalid_email")
    return {"name": name, "phone": phone, "email": email}


learners = LearnerService()
