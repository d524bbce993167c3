"""Pages anyone may open: home, sign in / out, the language switch."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.auth import client_ip
from api.deps import get_database
from api.portal import session as cookies
from api.portal.web import AnyPage, CheckedForm, form_text
from creditbank.identity.signin import sign_in as sign_in_service

router = APIRouter(include_in_schema=False)


def home_of(areas: frozenset[str]) -> str:
    if "learner" in areas:
        return "/me"
    if "operator" in areas:
        return "/operate/institutions"
    if "certifier" in areas:
        return "/certify"
    if "institution" in areas:
        return "/institution"
    return "/"


@router.get("/")
async def home(page: AnyPage) -> Response:
    return page.render("home.html")


@router.get("/login")
async def login_form(page: AnyPage, next: str = "", expired: int = 0) -> Response:
    if page.signed_in:
        return page.redirect(cookies.safe_next(next, home_of(page.areas)))
    return page.render(
        "login.html",
        next=cookies.safe_next(next, ""),
        notice="session_expired" if expired else None,
        errors={},
        username="",
    )


@router.post("/login")
async def login(request: Request, page: AnyPage, form: CheckedForm) -> Response:
    username = form_text(form, "username")
    password = form.get("password")
    password = password if isinstance(password, str) else ""
    target = cookies.safe_next(form_text(form, "next"), "")
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = page.t("field_required")
    if not password:
        errors["password"] = page.t("field_required")
    if not errors:
        # Failures are committed too (lockout counter, rate limit, audit) and then shown.
        async with get_database(request).session_scope() as session:
            outcome = await sign_in_service.login(
                session,
                settings=page.settings,
                username=username,
                password=password,
                ip=client_ip(request),
            )
        if outcome.tokens is not None and outcome.tokens.refresh_token is not None:
            page.refresh_token = outcome.tokens.refresh_token
            # A fresh CSRF nonce for the signed-in browser.
            page.nonce, page.new_nonce = cookies.new_nonce(), True
            async with get_database(request).read_scope() as session:
                principal = await sign_in_service.principal_from_refresh(
                    session, refresh_token=page.refresh_token
                )
            areas = sign_in_service.portal_areas(principal) if principal else frozenset()
            return page.redirect(target if target not in ("", "/") else home_of(areas))
        errors["password"] = str(outcome.error.detail) if outcome.error else page.t("error_generic")
    return page.render(
        "login.html",
        status_code=400 if errors else 200,
        next=target,
        notice=None,
        errors=errors,
        username=username,
    )


@router.post("/logout")
async def logout(request: Request, page: AnyPage, form: CheckedForm) -> Response:
    if page.refresh_token is not None:
        async with get_database(request).session_scope() as session:
            await sign_in_service.logout(
                session,
                refresh_token=page.refresh_token,
                actor=page.principal,
                ip=client_ip(request),
            )
    page.refresh_token = None
    page.clear_session = True
    return page.redirect("/")


@router.get("/lang")
async def switch_language(page: AnyPage, to: str = "zh-CN", next: str = "/") -> Response:
    """Remember the chosen language (a cookie for a year); no data changes."""
    response = RedirectResponse(cookies.safe_next(next), status_code=303)
    response.set_cookie(
        cookies.LANG_COOKIE,
        to if to in cookies.LANGS else cookies.DEFAULT_LANG,
        max_age=365 * 24 * 3600,
        httponly=True,
        secure=cookies.cookie_secure(page.settings),
        samesite="lax",
    )
    return response
