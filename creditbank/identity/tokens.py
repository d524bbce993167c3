"""Access tokens: short-lived JWTs signed with rotating Ed25519 keys (``kid`` header).

Signing keys live in one JSON file (``0600``): ``{"current": kid, "keys": {kid:
{"private_pem": ..., "status": "active" | "retired", "created_at": ...}}}``.
Rotation adds a new current key; the previous one stays *active* so tokens it
signed keep verifying until they expire; ``retire`` makes a key refuse at once.
Only ``EdDSA`` is accepted: ``alg=none``, HMAC confusion and unknown or retired
key ids are rejected before any claim is looked at.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from creditbank.config import Settings
from creditbank.errors import Unauthorized
from creditbank.kit.crypto import Keyring, KeyringError, load_keyring, write_private_json
from creditbank.kit.time import isoformat_z, utc_now

ALGORITHM = "EdDSA"
AUDIENCE = "creditbank"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: Ed25519PrivateKey
    status: str
    created_at: str

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()


@dataclass(frozen=True)
class TokenKeys:
    current: str
    keys: dict[str, SigningKey]

    def signing_key(self) -> SigningKey:
        return self.keys[self.current]


def _pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _dump(keys: TokenKeys) -> dict[str, Any]:
    return {
        "current": keys.current,
        "keys": {
            kid: {
                "private_pem": _pem(k.private_key),
                "status": k.status,
                "created_at": k.created_at,
            }
            for kid, k in keys.keys.items()
        },
    }


def _read(path: Path) -> TokenKeys:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        keys: dict[str, SigningKey] = {}
        for kid, item in data["keys"].items():
            private = serialization.load_pem_private_key(item["private_pem"].encode(), None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"key {kid} is not Ed25519")
            keys[kid] = SigningKey(kid, private, item["status"], item["created_at"])
        if data["current"] not in keys or keys[data["current"]].status != "active":
            raise ValueError("the current key is missing or retired")
        return TokenKeys(current=data["current"], keys=keys)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"cannot read access-token keys {path}: {exc}") from exc


def _new_key(existing: dict[str, SigningKey]) -> SigningKey:
    while True:
        kid = "at-" + secrets.token_hex(4)
        if kid not in existing:
            return SigningKey(kid, Ed25519PrivateKey.generate(), "active", isoformat_z(utc_now()))


def rotate_token_keys(path: Path) -> str:
    """Add a new current signing key (the old one keeps verifying). Returns its kid."""
    keys = _read(path) if path.exists() else TokenKeys(current="", keys={})
    new = _new_key(keys.keys)
    write_private_json(path, _dump(TokenKeys(current=new.kid, keys={**keys.keys, new.kid: new})))
    _cache.pop(path.resolve(), None)
    return new.kid


def retire_token_key(path: Path, kid: str) -> None:
    """Make ``kid`` refuse from now on (it may not be the current key)."""
    keys = _read(path)
    if kid not in keys.keys:
        raise KeyringError(f"no access-token key {kid!r}")
    if kid == keys.current:
        raise KeyringError("rotate first: the current key cannot be retired")
    old = keys.keys[kid]
    retired = SigningKey(old.kid, old.private_key, "retired", old.created_at)
    write_private_json(
        path, _dump(TokenKeys(current=keys.current, keys={**keys.keys, kid: retired}))
    )
    _cache.pop(path.resolve(), None)


_cache: dict[Path, tuple[int, TokenKeys]] = {}
_lock = threading.Lock()


def load_token_keys(path: Path, *, create: bool) -> TokenKeys:
    resolved = path.resolve()
    with _lock:
        if not resolved.exists():
            if not create:
                raise KeyringError(
                    f"no access-token signing keys at {path} (create them with "
                    "`creditbank keys rotate --kind access-token`)"
                )
            new = _new_key({})
            write_private_json(resolved, _dump(TokenKeys(current=new.kid, keys={new.kid: new})))
        mtime = resolved.stat().st_mtime_ns
        cached = _cache.get(resolved)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        keys = _read(resolved)
        _cache[resolved] = (mtime, keys)
        return keys


# -- settings --------------------------------------------------------------------------


def _may_generate(settings: Settings) -> bool:
    if settings.security.generate_missing_keys is not None:
        return settings.security.generate_missing_keys
    return settings.env != "prod"


def keyring_path(settings: Settings) -> Path:
    return settings.security.keyring_path or settings.key_dir / "keyring.json"


def token_keys_path(settings: Settings) -> Path:
    return settings.security.token_keys_path or settings.key_dir / "access-token-keys.json"


def keyring_for(settings: Settings) -> Keyring:
    """The field-encryption keyring of this deployment."""
    return load_keyring(keyring_path(settings), create=_may_generate(settings))


def token_keys_for(settings: Settings) -> TokenKeys:
    return load_token_keys(token_keys_path(settings), create=_may_generate(settings))


def ensure_keys(settings: Settings) -> None:
    """Load both key files; in production a missing file stops the start-up."""
    keyring_for(settings)
    token_keys_for(settings)


# -- tokens ----------------------------------------------------------------------------


def issue_token(settings: Settings, claims: dict[str, Any], *, ttl_seconds: int) -> str:
    """A signed JWT with ``iss``, ``aud``, ``iat``, ``exp``, ``jti`` added to ``claims``."""
    keys = token_keys_for(settings)
    key = keys.signing_key()
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
    return jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def _invalid(reason: str) -> Unauthorized:
    return Unauthorized(f"invalid token: {reason}", code="invalid_token")


def verify_token(settings: Settings, token: str) -> dict[str, Any]:
    """The claims of a valid token, or ``Unauthorized`` (code ``invalid_token``)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise _invalid("malformed") from exc
    if header.get("alg") != ALGORITHM:
        raise _invalid(f"algorithm {header.get('alg')!r} is not accepted")
    kid = header.get("kid")
    keys = token_keys_for(settings)
    key = keys.keys.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise _invalid("unknown signing key")
    if key.status != "active":
        raise _invalid("signing key retired")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key,
            algorithms=[ALGORITHM],
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
    keys = token_keys_for(settings)
    out = []
    for key in keys.keys.values():
        if key.status != "active":
            continue
        raw = key.public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        import base64

        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        out.append({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA"})
    return {"keys": out}
