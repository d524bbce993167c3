"""The transcript as JSON-LD (``application/vc+ld+json``) with its Data Integrity proof:
the verification report, and where the verification methods come from.

A report is ``valid`` only when every embedded proof verifies
(:mod:`creditbank.transcripts.dataintegrity`), each proof's key belongs to the
credential's issuer (the ``did:web`` of ``issuer.id``) and the moment is inside
``validFrom`` .. ``validUntil``. Verification methods are resolved from the bank's key
set (current and retired keys), from a DID document the verifier saved, or from a JWK
set: never over the network.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from creditbank.errors import BadRequest
from creditbank.kit import signing
from creditbank.kit.time import isoformat_z
from creditbank.transcripts import dataintegrity
from creditbank.transcripts import did as didweb
from creditbank.transcripts.vcjwt import MAX_DEPTH, _depth

FORMAT = "vc-ld"


class UnparseableCredential(BadRequest):
    def __init__(self, message: str) -> None:
        super().__init__(f"unparseable credential: {message} / 无法解析的凭证", code="unparseable")


def from_key_set(did: str, keys: signing.KeySet) -> dataintegrity.MethodResolver:
    prefix = did + "#"

    def resolve(method: str) -> tuple[Ed25519PublicKey, str] | None:
        if not method.startswith(prefix):
            return None
        key = keys.get(method[len(prefix) :])
        if key is None or key.alg != "EdDSA" or not keys.verifies(key):
            return None
        return key.public_key, key.status

    return resolve


def from_did_document(document: dict[str, Any]) -> dataintegrity.MethodResolver:
    def resolve(method: str) -> tuple[Ed25519PublicKey, str] | None:
        found = didweb.find_method(document, method)
        if found is None or method.split("#", 1)[0] != document.get("id"):
            return None
        try:
            if found.get("type") == "Multikey":
                return didweb.ed25519_from_multikey(str(found.get("publicKeyMultibase"))), (
                    "published"
                )
            jwk = found.get("publicKeyJwk")
            if isinstance(jwk, dict):
                key = signing.algorithm("EdDSA").load_public_jwk(jwk)
                return key, "published"
        except (ValueError, TypeError, KeyError):
            return None
        return None

    return resolve


def from_jwks(jwks: dict[str, Any]) -> dataintegrity.MethodResolver:
    """A JWK set saved from ``/.well-known/jwks.json``: the fragment of the method id is
    the key's kid (the last segment of its kid URL)."""
    keys = [k for k in jwks.get("keys", []) if isinstance(k, dict)]

    def resolve(method: str) -> tuple[Ed25519PublicKey, str] | None:
        fragment = method.rsplit("#", 1)[-1]
        for jwk in keys:
            kid = str(jwk.get("kid", ""))
            if kid == fragment or kid.endswith("/" + fragment):
                try:
                    return signing.algorithm("EdDSA").load_public_jwk(jwk), "published"
                except (ValueError, TypeError, KeyError):
                    return None
        return None

    return resolve


def check_document(document: Any) -> dict[str, Any]:
    """``document`` if it is a credential object at all; else UnparseableCredential."""
    if not isinstance(document, dict):
        raise UnparseableCredential("a JSON object is required")
    if _depth(document) > MAX_DEPTH:
        raise UnparseableCredential(f"nested deeper than {MAX_DEPTH}")
    if "@context" not in document:
        raise UnparseableCredential("no @context: not a JSON-LD credential")
    return document


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _validity(document: dict[str, Any], now: datetime, errors: list[str]) -> dict[str, Any]:
    start, end = _moment(document.get("validFrom")), _moment(document.get("validUntil"))
    ok = True
    if start is None:
        errors.append("validity: validFrom is missing or not a date-time")
        ok = False
    elif start.timestamp() > now.timestamp() + 60:
        errors.append("validity: outside validFrom .. validUntil")
        ok = False
    if "validUntil" in document and end is None:
        errors.append("validity: validUntil is not a date-time")
        ok = False
    elif end is not None and now >= end:
        errors.append("validity: outside validFrom .. validUntil")
        ok = False
    return {
        "valid": ok,
        "valid_from": document.get("validFrom"),
        "valid_until": document.get("validUntil"),
        "checked_at": isoformat_z(now),
    }


def verify(
    document: Any, resolve: dataintegrity.MethodResolver, *, now: datetime
) -> dict[str, Any]:
    """The report of a JSON-LD credential with embedded Data Integrity proofs."""
    document = check_document(document)
    errors: list[str] = []
    issuer = document.get("issuer")
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    expected = (
        None
        if not isinstance(issuer_id, str)
        else issuer_id
        if issuer_id.startswith("did:")
        else didweb.did_web(issuer_id)
    )
    proofs = dataintegrity.verify(document, resolve)
    errors.extend(proofs["errors"])
    owner_ok = bool(proofs["proofs"])
    for proof in proofs["proofs"]:
        method = proof.get("verification_method")
        if not isinstance(method, str) or method.split("#", 1)[0] != expected:
            errors.append(f"issuer key: {method!r} is not a key of the issuer {issuer_id!r}")
            owner_ok = False
    statuses = sorted({str(p.get("key_status")) for p in proofs["proofs"] if p.get("key_status")})
    validity = _validity(document, now, errors)
    valid = proofs["valid"] and owner_ok and validity["valid"]
    subject = document.get("credentialSubject")
    return {
        "valid": valid,
        "format": FORMAT,
        "checks": {
            "proof": {"valid": proofs["valid"], "proofs": proofs["proofs"]},
            "issuer_key": {
                "valid": owner_ok and proofs["valid"],
                "did": expected,
                "status": statuses[0] if len(statuses) == 1 else statuses or None,
            },
            "validity": validity,
        },
        "errors": errors,
        "issuer": issuer_id,
        "credential_id": document.get("id"),
        "subject": subject.get("id") if isinstance(subject, dict) else None,
        "credential": document if proofs["valid"] else None,
    }
