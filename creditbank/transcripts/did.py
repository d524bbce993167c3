"""The bank's ``did:web`` and its DID document: every transcript issuer public key.

``did:web`` of the configured base URL (``https://bank.example.cn:8443/cb`` ->
``did:web:bank.example.cn%3A8443:cb``), served at ``/.well-known/did.json``. Each key is a
verification method ``<did>#<kid>``: Ed25519 as a ``Multikey`` (``publicKeyMultibase``
``z6Mk...``, what ``eddsa-rdfc-2022`` proofs name), others as ``JsonWebKey``
(``publicKeyJwk``). Retired keys stay listed (and in ``assertionMethod``), so proofs
made before a rotation still verify; ``keys`` says which is which.

Pure functions over public keys: the key set comes from :mod:`creditbank.kit.signing`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from creditbank.kit import signing
from creditbank.transcripts.documents import DID_V1, MULTIKEY_V1

#: Multicodec ``ed25519-pub`` (0xed, varint) in front of the 32 raw key bytes.
ED25519_PUB = b"\xed\x01"
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def b58encode(data: bytes) -> str:
    """Bitcoin base58 (leading zero bytes as ``1``)."""
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def b58decode(text: str) -> bytes:
    """Inverse of :func:`b58encode`; ``ValueError`` on a character outside the alphabet."""
    number = 0
    for char in text:
        if char not in _B58_INDEX:
            raise ValueError("not base58btc")
        number = number * 58 + _B58_INDEX[char]
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def multibase_encode(data: bytes) -> str:
    """Multibase base58btc: ``z`` + base58."""
    return "z" + b58encode(data)


def multibase_decode(text: str) -> bytes:
    if not text.startswith("z"):
        raise ValueError("only multibase base58btc ('z') is accepted")
    return b58decode(text[1:])


def ed25519_multikey(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return multibase_encode(ED25519_PUB + raw)


def ed25519_from_multikey(value: str) -> Ed25519PublicKey:
    """The Ed25519 public key of a ``publicKeyMultibase``; ``ValueError`` if it is none."""
    data = multibase_decode(value)
    if len(data) != 34 or not data.startswith(ED25519_PUB):
        raise ValueError("not an Ed25519 Multikey")
    return Ed25519PublicKey.from_public_bytes(data[2:])


def did_web(base_url: str) -> str:
    """``did:web`` of a base URL: host (port as ``%3A``), then each path segment."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    if parts.port is not None:
        host += f"%3A{parts.port}"
    segments = [quote(s, safe="") for s in parts.path.split("/") if s]
    return ":".join(["did:web", host, *segments])


def verification_method_id(did: str, kid: str) -> str:
    return f"{did}#{kid}"


def verification_method(did: str, key: signing.SigningKey) -> dict[str, Any]:
    method: dict[str, Any] = {
        "id": verification_method_id(did, key.kid),
        "controller": did,
    }
    if key.alg == "EdDSA":
        method["type"] = "Multikey"
        method["publicKeyMultibase"] = ed25519_multikey(key.public_key)
    else:
        jwk = {k: v for k, v in key.jwk().items() if k not in ("kid", "use")}
        method["type"] = "JsonWebKey"
        method["publicKeyJwk"] = jwk
    return method


def document(did: str, keys: signing.KeySet) -> dict[str, Any]:
    """The DID document listing every key of ``keys`` that verifies (current and retired)."""
    listed = [k for k in sorted(keys.keys.values(), key=lambda k: k.kid) if keys.verifies(k)]
    methods = [verification_method(did, k) for k in listed]
    ids = [m["id"] for m in methods]
    return {
        "@context": [DID_V1, MULTIKEY_V1],
        "id": did,
        "verificationMethod": methods,
        "assertionMethod": ids,
    }


def find_method(did_document: dict[str, Any], method_id: str) -> dict[str, Any] | None:
    """The verification method ``method_id`` of a DID document, if it is an assertion
    method there (what an ``assertionMethod`` proof needs)."""
    if not isinstance(did_document, dict):
        return None
    assertion = did_document.get("assertionMethod")
    if not isinstance(assertion, list):
        return None
    allowed = {a if isinstance(a, str) else a.get("id") for a in assertion if a}
    if method_id not in allowed:
        return None
    methods = did_document.get("verificationMethod")
    candidates = [m for m in methods if isinstance(m, dict)] if isinstance(methods, list) else []
    candidates += [a for a in assertion if isinstance(a, dict)]
    for method in candidates:
        if method.get("id") == method_id:
            return method
    return None
