"""Authentication: HTTP Basic LRS credentials (bearer tokens join in the identity work)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import Depends, Request

from api.deps import get_database
from creditbank.errors import Unauthorized
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service


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
    key, secret = parse_basic(header)
    async with get_database(request).read_scope() as session:
        return await identity_service.authenticate_basic(session, key, secret)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
