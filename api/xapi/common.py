"""What every xAPI resource shares: version negotiation and the version header."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Request, Response

from api.auth import current_principal
from creditbank.errors import BadRequest, DomainError

#: Where the LRS is mounted, and the header every xAPI request and answer carries.
XAPI_PREFIX = "/xapi"
VERSION_HEADER = "X-Experience-API-Version"

SUPPORTED_VERSIONS = ("1.0.3", "2.0.0")
_VERSION = re.compile(r"^(1\.0(\.\d+)?|2\.0(\.\d+)?)$")


def negotiate_version(header: str | None) -> str:
    """The xAPI version a request speaks, from its ``X-Experience-API-Version``.

    1.0.x requests are answered as 1.0.3 and 2.0.x as 2.0.0; anything else is 400.
    """
    if header is None:
        raise BadRequest("X-Experience-API-Version header is required", code="xapi_version_missing")
    value = header.strip()
    if not _VERSION.match(value):
        raise BadRequest(
            f"unsupported X-Experience-API-Version {value!r}; supported: 1.0.3, 2.0.0",
            code="xapi_version_unsupported",
        )
    return "2.0.0" if value.startswith("2.") else "1.0.3"


async def default_version_for(request: Request) -> str:
    """The version to state to a request that names none.

    The version its credential declares (``LrsCredential.xapi_version``) when the
    request carries valid Basic or Bearer credentials, else the server default. Bad
    or missing credentials change nothing here: the refusal stays the same.
    """
    default: str = request.app.state.settings.lrs.default_version
    if not request.headers.get("authorization"):
        return default
    try:
        principal = await current_principal(request)
    except DomainError:
        return default
    return principal.xapi_version or default


async def xapi_version(request: Request, response: Response) -> str:
    """Dependency: the negotiated version, echoed on the response."""
    header = request.headers.get("x-experience-api-version")
    try:
        version = negotiate_version(header)
    except BadRequest:
        # The refusal states the version the client speaks, as far as we know it: its
        # credential's, else the configured default (only looked up when none is named).
        request.state.xapi_version = (
            await default_version_for(request)
            if header is None
            else request.app.state.settings.lrs.default_version
        )
        raise
    request.state.xapi_version = version
    response.headers["X-Experience-API-Version"] = version
    return version


XapiVersion = Annotated[str, Depends(xapi_version)]
