"""Access tokens: short-lived JWTs signed with the ``access-tokens`` key set (``kid`` header).

The keys are :mod:`creditbank.kit.signing`'s (purpose ``ACCESS_TOKENS``, Ed25519 by
default; ES256 and RS256 too). Rotation adds a new current key; the previous one
stays *active* so tokens it signed keep verifying until they expire; ``retire`` makes
a key refuse at once. A token's ``alg`` must be its key's: ``alg=none``, HMAC
confusion and unknown or retired key ids are rejected before any claim is looked at.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import jwt

from creditbank.config import Settings
from creditbank.errors import Unauthorized
from creditbank.kit import signing
from creditbank.kit.crypto import keyring_for, keyring_path
from creditbank.kit.time import utc_now

__all__ = [
    "AUDIENCE",
    "ensure_keys",
    "issue_token",
    "keyring_for",
    "keyring_path",
    "public_jwks",
    "token_keys_for",
    "token_keys_path",
    "verify_token",
]

AUDIENCE = "creditbank"
#: What a token's header may name (PyJWT's asymmetric algorithms the key set allows).
ACCEPTED_ALGORITHMS = signing.ACCESS_TOKENS.allowed_algorithms or frozenset()


def token_keys_path(settings: Settings) -> Path:
    return signing.ACCESS_TOKENS.path(settings)


def token_keys_for(settings: Settings) -> signing.KeySet:
    return signing.key_set(settings, signing.ACCESS_TOKENS)


def ensure_keys(settings: Settings) -> None:
    """Load the keyring and the access-token keys; in production a missing file stops
    the start-up."""
    keyring_for(settings)
    token_keys_for(settings)


# -- tokens ----------------------------------------------------------------------------


def issue_token(settings: Settings, claims: dict[str, Any], *, ttl_seconds: int) -> str:
    """A signed JWT with ``iss``, ``aud``, ``iat``, ``exp``, ``jti`` added to ``claims``."""
    key = token_keys_for(settings).current_key()
    if key.private_key is None:  # pragma: no cover - a current key is active
        raise signing.SigningKeyError(f"access-token key {key.kid} cannot sign")
    now = int(utc_now().timestamp())
    payload = {
        **claims,
        "iss": settings.identity.issuer,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + ttl_seconds,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, key.private_key, algorithm=key.alg, headers={"kid": key.kid})


def _invalid(reason: str) -> Unauthorized:
    return Unauthorized(f"invalid token: {reason}", code="invalid_token")


def verify_token(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a valid token, or ``Unauthorized`` (code ``invalid_token``)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid("malformed") from exc
    alg, kid = header.get("alg"), header.get("kid")
    if alg not in ACCEPTED_ALGORITHMS:
        raise _invalid(f"algorithm {alg!r} is not accepted")
    keys = token_keys_for(settings)
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _invalid("unknown signing key")
    if not keys.verifies(key):
        raise _invalid("signing key retired")
    if key.alg != alg:
        raise _invalid(f"algorithm {alg!r} is not the key's")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[key.alg],
            audience=AUDIENCE,
            issuer=settings.identity.issuer,
            options={"require": ["exp", "iat", "sub", "typ", "jti"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError as exc:
        raise _invalid("expired") from exc
    except jwt.PyJWTError as exc:
        raise _invalid(str(exc)) from exc
    return claims


def public_jwks(settings: Settings) -> dict[str, Any]:
    """The active access-token verification keys as a JWK set (for resource servers)."""
    return token_keys_for(settings).jwks()
