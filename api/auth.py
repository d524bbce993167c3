"""Authentication: HTTP Basic LRS credentials and Bearer access tokens (JWT).

``Basic`` works exactly as before (LRS credential key and secret). ``Bearer`` takes
an access token from ``/api/v1/auth/login`` (a user) or ``/oauth/token`` (an
institution system, client credentials); see ``creditbank.identity.signin``.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from api.deps import get_app_settings, get_database, note_caller
from creditbank.errors import DomainError, Unauthorized
from creditbank.identity.principal import ANONYMOUS, Principal
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import sign_in as sign_in_service
from creditbank.identity.throttle import CredentialThrottle, RequestRateLimit


def parse_basic(header: str) -> tuple[str, str]:
    """``(key, secret)`` of a ``Basic`` Authorization header, or ``Unauthorized``."""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise Unauthorized("unsupported authorization scheme", code="invalid_credentials")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("malformed Basic credentials", code="invalid_credentials") from exc
    key, sep, secret = decoded.partition(":")
    if not sep or not key:
        raise Unauthorized("malformed Basic credentials", code="invalid_credentials")
    return key, secret


async def current_principal(request: Request) -> Principal:
    """The authenticated caller; anonymous access is refused with 401."""
    header = request.headers.get("authorization")
    if not header:
        raise Unauthorized("authentication required", code="authentication_required")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer":
        token = token.strip()
        if not token:
            raise Unauthorized("empty bearer token", code="invalid_token")
        async with get_database(request).read_scope() as session:
            return note_caller(
                await sign_in_service.principal_from_token(
                    session, settings=get_app_settings(request), token=token
                )
            )
    key, secret = parse_basic(header)
    return note_caller(await authenticate_secret(request, key, secret))


def credential_throttle(request: Request) -> CredentialThrottle:
    """The app's throttle of failed LRS secrets (one per process)."""
    state = request.app.state
    throttle: CredentialThrottle | None = getattr(state, "credential_throttle", None)
    if throttle is None:
        cfg = get_app_settings(request).identity
        throttle = CredentialThrottle(
            per_address=cfg.credential_failures_per_address,
            per_pair=cfg.credential_failures_per_key,
            window_seconds=cfg.credential_failure_window_seconds,
        )
        state.credential_throttle = throttle
    return throttle


async def authenticate_secret(request: Request, key: str, secret: str) -> Principal:
    """An LRS credential's key and secret, throttled per address (429 with Retry-After)."""
    throttle = credential_throttle(request)
    address = client_ip(request)
    wait = throttle.retry_after(address, key)
    if wait is not None:
        raise TooManyFailures(
            "too many failed credentials from this address, try later /"
            " 此地址凭据错误次数过多，请稍后再试",
            retry_after_seconds=wait,
        )
    try:
        async with get_database(request).read_scope() as session:
            return await identity_service.authenticate_basic(session, key, secret)
    except Unauthorized:
        throttle.failed(address, key)
        raise


class TooManyFailures(DomainError):
    status_code = 429
    code = "too_many_attempts"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


class RateLimited(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, detail: str, *, retry_after_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


def verify_rate_limit(request: Request) -> None:
    """Public verification, limited per address (429 with Retry-After); a dependency."""
    state = request.app.state
    limit: RequestRateLimit | None = getattr(state, "verify_rate_limit", None)
    if limit is None:
        cfg = get_app_settings(request).identity
        limit = RequestRateLimit(
            limit=cfg.verify_rate_limit, window_seconds=cfg.verify_rate_window_seconds
        )
        state.verify_rate_limit = limit
    wait = limit.hit(client_ip(request))
    if wait is not None:
        raise RateLimited(
            "too many verification requests from this address, try later /"
            " 此地址验证请求过多，请稍后再试",
            retry_after_seconds=wait,
        )


async def optional_principal(request: Request) -> Principal:
    """The caller if credentials are sent, else ``ANONYMOUS`` (bad credentials still 401)."""
    if not request.headers.get("authorization"):
        return ANONYMOUS
    return await current_principal(request)


def client_ip(request: Request) -> str:
    """The caller's address (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client else "unknown"


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal, Depends(optional_principal)]
ClientIp = Annotated[str, Depends(client_ip)]
