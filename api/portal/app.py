"""The portal sub-app: its pages, static files, security headers and HTML error pages.

Mounted at ``/`` after every API route; a path under an API prefix never reaches it,
so the JSON API keeps its own 404/405 answers.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.portal import session as cookies
from api.portal.i18n import translate
from api.portal.web import TEMPLATES, CsrfRefused, SignInRequired, language_of
from creditbank.config import Settings
from creditbank.errors import DomainError

log = logging.getLogger("creditbank.portal")

#: Paths that belong to the JSON API, the LRS and the server itself, never the portal.
RESERVED_PREFIXES = (
    "/api",
    "/xapi",
    "/oauth",
    "/.well-known",
    "/healthz",
    "/readyz",
    "/metrics",
    "/status",
    "/docs",
    "/redoc",
    "/openapi.json",
)

#: No inline script or style anywhere: everything comes from our own origin.
PORTAL_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class PortalMount(Mount):
    """A mount at ``/`` that leaves the reserved prefixes to the application's routes."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = scope.get("path", "")
        if scope["type"] == "http" and any(
            path == p or path.startswith(p + "/") or path.startswith(p + "?")
            for p in RESERVED_PREFIXES
        ):
            return Match.NONE, {}
        return super().matches(scope)


class PortalHeaders:
    """The portal's security headers (the app-wide middleware keeps what is set here)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", PORTAL_CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if settings.env == "prod":
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.extend((n, v) for n, v in self.headers if n not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def error_page(request: Request, status_code: int, message_key: str, detail: str = "") -> Response:
    """A bilingual HTML error page with a way back (no database needed)."""
    lang = language_of(request)
    other = "en" if lang == "zh-CN" else "zh-CN"
    response = TEMPLATES.TemplateResponse(
        request,
        "error.html",
        {
            "lang": lang,
            "other": other,
            "status_code": status_code,
            "message": translate(lang, message_key),
            "message_other": translate(other, message_key),
            "detail": detail,
            "t": lambda key, **kw: translate(lang, key, **kw),
        },
        status_code=status_code,
    )
    return response


def install_portal_errors(portal: FastAPI) -> None:
    @portal.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        url = f"/login?next={quote(target, safe='')}"
        if exc.expired:
            url += "&expired=1"
        response = RedirectResponse(url, status_code=303)
        if exc.expired:
            response.delete_cookie(cookies.SESSION_COOKIE, httponly=True)
        return response

    @portal.exception_handler(CsrfRefused)
    async def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return error_page(request, 403, "error_csrf")

    @portal.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> Response:
        key = {403: "error_403", 404: "error_404"}.get(exc.status_code, "error_generic")
        return error_page(request, exc.status_code, key, str(exc.detail))

    @portal.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        # Path/query parameters of the wrong shape (an id that is no UUID): no such page.
        return error_page(request, 404, "error_404")

    @portal.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        key = {403: "error_403", 404: "error_404"}.get(exc.status_code, "error_generic")
        return error_page(request, exc.status_code, key)

    @portal.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("portal error", extra={"path": request.url.path})
        return error_page(request, 500, "error_500")


def create_portal(parent: FastAPI, settings: Settings) -> FastAPI:
    from api.portal.pages import (
        admin,
        certifier,
        imports,
        learner,
        operator,
        public,
        transcripts,
        verify,
    )

    portal = FastAPI(openapi_url=None, docs_url=None, redoc_url=None, debug=False)
    # The parent's state: the database and settings the API dependencies read.
    portal.state = parent.state
    install_portal_errors(portal)
    for module in (public, verify, learner, transcripts, certifier, admin, imports, operator):
        portal.include_router(module.router)
    portal.mount(
        "/static", StaticFiles(directory=str(Path(__file__).parent / "static")), name="static"
    )
    portal.add_middleware(PortalHeaders, settings=settings)
    return portal


def mount_portal(app: FastAPI, settings: Settings) -> None:
    """Mount the portal at ``/``, after every route already on ``app``."""
    app.router.routes.append(PortalMount("/", app=create_portal(app, settings), name="portal"))
