"""VC-JWT (1EdTech VC-JWT profile; also ``typ: vc+jwt``) signing and verification.

Pure functions over bytes: the key material comes from the caller (the issuer key set
of :mod:`creditbank.kit.signing`, or an outside JWK set for offline checks).

Signing: the JOSE header carries only ``alg``, ``kid`` (a URL under the bank's base
URL) and ``typ``; the payload is the credential itself plus ``iss``, ``jti``, ``sub``,
``nbf`` (and ``exp``) equal to ``issuer.id``, ``id``, ``credentialSubject.id``,
``validFrom`` (``validUntil``).

Verification returns a report (``valid`` true only when signature, issuer key and
validity window all hold); input that is not a compact JWS at all raises
:class:`UnparseableCredential` (the API answers 400).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from creditbank.errors import BadRequest
from creditbank.kit import signing
from creditbank.kit.time import isoformat_z
from creditbank.transcripts.keys import JOSE_ALGORITHMS

TYPES = ("JWT", "vc+jwt")
HEADER_MEMBERS = frozenset({"alg", "kid", "typ"})
MAX_TOKEN_BYTES = 1_000_000
MAX_DEPTH = 32

_DECIMAL = "\u0000decimal:"
_DECIMAL_RE = re.compile(r'"\\u0000decimal:(-?[0-9]+(?:\.[0-9]+)?)"')


class UnparseableCredential(BadRequest):
    """Not a compact JWS with JSON header and payload."""

    def __init__(self, message: str) -> None:
        super().__init__(f"unparseable VC-JWT: {message} / 无法解析的凭证", code="unparseable")


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


_TO_STANDARD = bytes.maketrans(b"-_", b"+/")


def _b64d(text: str) -> bytes:
    """Strict base64url without padding (only ``A-Z a-z 0-9 - _``); ValueError otherwise."""
    data = text.encode("ascii")  # UnicodeEncodeError is a ValueError
    if b"+" in data or b"/" in data or b"=" in data:
        raise ValueError("not base64url")
    padded = data.translate(_TO_STANDARD) + b"=" * (-len(data) % 4)
    return binascii.a2b_base64(padded, strict_mode=True)


def _mark(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _DECIMAL + format(value, "f")
    if isinstance(value, dict):
        return {k: _mark(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mark(v) for v in value]
    return value


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 text; credits (``Decimal``) as exact JSON numbers."""
    text = json.dumps(_mark(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _DECIMAL_RE.sub(lambda m: m.group(1), text)


def _timestamp(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


def registered_claims(credential: dict[str, Any]) -> dict[str, Any]:
    """The JWT claims that mirror the credential (1EdTech VC-JWT profile)."""
    issuer = credential["issuer"]
    claims: dict[str, Any] = {
        "iss": issuer["id"] if isinstance(issuer, dict) else issuer,
        "jti": credential["id"],
        "sub": credential["credentialSubject"]["id"],
        "nbf": _timestamp(credential["validFrom"]),
    }
    if credential.get("validUntil"):
        claims["exp"] = _timestamp(credential["validUntil"])
    return claims


def sign(
    credential: dict[str, Any], key: signing.SigningKey, kid_url: str, *, typ: str = "JWT"
) -> str:
    """The compact VC-JWT of ``credential`` signed by ``key`` (header kid = ``kid_url``)."""
    header = {"alg": key.alg, "kid": kid_url, "typ": typ}
    payload = {**credential, **registered_claims(credential)}
    signing_input = (
        _b64e(canonical_json(header).encode()) + "." + _b64e(canonical_json(payload).encode())
    )
    signature = key.algorithm.sign(key.private_key, signing_input.encode("ascii"))
    return signing_input + "." + _b64e(signature)


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_INNERMOST = re.compile(rb"\{\}|\[\]")


def _text_depth(raw: bytes) -> int:
    """:func:`_depth` of valid JSON text without a walk in Python: escapes and strings
    out (every other ``"`` opens one), then innermost ``{}``/``[]`` pairs removed level
    by level."""
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(None, _NOT_BRACKETS)
    depth = 0
    while brackets and depth <= MAX_DEPTH:
        brackets = _INNERMOST.sub(b"", brackets)
        depth += 1
    return depth


def parse(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """``(header, payload, signing_input, signature)``; raises UnparseableCredential."""
    token = token.strip()
    if len(token) > MAX_TOKEN_BYTES:
        raise UnparseableCredential(f"longer than {MAX_TOKEN_BYTES} bytes")
    parts = token.split(".")
    if len(parts) != 3:
        raise UnparseableCredential("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(_b64d(parts[0]))
        raw_payload = _b64d(parts[1])
        payload = json.loads(raw_payload, parse_float=Decimal)
        signature = _b64d(parts[2])
    except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise UnparseableCredential("header, payload or signature is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise UnparseableCredential("header and payload must be JSON objects")
    if _text_depth(raw_payload) > MAX_DEPTH:
        raise UnparseableCredential(f"nested deeper than {MAX_DEPTH}")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


#: kid URL -> (the public JWK with ``alg``, its status "active"/"retired") or None.
KeyResolver = Callable[[str], tuple[dict[str, Any], str] | None]


def verify(token: str, resolve: KeyResolver, *, now: datetime) -> dict[str, Any]:
    """The verification report of ``token``; ``valid`` only when every check holds."""
    header, payload, signing_input, signature = parse(token)
    errors: list[str] = []
    checks: dict[str, Any] = {}

    alg = header.get("alg")
    kid = header.get("kid")
    extra = sorted(set(header) - HEADER_MEMBERS)
    header_ok = True
    if not isinstance(alg, str) or alg not in JOSE_ALGORITHMS:
        errors.append(f"header: alg {alg!r} is not accepted (RS256, ES256, EdDSA)")
        header_ok = False
    if header.get("typ") not in TYPES:
        errors.append(f"header: typ {header.get('typ')!r} is not JWT or vc+jwt")
        header_ok = False
    if extra:
        errors.append(f"header: members other than alg, kid, typ: {extra}")
        header_ok = False
    if not isinstance(kid, str) or not kid:
        errors.append("header: no kid")
        header_ok = False
    checks["header"] = {"valid": header_ok, "alg": alg, "kid": kid, "typ": header.get("typ")}

    found = resolve(kid) if header_ok and isinstance(kid, str) else None
    if header_ok and found is None:
        errors.append(f"issuer key: unknown kid {kid!r}")
    key_ok = found is not None and found[0].get("alg") == alg
    if found is not None and not key_ok:
        errors.append(f"issuer key: {kid} is a {found[0].get('alg')} key, header says {alg}")
    checks["issuer_key"] = {
        "valid": key_ok,
        "kid": kid,
        "status": found[1] if found else None,
    }

    signature_ok = (
        key_ok and found is not None and signing.verify_with_jwk(found[0], signing_input, signature)
    )
    if key_ok and not signature_ok:
        errors.append("signature: does not verify with the issuer key")
    checks["signature"] = {"valid": signature_ok}

    claims_ok, validity = _claims(payload, errors, now)
    checks["claims"] = {"valid": claims_ok}
    checks["validity"] = validity
    valid = header_ok and key_ok and signature_ok and claims_ok and validity["valid"]
    return {
        "valid": valid,
        "format": "vc-jwt",
        "checks": checks,
        "errors": errors,
        "issuer": payload.get("iss"),
        "credential_id": payload.get("jti"),
        "subject": payload.get("sub"),
        "credential": payload if signature_ok else None,
    }


def _claims(
    payload: dict[str, Any], errors: list[str], now: datetime
) -> tuple[bool, dict[str, Any]]:
    ok = True
    try:
        expected = registered_claims(payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        errors.append("claims: the credential lacks issuer, id, credentialSubject.id or validFrom")
        return False, {"valid": False}
    for name, value in expected.items():
        if payload.get(name) != value:
            errors.append(f"claims: {name} does not mirror the credential")
            ok = False
    if "exp" in payload and "exp" not in expected:
        errors.append("claims: exp without validUntil")
        ok = False
    moment = int(now.timestamp())
    nbf, exp = expected["nbf"], expected.get("exp")
    in_window = nbf <= moment + 60 and (exp is None or moment < exp)
    if not in_window:
        errors.append("validity: outside validFrom .. validUntil")
    return ok, {
        "valid": in_window,
        "valid_from": isoformat_z(datetime.fromtimestamp(nbf, UTC)),
        "valid_until": None if exp is None else isoformat_z(datetime.fromtimestamp(exp, UTC)),
        "checked_at": isoformat_z(now),
    }
