"""W3C Data Integrity proofs, cryptosuite ``eddsa-rdfc-2022`` (W3C vc-di-eddsa).

    hash data  = SHA-256(RDFC-1.0(proof config)) || SHA-256(RDFC-1.0(document))
    proofValue = multibase base58btc of the Ed25519 signature of the hash data

The proof config is the proof without ``proofValue``, with the document's ``@context``.
Canonicalisation is PyLD's URDNA2015 (= RDFC-1.0) over the contexts shipped in the
package (:mod:`creditbank.transcripts.documents`): nothing is fetched.

Numbers are read as JavaScript reads JSON before canonicalising: a credit of ``6.00``
is the integer 6 to jsonld.js, so it must be to us too, or the two canonical forms
(``"6"`` vs ``"6.0E0"``) and so every proof would differ between implementations.

:func:`verify` returns a report and never raises for a bad proof or document; only
input that is not a JSON object at all is for the caller to refuse.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from creditbank.kit import signing
from creditbank.kit.time import isoformat_z
from creditbank.transcripts import documents
from creditbank.transcripts.did import multibase_decode, multibase_encode

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
PURPOSE = "assertionMethod"
FORMAT = "application/vc+ld+json"

#: verificationMethod id -> (Ed25519 public key, key status "active"/"retired") or None.
MethodResolver = Callable[[str], tuple[Ed25519PublicKey, str] | None]


def js_numbers(value: Any) -> Any:
    """``value`` with numbers as JSON.parse gives them: integral ones as int."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        if math.isfinite(number) and number.is_integer() and abs(number) < 1e21:
            return int(number)
        return number
    if isinstance(value, dict):
        return {k: js_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [js_numbers(v) for v in value]
    return value


def _hash_data(document: dict[str, Any], proof_config: dict[str, Any]) -> bytes:
    config = {**proof_config, "@context": document.get("@context")}
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    return (
        hashlib.sha256(documents.canonize(js_numbers(config)).encode()).digest()
        + hashlib.sha256(documents.canonize(js_numbers(unsecured)).encode()).digest()
    )


def _created(moment: datetime) -> str:
    return isoformat_z(moment.replace(microsecond=0)).replace(".000Z", "Z")


def sign(
    document: dict[str, Any],
    key: signing.SigningKey,
    verification_method: str,
    *,
    created: datetime,
) -> dict[str, Any]:
    """``document`` with an embedded ``eddsa-rdfc-2022`` proof (any earlier one replaced)
    made by the Ed25519 ``key``."""
    if key.alg != "EdDSA" or key.private_key is None:
        raise signing.SigningKeyError(f"{CRYPTOSUITE} needs a current Ed25519 key, not {key.kid}")
    proof: dict[str, Any] = {
        "type": PROOF_TYPE,
        "cryptosuite": CRYPTOSUITE,
        "created": _created(created),
        "verificationMethod": verification_method,
        "proofPurpose": PURPOSE,
    }
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    signature = key.algorithm.sign(key.private_key, _hash_data(unsecured, proof))
    return {**unsecured, "proof": {**proof, "proofValue": multibase_encode(signature)}}


def _check_proof(
    document: dict[str, Any], proof: Any, resolve: MethodResolver, errors: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {"valid": False, "type": None, "cryptosuite": None}
    if not isinstance(proof, dict):
        errors.append("proof: not a JSON object")
        return out
    out.update(
        type=proof.get("type"),
        cryptosuite=proof.get("cryptosuite"),
        verification_method=proof.get("verificationMethod"),
        created=proof.get("created"),
        key_status=None,
    )
    if proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
        errors.append(
            f"proof: {proof.get('type')!r}/{proof.get('cryptosuite')!r} is not "
            f"{PROOF_TYPE}/{CRYPTOSUITE}"
        )
        return out
    if proof.get("proofPurpose") != PURPOSE:
        errors.append(f"proof: proofPurpose {proof.get('proofPurpose')!r} is not {PURPOSE}")
        return out
    value, method = proof.get("proofValue"), proof.get("verificationMethod")
    if not isinstance(value, str) or not isinstance(method, str):
        errors.append("proof: proofValue and verificationMethod must be strings")
        return out
    found = resolve(method)
    if found is None:
        errors.append(f"proof: unknown verification method {method!r}")
        return out
    public_key, status = found
    out["key_status"] = status
    try:
        signature = multibase_decode(value)
    except ValueError:
        errors.append("proof: proofValue is not multibase base58btc")
        return out
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    try:
        data = _hash_data(document, config)
    except Exception as exc:  # any input a JSON-LD processor chokes on is just invalid
        errors.append(f"proof: the document cannot be canonicalised: {_reason(exc)}")
        return out
    try:
        public_key.verify(signature, data)
    except (InvalidSignature, ValueError):
        errors.append("proof: the signature does not verify (document or proof changed)")
        return out
    out["valid"] = True
    return out


def _reason(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:300]


def verify(document: dict[str, Any], resolve: MethodResolver) -> dict[str, Any]:
    """The report of every embedded proof of ``document``; ``valid`` only when there is
    at least one and each verifies."""
    errors: list[str] = []
    proofs = document.get("proof")
    listed = proofs if isinstance(proofs, list) else [] if proofs is None else [proofs]
    if not listed:
        errors.append("proof: the credential carries no Data Integrity proof")
    unsecured = {k: v for k, v in document.items() if k != "proof"}
    checked = [_check_proof(unsecured, p, resolve, errors) for p in listed]
    valid = bool(checked) and all(c["valid"] for c in checked)
    return {"valid": valid, "proofs": checked, "errors": errors}
