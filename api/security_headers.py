"""Security headers on every answer, chosen per path prefix.

Every response (errors, 413s from the body limit and CORS preflights included) gets
``X-Content-Type-Options: nosniff``, a ``Referrer-Policy``, ``X-Frame-Options`` and a
``Content-Security-Policy`` with ``frame-ancestors``, plus ``Strict-Transport-Security``
in prod. JSON answers get the strictest CSP there is (``default-src 'none'``): nothing
in a JSON document may load or run. A path prefix can carry its own headers (the
longest matching prefix wins): the OpenAPI pages load Swagger UI / ReDoc from their
CDN; the portal will register ``/`` pages with its own strict CSP. A header the
endpoint set itself (a CSP with a per-response nonce, say) is kept as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from creditbank.config import Settings

#: What every answer carries unless a prefix rule says otherwise.
BASE_HEADERS: Mapping[str, str] = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "cross-origin-resource-policy": "same-site",
}

#: FastAPI's documentation pages: Swagger UI and ReDoc from jsDelivr, inline bootstrap.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'"
)

HSTS = "max-age=31536000; includeSubDomains"


@dataclass
class SecurityHeaderRules:
    """The headers per path prefix; ``headers_for(path)`` merges base and longest prefix."""

    base: dict[str, str] = field(default_factory=lambda: dict(BASE_HEADERS))
    by_prefix: dict[str, dict[str, str]] = field(default_factory=dict)

    def add_prefix(self, prefix: str, headers: Mapping[str, str]) -> None:
        """Headers for paths under ``prefix`` (lowercase names; ``""`` drops a header)."""
        self.by_prefix[prefix] = {name.lower(): value for name, value in headers.items()}

    def headers_for(self, path: str) -> list[tuple[bytes, bytes]]:
        merged = dict(self.base)
        best: str | None = None
        for prefix in self.by_prefix:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        if best is not None:
            merged.update(self.by_prefix[best])
        return [(k.encode(), v.encode()) for k, v in merged.items() if v]


def default_rules(settings: Settings) -> SecurityHeaderRules:
    rules = SecurityHeaderRules()
    if settings.env == "prod":
        rules.base["strict-transport-security"] = HSTS
    for prefix in ("/docs", "/redoc"):
        rules.add_prefix(prefix, {"content-security-policy": DOCS_CSP})
    return rules


class SecurityHeadersMiddleware:
    """Adds the rules' headers to every HTTP answer the endpoint did not set itself."""

    def __init__(self, app: ASGIApp, rules: SecurityHeaderRules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = self.rules.headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((name, value) for name, value in extra if name not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
