"""What every portal page needs: the caller, the language, CSRF, rendering, cookies."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Undefined
from starlette.datastructures import FormData

from api.deps import get_app_settings, get_database, note_caller
from api.portal import session as cookies
from api.portal.i18n import translate
from creditbank.config import Settings
from creditbank.identity.principal import ANONYMOUS, Principal
from creditbank.identity.signin import sign_in as sign_in_service

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))


def format_credits(value: Decimal | str | float | None) -> str:
    """``10.0``, ``2.5``, ``0.25``: hundredths only when there are any."""
    if value is None:
        return ""
    text = f"{Decimal(str(value)).quantize(Decimal('0.01')):.2f}"
    return text[:-1] if text.endswith("0") else text


TEMPLATES.env.filters["credits"] = format_credits


def language_of(request: Request) -> str:
    lang = request.cookies.get(cookies.LANG_COOKIE)
    return lang if lang in cookies.LANGS else cookies.DEFAULT_LANG


class SignInRequired(Exception):
    """The page needs a signed-in user; the handler redirects to the sign-in form."""

    def __init__(self, expired: bool = False) -> None:
        super().__init__("sign in required")
        self.expired = expired


class CsrfRefused(Exception):
    """A form came without this browser's CSRF token."""


@dataclass
class Page:
    request: Request
    settings: Settings
    principal: Principal
    lang: str
    nonce: str
    new_nonce: bool
    refresh_token: str | None
    clear_session: bool = False
    areas: frozenset[str] = field(default_factory=frozenset)

    @property
    def signed_in(self) -> bool:
        return not self.principal.is_anonymous

    @property
    def csrf(self) -> str:
        return cookies.csrf_token(self.settings, self.nonce)

    def t(self, key: str, **values: object) -> str:
        return translate(self.lang, key, **values)

    def t_other(self, key: str, **values: object) -> str:
        """The same words in the other language (for what is printed in both)."""
        return translate("en" if self.lang == "zh-CN" else "zh-CN", key, **values)

    def bi(self, value: Any, zh: str = "zh", en: str = "en") -> str:
        """The chosen language's side of a bilingual value (the other if it is missing)."""
        if isinstance(value, Undefined) or value is None:
            return ""
        if hasattr(value, "model_dump"):
            value = value.model_dump()
        if not isinstance(value, dict) or not value:
            return ""
        first, second = (en, zh) if self.lang == "en" else (zh, en)
        return str(value.get(first) or value.get(second) or "")

    def render(self, template: str, status_code: int = 200, **context: Any) -> Response:
        response = TEMPLATES.TemplateResponse(
            self.request,
            template,
            {"page": self, "t": self.t, **context},
            status_code=status_code,
        )
        return self.finish(response)

    def redirect(self, url: str) -> Response:
        return self.finish(RedirectResponse(url, status_code=303))

    def finish(self, response: Response) -> Response:
        """Set the cookies this answer owes: a new CSRF nonce, the sliding sign-in."""
        secure = cookies.cookie_secure(self.settings)
        if self.new_nonce:
            response.set_cookie(
                cookies.CSRF_COOKIE, self.nonce, httponly=True, secure=secure, samesite="lax"
            )
        if self.refresh_token is not None:
            response.set_cookie(
                cookies.SESSION_COOKIE,
                cookies.encode_session(self.settings, self.refresh_token, now=int(time.time())),
                httponly=True,
                secure=secure,
                samesite="lax",
            )
        elif self.clear_session:
            response.delete_cookie(cookies.SESSION_COOKIE, httponly=True, secure=secure)
        if self.signed_in:
            response.headers["Cache-Control"] = "no-store"
        return response


async def page_context(request: Request) -> Page:
    settings = get_app_settings(request)
    nonce = request.cookies.get(cookies.CSRF_COOKIE)
    new_nonce = not nonce
    page = Page(
        request=request,
        settings=settings,
        principal=ANONYMOUS,
        lang=language_of(request),
        nonce=nonce or cookies.new_nonce(),
        new_nonce=new_nonce,
        refresh_token=None,
    )
    raw = request.cookies.get(cookies.SESSION_COOKIE)
    if raw:
        signin = cookies.decode_session(settings, raw)
        principal = None
        if signin is not None:
            async with get_database(request).read_scope() as session:
                principal = await sign_in_service.principal_from_refresh(
                    session, refresh_token=signin.refresh_token
                )
        if principal is None or signin is None:
            page.clear_session = True
            request.state.session_expired = True
        else:
            page.principal = note_caller(principal)
            page.refresh_token = signin.refresh_token
            page.areas = sign_in_service.portal_areas(principal)
    request.state.page = page
    return page


async def signed_in_page(request: Request) -> Page:
    page = await page_context(request)
    if not page.signed_in:
        raise SignInRequired(expired=page.clear_session)
    return page


async def checked_form(request: Request) -> FormData:
    """The posted form, refused unless it carries this browser's CSRF token."""
    form = await request.form()
    token = form.get("csrf_token")
    nonce = request.cookies.get(cookies.CSRF_COOKIE)
    if not cookies.csrf_ok(
        get_app_settings(request), nonce, token if isinstance(token, str) else None
    ):
        raise CsrfRefused()
    return form


def form_text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


AnyPage = Annotated[Page, Depends(page_context)]
UserPage = Annotated[Page, Depends(signed_in_page)]
CheckedForm = Annotated[FormData, Depends(checked_form)]
HTML = HTMLResponse
