"""The portal's cookies: a signed sign-in cookie with idle expiry, CSRF tokens, language.

The sign-in cookie carries the refresh token of a password sign-in (opaque, stored
hashed, revoked on sign-out) and the time of the last request, signed with a key
derived from the server's secret key. A request after ``portal_idle_seconds`` of
silence is anonymous again. CSRF: a random nonce in its own cookie; every form carries
HMAC(nonce), so a page of another site can neither read nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from creditbank.config import Settings

SESSION_COOKIE = "cb_session"
CSRF_COOKIE = "cb_csrf"
LANG_COOKIE = "cb_lang"
LANGS = ("zh-CN", "en")
DEFAULT_LANG = "zh-CN"


def _key(settings: Settings, purpose: str) -> bytes:
    secret = settings.secret_key.get_secret_value().encode()
    return hmac.new(secret, f"portal:{purpose}".encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class SignIn:
    refresh_token: str
    last_seen: int


def encode_session(settings: Settings, refresh_token: str, *, now: int | None = None) -> str:
    payload = _b64(json.dumps({"rt": refresh_token, "t": now or int(time.time())}).encode())
    mac = _b64(hmac.new(_key(settings, "session"), payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}"


def decode_session(settings: Settings, value: str | None) -> SignIn | None:
    """The signed sign-in, or None when missing, forged or idle too long."""
    if not value or "." not in value:
        return None
    payload, _, mac = value.partition(".")
    expected = _b64(hmac.new(_key(settings, "session"), payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(mac, expected):
        return None
    try:
        data = json.loads(_unb64(payload))
        token, last_seen = str(data["rt"]), int(data["t"])
    except (ValueError, KeyError, TypeError):
        return None
    if time.time() - last_seen > settings.security.portal_idle_seconds:
        return None
    return SignIn(token, last_seen)


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(settings: Settings, nonce: str) -> str:
    return _b64(hmac.new(_key(settings, "csrf"), nonce.encode(), hashlib.sha256).digest())


def csrf_ok(settings: Settings, nonce: str | None, token: str | None) -> bool:
    if not nonce or not token:
        return False
    return hmac.compare_digest(csrf_token(settings, nonce), token)


def cookie_secure(settings: Settings) -> bool:
    secure = settings.security.cookie_secure
    return settings.env == "prod" if secure is None else secure


def safe_next(target: str | None, default: str = "/") -> str:
    """Only a path of this site (no scheme, no ``//host``) may be a redirect target."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
