"""The optional parallel SM2 signature of a transcript (商用密码; issue 10 item 5).

When ``transcripts.sm2`` is on (``CREDITBANK_TRANSCRIPTS__SM2=true``), each issued
transcript also carries a detached SM2 proof over **the JWS signing input of its
VC-JWT**: the ASCII bytes ``BASE64URL(header) "." BASE64URL(payload)`` (everything of
``vc_jwt`` before its second ``.``), i.e. exactly the bytes the JOSE signature covers,
so the SM2 signature binds the same header and credential. SM2 with SM3 and the
GM/T 0009 default user id ``1234567812345678`` (:mod:`creditbank.kit.sm2`), by the
current ``SM2`` key of the transcript-issuer set, whose public JWK
(``kty: EC, crv: SM2``) is published with the others at ``/.well-known/jwks.json``
and its ``kid`` URL. The proof::

    {"type": "SM2Signature", "alg": "SM2", "digest": "SM3",
     "user_id": "1234567812345678", "signed": "vc_jwt",
     "kid": "<base URL>/.well-known/jwks/ti-…",
     "signature": "<r || s: 128 hex digits>"}

The international proofs (the VC-JWT itself) stay; the SM2 one is in addition.
"""

from __future__ import annotations

import re
from typing import Any

from creditbank.kit import signing
from creditbank.kit.sm2 import DEFAULT_USER_ID, NAME

TYPE = "SM2Signature"
SIGNED = "vc_jwt"
_HEX = re.compile(r"[0-9a-fA-F]{128}")

#: kid URL -> (public JWK with ``alg``, status) or None (as for the VC-JWT's key).
KeyResolver = Any


def signing_input(vc_jwt: str) -> bytes:
    """The JWS signing input of a compact JWS: what both signatures cover."""
    head, _, rest = vc_jwt.strip().partition(".")
    payload, _, _signature = rest.partition(".")
    return f"{head}.{payload}".encode("ascii")


def proof(vc_jwt: str, key: signing.SigningKey, kid_url: str) -> dict[str, Any]:
    """The detached SM2 proof of ``vc_jwt`` by ``key`` (an SM2 key of the issuer set)."""
    if key.alg != NAME or key.private_key is None:
        raise signing.SigningKeyError(f"{key.kid} is not a current SM2 key")
    signature = key.algorithm.sign(key.private_key, signing_input(vc_jwt))
    return {
        "type": TYPE,
        "alg": NAME,
        "digest": "SM3",
        "user_id": DEFAULT_USER_ID.decode(),
        "signed": SIGNED,
        "kid": kid_url,
        "signature": signature.hex(),
    }


def check(vc_jwt: str, found: Any, resolve: KeyResolver) -> tuple[dict[str, Any], list[str]]:
    """``(the report's checks["sm2"], errors)`` of the proof ``found`` for ``vc_jwt``."""
    errors: list[str] = []
    if not isinstance(found, dict):
        return {"valid": False}, ["sm2: the proof is not a JSON object"]
    kid: Any = found.get("kid")
    signature: Any = found.get("signature")
    shape_ok = (
        found.get("type") == TYPE
        and found.get("alg") == NAME
        and found.get("user_id", DEFAULT_USER_ID.decode()) == DEFAULT_USER_ID.decode()
        and found.get("signed", SIGNED) == SIGNED
        and isinstance(kid, str)
        and isinstance(signature, str)
        and _HEX.fullmatch(signature) is not None
    )
    if not shape_ok:
        errors.append("sm2: not an SM2Signature with kid and a 128-hex-digit signature")
        return {"valid": False, "kid": kid if isinstance(kid, str) else None}, errors
    key = resolve(kid)
    key_ok = key is not None and key[0].get("alg") == NAME
    if not key_ok:
        errors.append(f"sm2: {kid!r} is not an SM2 issuer key")
    valid = key_ok and signing.verify_with_jwk(
        key[0], signing_input(vc_jwt), bytes.fromhex(signature)
    )
    if key_ok and not valid:
        errors.append("sm2: the signature does not verify with the SM2 issuer key")
    return {"valid": valid, "kid": kid, "status": key[1] if key else None}, errors
