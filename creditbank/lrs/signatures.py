"""Signed statements (xAPI 1.0.3 Part Two §2.6; xAPI 2.0 the same rules).

A signed statement carries a JWS as an attachment with usageType
``http://adlnet.gov/expapi/attachments/signature`` and contentType
``application/octet-stream``. The LRS must:

* decode the JWS (compact serialization; the JSON serialization is refused: the spec
  discourages it and says it will be forbidden),
* require the algorithm to be RS256, RS384 or RS512,
* take the statement from the JWS payload and check that it is *logically
  equivalent* to the received statement (the Statement Comparison Requirements; the
  received statement is compared without its signature attachment(s), since the
  signature was added after signing),
* verify the signature against the X.509 certificate of the ``x5c`` header when there
  is one (or an RSA ``jwk`` header), as JWS defines.

Without a certificate or key in the header there is nothing to check the signature
against: the spec makes that the reader's business ("outside the scope").
Any failure is ``BadRequest`` (400). Pure: no database, no HTTP.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from creditbank.errors import BadRequest
from creditbank.lrs.xapi.compare import statements_equivalent
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.validate import SIGNATURE_USAGE_TYPE, validate_statement

ALGORITHMS = frozenset({"RS256", "RS384", "RS512"})


class SignatureInvalid(BadRequest):
    """A signature attachment is malformed, does not verify, or signs another statement."""

    code = "invalid_signature"


def is_signature(attachment: dict[str, Any]) -> bool:
    return attachment.get("usageType") == SIGNATURE_USAGE_TYPE


def _b64url(segment: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid(f"the JWS {what} is not base64url") from exc


def _public_key(header: dict[str, Any]) -> RSAPublicKey | None:
    chain = header.get("x5c")
    if chain is not None:
        if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
            raise SignatureInvalid("the JWS x5c header must be a non-empty array of certificates")
        try:
            certificate = x509.load_der_x509_certificate(base64.b64decode(chain[0]))
        except (ValueError, binascii.Error) as exc:
            raise SignatureInvalid("the JWS x5c certificate cannot be read") from exc
        key = certificate.public_key()
        if not isinstance(key, RSAPublicKey):
            raise SignatureInvalid("the JWS x5c certificate does not hold an RSA key")
        return key
    jwk = header.get("jwk")
    if jwk is not None:
        try:
            loaded = RSAAlgorithm.from_jwk(orjson.dumps(jwk).decode())
        except (jwt.InvalidKeyError, ValueError, TypeError, KeyError) as exc:
            raise SignatureInvalid("the JWS jwk header is not an RSA public key") from exc
        if not isinstance(loaded, RSAPublicKey):
            raise SignatureInvalid("the JWS jwk header must be an RSA public key")
        return loaded
    return None


def _without_signatures(statement: dict[str, Any]) -> dict[str, Any]:
    out = dict(statement)
    kept = [a for a in out.get("attachments") or () if not is_signature(a)]
    if kept:
        out["attachments"] = kept
    else:
        out.pop("attachments", None)
    return out


def verify_statement_signature(statement: dict[str, Any], jws: bytes, *, version: str) -> None:
    """Check the JWS of a signature attachment against the statement that carries it.

    ``statement`` is the received statement after validation and before the LRS
    assigned anything (id, authority, stored).
    """
    try:
        token = jws.decode("ascii").strip()
    except UnicodeDecodeError as exc:
        raise SignatureInvalid("the signature is not a JWS compact serialization") from exc
    segments = token.split(".")
    if len(segments) != 3 or not all(segments[:2]) or not segments[2]:
        raise SignatureInvalid("the signature is not a JWS compact serialization")
    try:
        header = orjson.loads(_b64url(segments[0], "header"))
    except orjson.JSONDecodeError as exc:
        raise SignatureInvalid("the JWS header is not JSON") from exc
    if not isinstance(header, dict):
        raise SignatureInvalid("the JWS header is not a JSON object")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise SignatureInvalid(
            f"the JWS algorithm must be RS256, RS384 or RS512, not {algorithm!r}"
        )
    _b64url(segments[2], "signature")
    try:
        payload = orjson.loads(_b64url(segments[1], "payload"))
    except orjson.JSONDecodeError as exc:
        raise SignatureInvalid(
            "the JWS payload is not a JSON serialization of a statement"
        ) from exc
    if not isinstance(payload, dict):
        raise SignatureInvalid("the JWS payload is not a statement (a JSON object)")
    try:
        signed = validate_statement(payload, version=version, path="$signature.payload")
    except XAPIValidationError as exc:
        raise SignatureInvalid(f"the signed statement is invalid: {exc}") from None
    if not statements_equivalent(_without_signatures(statement), _without_signatures(signed)):
        raise SignatureInvalid("the signed statement (JWS payload) differs from the statement")
    key = _public_key(header)
    if key is not None:
        try:
            jwt.PyJWS().decode(token, key=key, algorithms=[algorithm])
        except jwt.InvalidTokenError as exc:
            raise SignatureInvalid(f"the JWS signature does not verify: {exc}") from exc
