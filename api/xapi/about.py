"""``GET /xapi/about``: the xAPI versions this LRS speaks (no credentials needed)."""

from __future__ import annotations

import contextlib

import orjson
from fastapi import APIRouter, Request, Response

from api.xapi.common import SUPPORTED_VERSIONS, negotiate_version
from creditbank.errors import BadRequest
from creditbank.lrs.schemas import AboutRead

router = APIRouter(prefix="/xapi", tags=["xAPI"])

EXTENSIONS = {
    "https://creditbank.example.cn/xapi/extensions/lrs": {
        "name": "creditbank",
        "statement_queries": [
            "agent",
            "verb",
            "activity",
            "registration",
            "related_agents",
            "related_activities",
            "since",
            "until",
            "limit",
            "format",
            "ascending",
            "attachments",
        ],
    }
}


@router.head("/about", include_in_schema=False)
@router.get("/about", response_model=AboutRead)
async def about(request: Request) -> Response:
    """Versions and extensions; the version header is optional here."""
    version: str = request.app.state.settings.lrs.default_version
    header = request.headers.get("x-experience-api-version")
    if header is not None:
        # The About resource answers any client: unknown versions get the default.
        with contextlib.suppress(BadRequest):
            version = negotiate_version(header)
    request.state.xapi_version = version
    headers = {"X-Experience-API-Version": version}
    if request.method == "HEAD":
        return Response(status_code=200, headers=headers, media_type="application/json")
    body = {"version": list(SUPPORTED_VERSIONS), "extensions": EXTENSIONS}
    return Response(orjson.dumps(body), media_type="application/json", headers=headers)
