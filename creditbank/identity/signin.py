"""Users, roles and sign-in: passwords, access tokens, refresh tokens, client credentials.

* Password login (argon2id) with a per-address rate limit and a per-user lockout
  after ``max_failed_logins`` failures in a row.
* Access tokens: short-lived EdDSA JWTs (``creditbank.identity.tokens``); every
  request rebuilds the principal from the database, so a disabled user, a changed
  role or a revoked credential takes effect at once.
* Refresh tokens: random, stored hashed, rotated on every use; presenting a
  rotated (revoked) one revokes its whole family (theft detection). Logout revokes.
* OAuth 2.0 client credentials: an LRS credential's key and secret buy a bearer
  token with the requested scopes (never more than the credential holds).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit
from creditbank.config import Settings
from creditbank.errors import BadRequest, Conflict, DomainError, NotFound, Unauthorized
from creditbank.identity import authz
from creditbank.identity.credentials import credential_principal, credentials
from creditbank.identity.models import (
    Institution,
    Learner,
    LoginAttempt,
    RefreshToken,
    Role,
    RoleGrant,
    User,
)
from creditbank.identity.passwords import check_password_rules, hash_password, verify_password
from creditbank.identity.principal import LRS_SCOPES, Principal, expand_scopes
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.tokens import issue_token, verify_token
from creditbank.kit.strict import invisible_char
from creditbank.kit.time import isoformat_z, utc_now


class TooManyAttempts(DomainError):
    status_code = 429
    code = "too_many_attempts"
    retry_after_seconds = 60


class AccountLocked(DomainError):
    status_code = 429
    code = "account_locked"
    retry_after_seconds = 60


@dataclass(frozen=True)
class RoleSpec:
    role: str
    institution: Institution | None = None
    programme: str | None = None


@dataclass(frozen=True)
class Tokens:
    access_token: str
    expires_in: int
    refresh_token: str | None
    refresh_expires_in: int
    user: User

    def body(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "user": sign_in.describe_user(self.user),
        }


@dataclass(frozen=True)
class LoginOutcome:
    """A login result; on failure ``error`` is raised by the caller *after* committing the
    failure bookkeeping (lockout counter, rate-limit row, audit entry)."""

    tokens: Tokens | None = None
    error: DomainError | None = None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user_principal(user: User) -> Principal:
    """The principal of a loaded user (grants eagerly loaded)."""
    roles: set[str] = set()
    admin_of: set[uuid.UUID] = set()
    scopes: set[tuple[str, str]] = set()
    admin_keys: dict[uuid.UUID, str] = {}
    for grant in user.grants:
        roles.add(grant.role)
        if grant.role == Role.INSTITUTION_ADMIN and grant.institution is not None:
            admin_of.add(grant.institution.id)
            admin_keys[grant.institution.id] = grant.institution.key
        if grant.role == Role.CERTIFIER:
            if grant.institution is not None:
                scopes.add(("institution", grant.institution.key))
            if grant.programme:
                scopes.add(("programme", grant.programme))
    if user.learner_id is not None:
        roles.add(Role.LEARNER)
    institution_id = next(iter(admin_of)) if len(admin_of) == 1 else None
    return Principal(
        kind="user",
        id=user.id,
        institution_id=institution_id,
        institution_key=admin_keys.get(institution_id) if institution_id else None,
        roles=frozenset(roles),
        learner_id=user.learner_id,
        certifier_scopes=frozenset(scopes),
        admin_of=frozenset(admin_of),
        label=user.username,
    )


class SignInService:
    # -- users ---------------------------------------------------------------------------

    async def create_user(
        self,
        session: AsyncSession,
        actor: Principal | str,
        *,
        settings: Settings,
        username: str,
        password: str,
        display_name: str | None = None,
        learner: Learner | None = None,
        roles: list[RoleSpec] | None = None,
        ip: str | None = None,
    ) -> User:
        """A user with a checked password and role grants (operator, or the CLI/demo)."""
        if isinstance(actor, Principal):
            authz.authorize(actor, "user.manage")
        username = username.strip()
        if not (3 <= len(username) <= 100) or any(c.isspace() for c in username):
            raise BadRequest("username: 3-100 characters, no spaces", code="invalid_username")
        hidden = invisible_char(username)
        if hidden is not None:
            # "operator\u202e..." must not pass for "operator" on anyone's screen.
            raise BadRequest(
                f"username: no control, bidi or zero-width characters ({hidden}) /"
                " 用户名不得包含控制字符或方向控制字符",
                code="invalid_username",
            )
        check_password_rules(
            password, min_length=settings.identity.password_min_length, username=username
        )
        repo = IdentityRepository.from_session(session)
        if await repo.user_by_username(username) is not None:
            raise Conflict("username taken / 用户名已存在", code="username_taken")
        user = User(
            username=username,
            password_hash=hash_password(settings, password),
            display_name=display_name,
            learner_id=learner.id if learner else None,
        )
        session.add(user)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("username or learner already has a user", code="user_exists") from exc
        for spec in roles or []:
            await self._add_grant(session, user, spec)
        await audit.record(
            session,
            actor=actor,
            action="user.create",
            object_type="user",
            object_id=user.id,
            detail={
                "roles": sorted(s.role for s in roles or []),
                "learner_id": str(learner.id) if learner else None,
            },
            ip=ip,
        )
        return await self.get_user(session, user.id)

    async def _add_grant(self, session: AsyncSession, user: User, spec: RoleSpec) -> RoleGrant:
        if spec.role not in set(Role):
            raise BadRequest(f"unknown role {spec.role!r}", code="invalid_role")
        if spec.role == Role.INSTITUTION_ADMIN and spec.institution is None:
            raise BadRequest("institution_admin needs an institution", code="invalid_role")
        if spec.role == Role.CERTIFIER and spec.institution is None and not spec.programme:
            raise BadRequest("certifier needs an institution or programme", code="invalid_role")
        grant = RoleGrant(
            user_id=user.id,
            role=spec.role,
            institution_id=spec.institution.id if spec.institution else None,
            programme=spec.programme,
        )
        session.add(grant)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("role already granted", code="role_exists") from exc
        return grant

    async def grant_role(
        self,
        session: AsyncSession,
        actor: Principal | str,
        user: User,
        spec: RoleSpec,
        *,
        ip: str | None = None,
    ) -> User:
        if isinstance(actor, Principal):
            authz.authorize(actor, "user.manage")
        grant = await self._add_grant(session, user, spec)
        await audit.record(
            session,
            actor=actor,
            action="role.grant",
            object_type="user",
            object_id=user.id,
            detail={
                "role": spec.role,
                "grant_id": str(grant.id),
                "institution": spec.institution.key if spec.institution else None,
                "programme": spec.programme,
            },
            ip=ip,
        )
        return await self.get_user(session, user.id)

    async def get_user(self, session: AsyncSession, user_id: uuid.UUID) -> User:
        user = await IdentityRepository.from_session(session).user_by_id(user_id)
        if user is None:
            raise NotFound("no such user", code="user_not_found")
        return user

    async def whoami(self, session: AsyncSession, actor: Principal) -> dict[str, Any]:
        """Who the caller is: a user with her roles, or a credential with its scopes."""
        if actor.kind == "user" and actor.id is not None:
            user = await self.get_user(session, actor.id)
            return {"kind": "user", **self.describe_user(user)}
        return {
            "kind": actor.kind,
            "id": str(actor.id) if actor.id else None,
            "institution": actor.institution_key,
            "scopes": sorted(actor.scopes),
        }

    async def list_users(self, session: AsyncSession, actor: Principal) -> list[User]:
        authz.authorize(actor, "user.manage")
        return await IdentityRepository.from_session(session).list_users()

    @staticmethod
    def describe_user(user: User) -> dict[str, Any]:
        return {
            "id": str(user.id),
            "username": user.username,
            "display_name": user.display_name,
            "learner_id": str(user.learner_id) if user.learner_id else None,
            "active": user.active,
            "roles": [
                {
                    "role": g.role,
                    "institution": g.institution.key if g.institution else None,
                    "programme": g.programme,
                }
                for g in user.grants
            ],
            "last_login_at": isoformat_z(user.last_login_at) if user.last_login_at else None,
        }

    async def disable_for_erasure(self, session: AsyncSession, user: User) -> None:
        user.username = f"erased-{user.id.hex[:16]}"
        user.display_name = None
        user.password_hash = None
        user.active = False
        await IdentityRepository.from_session(session).revoke_refresh(at=utc_now(), user_id=user.id)

    # -- password login -----------------------------------------------------------------

    async def login(
        self,
        session: AsyncSession,
        *,
        settings: Settings,
        username: str,
        password: str,
        ip: str,
    ) -> LoginOutcome:
        """Check the password; failures are recorded in ``session`` and returned, not raised."""
        cfg = settings.identity
        repo = IdentityRepository.from_session(session)
        now = utc_now()
        window_start = now - timedelta(seconds=cfg.login_rate_window_seconds)
        if await repo.attempts_since(ip, window_start) >= cfg.login_rate_limit:
            await audit.record(
                session,
                actor="anonymous",
                action="auth.login",
                object_type="user",
                detail={"reason": "rate_limited"},
                ip=ip,
                outcome="denied",
            )
            return LoginOutcome(
                error=TooManyAttempts(
                    "too many sign-in attempts, try later / 尝试次数过多，请稍后再试"
                )
            )
        # The lockout is per (address, user name), whether the name exists or not:
        # the answer never tells which names exist, and nobody can lock an account
        # for everyone else by failing on purpose from their own address.
        name = username.strip()[:100]
        if await repo.failures_since(ip, name, window_start) >= cfg.max_failed_logins:
            # Still an attempt of this address: it counts toward the address's limit.
            session.add(LoginAttempt(ip=ip, username=name, success=False, at=now))
            await audit.record(
                session,
                actor="anonymous",
                action="auth.login",
                object_type="user",
                detail={"reason": "locked"},
                ip=ip,
                outcome="denied",
            )
            return LoginOutcome(
                error=AccountLocked(
                    "too many failed sign-ins for this user name, try later /"
                    " 该用户名登录失败次数过多，请稍后再试"
                )
            )
        user = await repo.user_by_username(username.strip())
        ok = verify_password(settings, user.password_hash if user else None, password)
        session.add(LoginAttempt(ip=ip, username=name, success=ok, at=now))
        if user is None or not ok or not user.active:
            await audit.record(
                session,
                actor="anonymous",
                action="auth.login",
                object_type="user",
                object_id=user.id if user else None,
                detail={"reason": "bad_credentials"},
                ip=ip,
                outcome="denied",
            )
            return LoginOutcome(
                error=Unauthorized(
                    "wrong user name or password / 用户名或密码错误", code="invalid_credentials"
                )
            )
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        await repo.prune_attempts(now - timedelta(seconds=cfg.login_rate_window_seconds * 4))
        tokens = await self._issue(session, settings, user, family_id=uuid.uuid4())
        await audit.record(
            session,
            actor=user_principal(user),
            action="auth.login",
            object_type="user",
            object_id=user.id,
            ip=ip,
        )
        return LoginOutcome(tokens=tokens)

    async def _issue(
        self, session: AsyncSession, settings: Settings, user: User, *, family_id: uuid.UUID
    ) -> Tokens:
        cfg = settings.identity
        principal = user_principal(user)
        access = issue_token(
            settings,
            {"sub": str(user.id), "typ": "user", "roles": sorted(principal.roles)},
            ttl_seconds=cfg.access_token_ttl_seconds,
        )
        refresh = secrets.token_urlsafe(32)
        session.add(
            RefreshToken(
                user_id=user.id,
                family_id=family_id,
                token_hash=_hash_token(refresh),
                expires_at=utc_now() + timedelta(seconds=cfg.refresh_token_ttl_seconds),
            )
        )
        await session.flush()
        return Tokens(
            access_token=access,
            expires_in=cfg.access_token_ttl_seconds,
            refresh_token=refresh,
            refresh_expires_in=cfg.refresh_token_ttl_seconds,
            user=user,
        )

    async def refresh(
        self, session: AsyncSession, *, settings: Settings, refresh_token: str, ip: str | None
    ) -> LoginOutcome:
        """Rotate a refresh token into new tokens; a reused token revokes its family."""
        repo = IdentityRepository.from_session(session)
        stored = await repo.refresh_by_hash(_hash_token(refresh_token))
        now = utc_now()
        invalid = Unauthorized("invalid refresh token / 登录已失效", code="invalid_refresh_token")
        if stored is None:
            return LoginOutcome(error=invalid)
        if stored.revoked_at is not None:
            await repo.revoke_refresh(at=now, family_id=stored.family_id)
            await audit.record(
                session,
                actor="anonymous",
                action="auth.refresh",
                object_type="user",
                object_id=stored.user_id,
                detail={"reason": "reused_token_family_revoked"},
                ip=ip,
                outcome="denied",
            )
            return LoginOutcome(error=invalid)
        if stored.expires_at <= now:
            return LoginOutcome(error=invalid)
        user = await repo.user_by_id(stored.user_id)
        if user is None or not user.active:
            return LoginOutcome(error=invalid)
        stored.revoked_at = now
        return LoginOutcome(
            tokens=await self._issue(session, settings, user, family_id=stored.family_id)
        )

    async def logout(
        self,
        session: AsyncSession,
        *,
        refresh_token: str | None,
        actor: Principal | None,
        ip: str | None,
    ) -> None:
        """Revoke the refresh token's family (this sign-in) if one is presented."""
        repo = IdentityRepository.from_session(session)
        stored = await repo.refresh_by_hash(_hash_token(refresh_token)) if refresh_token else None
        if stored is not None:
            await repo.revoke_refresh(at=utc_now(), family_id=stored.family_id)
        if stored is not None or actor is not None:
            await audit.record(
                session,
                actor=actor or "anonymous",
                action="auth.logout",
                object_type="user",
                object_id=stored.user_id if stored else (actor.id if actor else None),
                ip=ip,
            )

    async def change_password(
        self,
        session: AsyncSession,
        actor: Principal,
        *,
        settings: Settings,
        current: str,
        new: str,
        ip: str | None = None,
    ) -> None:
        if actor.kind != "user" or actor.id is None:
            raise Unauthorized("sign in first", code="authentication_required")
        user = await self.get_user(session, actor.id)
        if not verify_password(settings, user.password_hash, current):
            raise Unauthorized("wrong password / 密码错误", code="invalid_credentials")
        check_password_rules(
            new, min_length=settings.identity.password_min_length, username=user.username
        )
        user.password_hash = hash_password(settings, new)
        await IdentityRepository.from_session(session).revoke_refresh(at=utc_now(), user_id=user.id)
        await audit.record(
            session,
            actor=actor,
            action="auth.password_change",
            object_type="user",
            object_id=user.id,
            ip=ip,
        )

    # -- OAuth 2.0 client credentials ---------------------------------------------------

    async def client_credentials(
        self,
        session: AsyncSession,
        *,
        settings: Settings,
        client_id: str,
        client_secret: str,
        scope: str | None,
        ip: str | None = None,
        before: Callable[[], None] | None = None,
        on_bad_secret: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """RFC 6749 §4.4: a bearer token for an institution system (errors raise; refusals
        are audited, a bad client as ``invalid_client``). ``before`` may refuse first (the
        HTTP layer's throttle); ``on_bad_secret`` hears of a wrong secret."""
        async with audit.refusals(
            session,
            actor=f"client:{client_id}"[:100],
            action="oauth.token",
            object_type="lrs_credential",
            ip=ip,
        ):
            if before is not None:
                before()
            try:
                principal = await credentials.authenticate_basic(session, client_id, client_secret)
            except Unauthorized as exc:
                if on_bad_secret is not None:
                    on_bad_secret()
                raise Unauthorized("invalid client credentials", code="invalid_client") from exc
            return self._client_token(settings, principal, client_id=client_id, scope=scope)

    @staticmethod
    def _client_token(
        settings: Settings, principal: Principal, *, client_id: str, scope: str | None
    ) -> dict[str, Any]:
        granted = principal.scopes
        requested = set(scope.split()) if scope else None
        if requested is not None:
            unknown = requested - LRS_SCOPES
            beyond = expand_scopes(requested) - granted
            if unknown or beyond:
                raise BadRequest(
                    f"scope not granted to this client: {sorted(unknown | beyond)}",
                    code="invalid_scope",
                )
        scopes = sorted(requested) if requested is not None else sorted(granted)
        ttl = settings.identity.client_token_ttl_seconds
        token = issue_token(
            settings,
            {
                "sub": str(principal.id),
                "typ": "client",
                "client_id": client_id,
                "scope": " ".join(scopes),
            },
            ttl_seconds=ttl,
        )
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": ttl,
            "scope": " ".join(scopes),
        }

    # -- bearer tokens -> principal -------------------------------------------------------

    async def principal_from_refresh(
        self, session: AsyncSession, *, refresh_token: str
    ) -> Principal | None:
        """The principal of a live sign-in (a refresh token neither revoked nor expired,
        its user active), without rotating it: the portal's session cookie carries it, so
        signing out (revoking the family) ends the portal session at once."""
        repo = IdentityRepository.from_session(session)
        stored = await repo.refresh_by_hash(_hash_token(refresh_token))
        if stored is None or stored.revoked_at is not None or stored.expires_at <= utc_now():
            return None
        user = await repo.user_by_id(stored.user_id)
        if user is None or not user.active:
            return None
        return user_principal(user)

    @staticmethod
    def portal_areas(principal: Principal) -> frozenset[str]:
        """The portal's areas to offer in the menu (each page is still authorized by its
        service): learner, certifier, institution, operator."""
        areas: set[str] = set()
        if principal.learner_id is not None:
            areas.add("learner")
        if authz.allowed(principal, "application.list"):
            areas.add("certifier")
        if principal.admin_of:
            areas.add("institution")
        if principal.is_operator:
            areas.add("operator")
        return frozenset(areas)

    async def principal_from_token(
        self, session: AsyncSession, *, settings: Settings, token: str
    ) -> Principal:
        """The principal of a valid access token, rebuilt from the database."""
        claims = verify_token(settings, token)
        try:
            subject = uuid.UUID(str(claims["sub"]))
        except ValueError as exc:
            raise Unauthorized("invalid token: subject", code="invalid_token") from exc
        repo = IdentityRepository.from_session(session)
        if claims["typ"] == "user":
            user = await repo.user_by_id(subject)
            if user is None or not user.active:
                raise Unauthorized("invalid token: user disabled", code="invalid_token")
            return user_principal(user)
        if claims["typ"] == "client":
            credential = await repo.credential_by_id(subject)
            if credential is None or credential.revoked_at is not None:
                raise Unauthorized("invalid token: client revoked", code="invalid_token")
            principal = credential_principal(credential)
            token_scopes = expand_scopes(str(claims.get("scope", "")).split())
            return Principal(
                kind=principal.kind,
                id=principal.id,
                institution_id=principal.institution_id,
                institution_key=principal.institution_key,
                scopes=principal.scopes & token_scopes,
                authority=principal.authority,
                label=principal.label,
                xapi_version=principal.xapi_version,
            )
        raise Unauthorized("invalid token: type", code="invalid_token")


sign_in = SignInService()
