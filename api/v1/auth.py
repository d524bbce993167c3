"""Sign-in for people: ``/api/v1/auth`` (login, refresh, logout, me, password).

The access token comes in the JSON answer (send it as ``Authorization: Bearer``);
the refresh token only in an HttpOnly cookie scoped to this path (Secure in
production, SameSite=Strict by default).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response, status

from api.auth import ClientIp, CurrentPrincipal, OptionalPrincipal
from api.deps import DatabaseDep, SessionDep, SettingsDep
from creditbank.config import Settings
from creditbank.errors import Unauthorized
from creditbank.identity.schemas import CredentialMe, LoginIn, PasswordChange, TokensRead, UserMe
from creditbank.identity.signin import LoginOutcome
from creditbank.identity.signin import sign_in as sign_in_service

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

REFRESH_COOKIE = "creditbank_refresh"
COOKIE_PATH = "/api/v1/auth"


def _set_refresh_cookie(response: Response, settings: Settings, token: str, max_age: int) -> None:
    secure = settings.security.cookie_secure
    response.set_cookie(
        REFRESH_COOKIE,
        token,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=settings.env == "prod" if secure is None else secure,
        samesite=settings.security.cookie_samesite,
    )


def _answer(outcome: LoginOutcome, response: Response, settings: Settings) -> dict[str, Any]:
    if outcome.error is not None:
        raise outcome.error
    tokens = outcome.tokens
    if tokens is None:  # pragma: no cover - an outcome has one or the other
        raise Unauthorized("sign-in failed", code="invalid_credentials")
    if tokens.refresh_token is not None:
        _set_refresh_cookie(response, settings, tokens.refresh_token, tokens.refresh_expires_in)
    response.headers["Cache-Control"] = "no-store"
    return tokens.body()


@router.post("/login", response_model=TokensRead)
async def login(
    body: LoginIn, response: Response, database: DatabaseDep, settings: SettingsDep, ip: ClientIp
) -> object:
    """Password sign-in. Failures count toward the lockout and the per-address rate limit
    (committed even though the answer is an error)."""
    async with database.session_scope() as session:
        outcome = await sign_in_service.login(
            session, settings=settings, username=body.username, password=body.password, ip=ip
        )
    return _answer(outcome, response, settings)


@router.post("/refresh", response_model=TokensRead)
async def refresh(
    request: Request,
    response: Response,
    database: DatabaseDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> object:
    """New tokens for the refresh cookie (which is rotated)."""
    token = request.cookies.get(REFRESH_COOKIE)
    if not token:
        raise Unauthorized("no refresh cookie / 请重新登录", code="invalid_refresh_token")
    async with database.session_scope() as session:
        outcome = await sign_in_service.refresh(
            session, settings=settings, refresh_token=token, ip=ip
        )
    return _answer(outcome, response, settings)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(
    request: Request, principal: OptionalPrincipal, session: SessionDep, ip: ClientIp
) -> Response:
    """Revoke this sign-in's refresh tokens and clear the cookie."""
    await sign_in_service.logout(
        session,
        refresh_token=request.cookies.get(REFRESH_COOKIE),
        actor=None if principal.is_anonymous else principal,
        ip=ip,
    )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(REFRESH_COOKIE, path=COOKIE_PATH, httponly=True)
    return response


@router.get("/me", response_model=UserMe | CredentialMe)
async def me(principal: CurrentPrincipal, session: SessionDep) -> object:
    """Who the token belongs to: user, roles, scopes."""
    return await sign_in_service.whoami(session, principal)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    body: PasswordChange,
    principal: CurrentPrincipal,
    session: SessionDep,
    settings: SettingsDep,
    ip: ClientIp,
) -> Response:
    """Change your password; every refresh token of yours is revoked."""
    await sign_in_service.change_password(
        session,
        principal,
        settings=settings,
        current=body.current_password,
        new=body.new_password,
        ip=ip,
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
