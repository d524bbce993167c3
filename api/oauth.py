"""OAuth 2.0 client credentials (RFC 6749 §4.4) for institution systems: ``/oauth/token``.

The client is an LRS credential (``client_id`` = its key, ``client_secret`` = its
secret), sent as HTTP Basic or in the form. The answer is a bearer JWT with the
requested scopes (never more than the credential holds) that ``/xapi`` and
``/api/v1`` accept beside Basic.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, Response

from api.auth import TooManyFailures, client_ip, credential_throttle, parse_basic
from api.deps import SessionDep, SettingsDep
from creditbank.errors import BadRequest, Unauthorized
from creditbank.identity.schemas import ClientTokenRead, JwksRead
from creditbank.identity.signin import sign_in as sign_in_service
from creditbank.identity.tokens import public_jwks

router = APIRouter(prefix="/oauth", tags=["oauth"])


@router.post("/token", response_model=ClientTokenRead)
async def token(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    grant_type: Annotated[str, Form()],
    scope: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
) -> object:
    if grant_type != "client_credentials":
        raise BadRequest("only client_credentials is supported", code="unsupported_grant_type")
    header = request.headers.get("authorization")
    if header:
        try:
            client_id, client_secret = parse_basic(header)
        except Unauthorized as exc:
            raise Unauthorized(exc.detail, code="invalid_client") from exc
    if not client_id or client_secret is None:
        raise Unauthorized("client authentication required", code="invalid_client")
    throttle = credential_throttle(request)
    address = client_ip(request)
    known_client = client_id

    def check_throttle() -> None:
        wait = throttle.retry_after(address, known_client)
        if wait is not None:
            raise TooManyFailures(
                "too many failed client credentials from this address, try later",
                retry_after_seconds=wait,
            )

    answer = await sign_in_service.client_credentials(
        session,
        settings=settings,
        client_id=client_id,
        client_secret=client_secret,
        scope=scope,
        ip=request.client.host if request.client else None,
        before=check_throttle,
        on_bad_secret=lambda: throttle.failed(address, known_client),
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return answer


@router.get("/jwks.json", response_model=JwksRead)
async def access_token_keys(settings: SettingsDep) -> object:
    """Public keys that verify access tokens (active keys only; retired keys refuse)."""
    return public_jwks(settings)
