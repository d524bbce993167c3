"""SD-JWT VC (IETF SD-JWT VC over RFC 9901 SD-JWT) of a transcript: selective disclosure.

Pure functions over bytes, like :mod:`creditbank.transcripts.vcjwt`: the issuer key
comes from the caller (the ES256 key of the transcript-issuer key set), the key of a
``kid`` from a resolver.

The issuer-signed JWT (header ``alg: ES256``, ``kid`` URL, ``typ: dc+sd-jwt``) holds
what is never selectively disclosable: ``iss``, ``iat``, ``nbf``, ``exp``, ``vct``,
``jti`` (the transcript's or the share's URN), ``_sd_alg: sha-256``, ``cnf.jwk`` (the
holder's key, when she gave one), ``credentialStatus`` (the W3C Bitstring Status List
entries of the transcript, or of the share: its own revocation and suspension entries,
never selectively disclosable; the IETF Token Status List ``status`` claim is not
used) and the transcript's name and moment.
Each personal claim (``sub``, the pseudonymous subject; ``credit_totals``) is one
disclosure of the top-level ``_sd``; each outcome is one element disclosure of the
``achievements`` array, each conversion one of ``conversions``. Two decoy digests
hide how many personal claims there are.

A presentation is ``<issuer JWT>~<disclosure>~...~`` followed by a KB-JWT (``typ:
kb+jwt``: ``iat``, ``aud``, ``nonce``, ``sd_hash``) when key binding is shown.
:func:`verify` reports exactly the disclosed claims and ``valid`` only when the
signature, every disclosure, key binding (when expected) and the validity window hold.
Input whose issuer JWT is not a compact JWS raises :class:`UnparseableSdJwt` (400).
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import json
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from creditbank.errors import BadRequest
from creditbank.kit import signing
from creditbank.kit.time import isoformat_z
from creditbank.transcripts.vcjwt import MAX_DEPTH, MAX_TOKEN_BYTES, KeyResolver, canonical_json

TYP = "dc+sd-jwt"
KB_TYP = "kb+jwt"
ALG = "ES256"
SD_ALG = "sha-256"
MEDIA_TYPE = "application/dc+sd-jwt"
#: Personal claims, each a disclosure of its own.
PERSONAL = ("sub", "credit_totals")
#: Claims an SD-JWT VC never hides (SD-JWT VC §3.2.2.2) and our own plain ones.
PLAIN = frozenset(
    {
        "iss",
        "iat",
        "nbf",
        "exp",
        "vct",
        "jti",
        "cnf",
        "status",
        "credentialStatus",
        "_sd_alg",
        "name",
        "as_of",
    }
)
#: Holder keys may sign the KB-JWT with these.
HOLDER_ALGORITHMS = frozenset({"ES256", "EdDSA", "RS256"})
DECOYS = 2
#: A KB-JWT older than this (or more than a minute ahead) is refused.
KB_MAX_AGE_SECONDS = 600
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


class UnparseableSdJwt(BadRequest):
    """Not ``<compact JWS>~...``: the issuer JWT has no JSON header and payload."""

    def __init__(self, message: str) -> None:
        super().__init__(f"unparseable SD-JWT: {message} / 无法解析的凭证", code="unparseable")


def vct_of(issuer_id: str) -> str:
    """The SD-JWT VC type of a transcript issued by ``issuer_id``."""
    return f"{issuer_id}/vct/learning-transcript/v1"


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64d(text: str) -> bytes:
    if not _B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def digest(text: str) -> str:
    """The ``sha-256`` digest of a disclosure (or of the presentation, ``sd_hash``)."""
    return _b64e(hashlib.sha256(text.encode("ascii")).digest())


def disclosure(value: list[Any]) -> str:
    """``base64url(JSON [salt, name, value])`` (or ``[salt, value]`` for an element)."""
    return _b64e(canonical_json(value).encode("utf-8"))


def _salt() -> str:
    return _b64e(secrets.token_bytes(16))


def _jws(header: dict[str, Any], payload: dict[str, Any], key: signing.SigningKey) -> str:
    signing_input = (
        _b64e(canonical_json(header).encode()) + "." + _b64e(canonical_json(payload).encode())
    )
    signature = key.algorithm.sign(key.private_key, signing_input.encode("ascii"))
    return signing_input + "." + _b64e(signature)


def _timestamp(value: str) -> int:
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())


# -- what the transcript discloses -----------------------------------------------------


def outcome_claim(achievement: dict[str, Any]) -> dict[str, Any]:
    """An outcome as disclosed: its AchievementCredential without the subject's id (that
    is a personal claim of its own) and without the issuer (``iss`` says it)."""
    out = copy.deepcopy(achievement)
    out.pop("@context", None)
    out.pop("issuer", None)
    if isinstance(out.get("credentialSubject"), dict):
        out["credentialSubject"].pop("id", None)
    return out


def outcome_key(claim: dict[str, Any]) -> str:
    """The learning unit code the learner names an outcome by."""
    return str(claim["credentialSubject"]["achievement"]["humanCode"])


def conversion_keys(claim: dict[str, Any]) -> set[str]:
    """A conversion is named by its id (URN) or its target unit."""
    return {str(v) for v in (claim.get("id"), claim.get("targetUnit")) if v}


@dataclass(frozen=True)
class Selection:
    """What a share discloses: unit codes, conversion ids or target units, personal
    claim names; ``None`` means all of that kind."""

    outcomes: frozenset[str] | None = None
    conversions: frozenset[str] | None = None
    personal: frozenset[str] | None = None

    @classmethod
    def of(
        cls,
        *,
        outcomes: Iterable[str] | None = None,
        conversions: Iterable[str] | None = None,
        personal: Iterable[str] | None = None,
    ) -> Selection:
        def fz(items: Iterable[str] | None) -> frozenset[str] | None:
            return None if items is None else frozenset(items)

        return cls(fz(outcomes), fz(conversions), fz(personal))


def unknown_choices(credential: dict[str, Any], selection: Selection) -> list[str]:
    """The names in ``selection`` that this transcript does not hold (to refuse them)."""
    subject = credential["credentialSubject"]
    units = {outcome_key(outcome_claim(vc)) for vc in subject["verifiableCredential"]}
    conversions: set[str] = set()
    for c in subject["conversions"]:
        conversions |= conversion_keys(c)
    missing = [f"outcome {u}" for u in sorted((selection.outcomes or set()) - units)]
    missing += [f"conversion {c}" for c in sorted((selection.conversions or set()) - conversions)]
    personal = set(selection.personal or ()) - set(PERSONAL)
    missing += [f"personal claim {p}" for p in sorted(personal)]
    return missing


def issue(
    credential: dict[str, Any],
    key: signing.SigningKey,
    kid_url: str,
    *,
    jti: str,
    vct: str,
    issued_at: datetime,
    expires_at: datetime | None = None,
    holder_jwk: dict[str, Any] | None = None,
    status: dict[str, Any] | None = None,
    selection: Selection | None = None,
    credential_status: list[dict[str, Any]] | None = None,
) -> str:
    """The SD-JWT ``<issuer JWT>~<disclosures>~`` of ``credential`` (a ClrCredential),
    with fresh salts; only the disclosures ``selection`` chooses are appended (all by
    default), the digests of all of them are signed. ``credential_status`` (the
    ``BitstringStatusListEntry`` list of the transcript or of the share) is the plain
    ``credentialStatus`` claim; ``credential``'s own is never copied (a share has its own
    entries)."""
    chosen = selection or Selection()
    subject = credential["credentialSubject"]
    disclosures: list[str] = []
    top_digests: list[str] = []

    personal_values = {"sub": subject["id"], "credit_totals": subject["creditTotals"]}
    for name in PERSONAL:
        text = disclosure([_salt(), name, personal_values[name]])
        top_digests.append(digest(text))
        if chosen.personal is None or name in chosen.personal:
            disclosures.append(text)
    top_digests += [digest(_salt()) for _ in range(DECOYS)]

    achievements = []
    for vc in subject["verifiableCredential"]:
        claim = outcome_claim(vc)
        text = disclosure([_salt(), claim])
        achievements.append({"...": digest(text)})
        if chosen.outcomes is None or outcome_key(claim) in chosen.outcomes:
            disclosures.append(text)
    conversions = []
    for conversion in subject["conversions"]:
        text = disclosure([_salt(), conversion])
        conversions.append({"...": digest(text)})
        if chosen.conversions is None or conversion_keys(conversion) & chosen.conversions:
            disclosures.append(text)

    payload: dict[str, Any] = {
        "iss": credential["issuer"]["id"],
        "iat": int(issued_at.timestamp()),
        "nbf": _timestamp(credential["validFrom"]),
        "vct": vct,
        "jti": jti,
        "name": credential["name"],
        "as_of": subject["asOf"],
        "_sd_alg": SD_ALG,
        "_sd": sorted(top_digests),
        "achievements": achievements,
        "conversions": conversions,
    }
    ends = [_end(e) for e in (expires_at, credential.get("validUntil")) if e is not None]
    if ends:
        payload["exp"] = min(ends)
    if holder_jwk is not None:
        payload["cnf"] = {"jwk": holder_jwk}
    if status is not None:
        payload["status"] = status
    if credential_status:
        payload["credentialStatus"] = credential_status
    header = {"alg": key.alg, "kid": kid_url, "typ": TYP}
    return _jws(header, payload, key) + "~" + "".join(d + "~" for d in disclosures)


def _end(value: datetime | str) -> int:
    return _timestamp(value) if isinstance(value, str) else int(value.timestamp())


def key_binding(
    sd_jwt: str,
    holder_key: signing.SigningKey,
    *,
    nonce: str,
    audience: str,
    issued_at: datetime,
) -> str:
    """The presentation ``sd_jwt`` + KB-JWT signed by the holder (wallets do this; the
    bank uses it in tests and benchmarks)."""
    head = sd_jwt if sd_jwt.endswith("~") else sd_jwt + "~"
    payload = {
        "iat": int(issued_at.timestamp()),
        "aud": audience,
        "nonce": nonce,
        "sd_hash": digest(head),
    }
    return head + _jws({"alg": holder_key.alg, "typ": KB_TYP}, payload, holder_key)


# -- verification ----------------------------------------------------------------------


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max([_depth(v, level + 1) for v in value.values()], default=level + 1)
    if isinstance(value, list):
        return max([_depth(v, level + 1) for v in value], default=level + 1)
    return level


def _jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    """Header, payload, signing input, signature; ValueError when not a compact JWS."""
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(_b64d(parts[0]))
        payload = json.loads(_b64d(parts[1]), parse_float=Decimal)
        signature = _b64d(parts[2])
    except (binascii.Error, UnicodeDecodeError, RecursionError) as exc:
        raise ValueError("header, payload or signature is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("header and payload must be JSON objects")
    if _depth(payload) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH}")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


def is_sd_jwt(text: str) -> bool:
    return "~" in text.strip()


def split(presentation: str) -> tuple[str, list[str], str | None]:
    """``(issuer JWT, disclosures, KB-JWT or None)``; raises UnparseableSdJwt."""
    text = presentation.strip()
    if len(text) > MAX_TOKEN_BYTES:
        raise UnparseableSdJwt(f"longer than {MAX_TOKEN_BYTES} bytes")
    if "~" not in text:
        raise UnparseableSdJwt("no '~': an SD-JWT is <issuer JWT>~<disclosures>~[KB-JWT]")
    parts = text.split("~")
    jwt, *disclosures, last = parts
    try:
        _jwt_parts(jwt)
    except ValueError as exc:
        raise UnparseableSdJwt(f"issuer JWT: {exc}") from exc
    return jwt, disclosures, (last or None)


def peek(presentation: str) -> dict[str, Any] | None:
    """The issuer JWT's payload, unverified (to know which status lists to fetch before
    verifying); None when it cannot be parsed (:func:`verify` then says why)."""
    try:
        jwt, _, _ = split(presentation)
        return _jwt_parts(jwt)[1]
    except (UnparseableSdJwt, ValueError):
        return None


def verify(
    presentation: str,
    resolve: KeyResolver,
    *,
    now: datetime,
    nonce: str | None = None,
    audience: str | None = None,
) -> dict[str, Any]:
    """The verification report of an SD-JWT (VC) presentation.

    Key binding is required when the verifier expects a ``nonce`` or an ``audience``;
    a KB-JWT that is present is always checked (holder key, ``sd_hash``, ``iat``).
    """
    jwt, disclosures, kb_jwt = split(presentation)
    header, payload, signing_input, signature = _jwt_parts(jwt)
    errors: list[str] = []
    checks: dict[str, Any] = {}

    alg, kid = header.get("alg"), header.get("kid")
    header_ok = True
    if alg != ALG:
        errors.append(f"header: alg {alg!r} is not accepted (ES256)")
        header_ok = False
    if header.get("typ") != TYP:
        errors.append(f"header: typ {header.get('typ')!r} is not {TYP}")
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
    checks["issuer_key"] = {"valid": key_ok, "kid": kid, "status": found[1] if found else None}
    signature_ok = (
        key_ok and found is not None and signing.verify_with_jwk(found[0], signing_input, signature)
    )
    if key_ok and not signature_ok:
        errors.append("signature: does not verify with the issuer key")
    checks["signature"] = {"valid": signature_ok}

    claims_ok = True
    if payload.get("_sd_alg", SD_ALG) != SD_ALG:
        errors.append(f"claims: _sd_alg {payload.get('_sd_alg')!r} is not sha-256")
        claims_ok = False
    for name in ("iss", "vct", "iat"):
        if name not in payload:
            errors.append(f"claims: no {name}")
            claims_ok = False
    checks["claims"] = {"valid": claims_ok}

    disclosed, disclosure_ok = _disclose(payload, disclosures, errors)
    checks["disclosures"] = {"valid": disclosure_ok, "count": len(disclosures)}

    checks["key_binding"] = binding = _key_binding(
        payload, jwt, disclosures, kb_jwt, errors, now=now, nonce=nonce, audience=audience
    )
    checks["validity"] = validity = _window(payload, errors, now)
    valid = (
        header_ok
        and key_ok
        and signature_ok
        and claims_ok
        and disclosure_ok
        and binding["valid"]
        and validity["valid"]
    )
    return {
        "valid": valid,
        "format": "sd-jwt-vc",
        "checks": checks,
        "errors": errors,
        "issuer": payload.get("iss"),
        "credential_id": payload.get("jti"),
        "vct": payload.get("vct"),
        "subject": disclosed.get("sub") if signature_ok else None,
        "disclosed": _summary(disclosed) if signature_ok else None,
        "credential": disclosed if signature_ok else None,
    }


def _summary(claims: dict[str, Any]) -> dict[str, Any]:
    """Which personal claims, outcomes (unit codes) and conversions were disclosed."""
    outcomes: list[str | None] = []
    for item in claims.get("achievements") or []:
        try:
            outcomes.append(outcome_key(item))
        except (KeyError, TypeError):
            outcomes.append(None)
    return {
        "personal": sorted(name for name in PERSONAL if name in claims),
        "outcomes": outcomes,
        "conversions": [
            item.get("id") if isinstance(item, dict) else None
            for item in claims.get("conversions") or []
        ],
    }


def _disclose(
    payload: dict[str, Any], disclosures: list[str], errors: list[str]
) -> tuple[dict[str, Any], bool]:
    """The payload with every disclosure put in place and undisclosed digests removed."""
    ok = True
    by_digest: dict[str, list[Any]] = {}
    for index, text in enumerate(disclosures):
        try:
            value = json.loads(_b64d(text), parse_float=Decimal)
        except (ValueError, binascii.Error, UnicodeDecodeError, RecursionError):
            errors.append(f"disclosure {index + 1}: not base64url JSON")
            ok = False
            continue
        if not isinstance(value, list) or len(value) not in (2, 3) or not isinstance(value[0], str):
            errors.append(f"disclosure {index + 1}: not a JSON array [salt, (name,) value]")
            ok = False
            continue
        if _depth(value) > MAX_DEPTH:
            errors.append(f"disclosure {index + 1}: nested deeper than {MAX_DEPTH}")
            ok = False
            continue
        hashed = digest(text)
        if hashed in by_digest:
            errors.append(f"disclosure {index + 1}: disclosed twice")
            ok = False
            continue
        by_digest[hashed] = value
    used: set[str] = set()

    def walk(node: Any) -> Any:
        nonlocal ok
        if isinstance(node, list):
            out = []
            for item in node:
                if isinstance(item, dict) and set(item) == {"..."}:
                    ref = item["..."]
                    value = by_digest.get(ref) if isinstance(ref, str) else None
                    if value is None:
                        continue  # not disclosed (or a decoy)
                    if len(value) != 2:
                        errors.append("disclosure: an array element disclosure has a name")
                        ok = False
                        continue
                    if ref in used:
                        errors.append("disclosure: one digest referenced twice")
                        ok = False
                        continue
                    used.add(ref)
                    out.append(walk(value[1]))
                else:
                    out.append(walk(item))
            return out
        if isinstance(node, dict):
            result = {k: walk(v) for k, v in node.items() if k != "_sd"}
            digests = node.get("_sd", [])
            if not isinstance(digests, list):
                errors.append("claims: _sd is not an array")
                ok = False
                return result
            for ref in digests:
                value = by_digest.get(ref) if isinstance(ref, str) else None
                if value is None:
                    continue
                if len(value) != 3 or not isinstance(value[1], str):
                    errors.append("disclosure: an object property disclosure has no name")
                    ok = False
                    continue
                name = value[1]
                if ref in used or name in result or name in ("_sd", "..."):
                    errors.append(f"disclosure: claim {name!r} disclosed twice or clashes")
                    ok = False
                    continue
                if name in PLAIN:
                    errors.append(f"disclosure: {name!r} must not be selectively disclosed")
                    ok = False
                    continue
                used.add(ref)
                result[name] = walk(value[2])
            return result
        return node

    claims = walk({k: v for k, v in payload.items() if k != "_sd_alg"})
    for index, text in enumerate(disclosures):
        hashed = digest(text)
        if hashed in by_digest and hashed not in used:
            errors.append(f"disclosure {index + 1}: matches no digest of the credential")
            ok = False
    return claims, ok


def _key_binding(
    payload: dict[str, Any],
    jwt: str,
    disclosures: list[str],
    kb_jwt: str | None,
    errors: list[str],
    *,
    now: datetime,
    nonce: str | None,
    audience: str | None,
) -> dict[str, Any]:
    expected = nonce is not None or audience is not None
    cnf = payload.get("cnf")
    holder = cnf.get("jwk") if isinstance(cnf, dict) else None
    report: dict[str, Any] = {
        "valid": True,
        "present": kb_jwt is not None,
        "required": expected,
        "holder_key": isinstance(holder, dict),
    }
    if kb_jwt is None:
        if expected:
            errors.append("key binding: a KB-JWT is required (nonce/audience expected), none sent")
            report["valid"] = False
        return report
    try:
        header, claims, signing_input, signature = _jwt_parts(kb_jwt)
    except ValueError as exc:
        errors.append(
            f"key binding: the part after the last '~' is not a KB-JWT ({exc}); "
            "a truncated SD-JWT ends without '~'"
        )
        report["valid"] = False
        return report
    problems = []
    if header.get("typ") != KB_TYP:
        problems.append(f"typ {header.get('typ')!r} is not {KB_TYP}")
    alg = header.get("alg")
    if alg not in HOLDER_ALGORITHMS:
        problems.append(f"alg {alg!r} is not accepted")
    if not isinstance(holder, dict):
        problems.append("the credential has no cnf.jwk to check it with")
    elif alg in HOLDER_ALGORITHMS and not signing.verify_with_jwk(
        {**holder, "alg": alg}, signing_input, signature
    ):
        problems.append("signature does not verify with the holder key (cnf.jwk)")
    head = jwt + "~" + "".join(d + "~" for d in disclosures)
    if claims.get("sd_hash") != digest(head):
        problems.append("sd_hash does not match the issuer JWT and disclosures")
    iat = claims.get("iat")
    moment = int(now.timestamp())
    if not isinstance(iat, int) or isinstance(iat, bool):
        problems.append("no iat")
    elif iat > moment + 60 or iat < moment - KB_MAX_AGE_SECONDS:
        problems.append(f"iat outside the last {KB_MAX_AGE_SECONDS} s")
    if nonce is not None and claims.get("nonce") != nonce:
        problems.append("nonce is not the one expected")
    if audience is not None and claims.get("aud") != audience:
        problems.append(f"aud {claims.get('aud')!r} is not the audience expected")
    if "nonce" not in claims or "aud" not in claims:
        problems.append("nonce and aud are required")
    for problem in problems:
        errors.append(f"key binding: {problem}")
    report.update(
        valid=not problems,
        nonce=claims.get("nonce"),
        aud=claims.get("aud"),
        nonce_checked=nonce is not None,
        audience_checked=audience is not None,
    )
    return report


def _window(payload: dict[str, Any], errors: list[str], now: datetime) -> dict[str, Any]:
    moment = int(now.timestamp())
    nbf, exp = payload.get("nbf"), payload.get("exp")
    ok = True
    for name, value in (("nbf", nbf), ("exp", exp)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            errors.append(f"validity: {name} is not a number of seconds")
            return {"valid": False}
    if nbf is not None and nbf > moment + 60:
        errors.append("validity: not yet valid (nbf)")
        ok = False
    if exp is not None and moment >= exp:
        errors.append("validity: expired (exp)")
        ok = False

    def when(value: int | None) -> str | None:
        return None if value is None else isoformat_z(datetime.fromtimestamp(value, UTC))

    return {
        "valid": ok,
        "valid_from": when(nbf),
        "valid_until": when(exp),
        "checked_at": isoformat_z(now),
    }
