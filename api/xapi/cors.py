"""CORS for the xAPI resources only, so browser-hosted content can talk to the LRS.

Any origin may call ``/xapi`` with explicit credentials (the ``Authorization``
header); no cookies are involved (``allow_credentials`` stays off), and the
portal and the bank's JSON API get no CORS headers at all.
"""

from __future__ import annotations

from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from api.xapi.common import XAPI_PREFIX

EXPOSED_HEADERS = (
    "ETag",
    "Last-Modified",
    "Content-Type",
    "Content-Length",
    "X-Experience-API-Version",
    "X-Experience-API-Consistent-Through",
    "X-Request-ID",
)


class XapiCorsMiddleware:
    """Starlette's CORSMiddleware applied to paths under ``/xapi``."""

    def __init__(self, app: ASGIApp, prefix: str = XAPI_PREFIX) -> None:
        self.app = app
        self.prefix = prefix
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=["GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS"],
            allow_headers=["*"],
            expose_headers=list(EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=86400,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            await self.cors(scope, receive, send)
            return
        await self.app(scope, receive, send)
