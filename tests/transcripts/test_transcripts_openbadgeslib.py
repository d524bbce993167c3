"""PyPI ``openbadgeslib`` 4.6.3 (not ours; the dev extras pin it) checks an issued
transcript against the bank's published keys and status lists, SQLite and PostgreSQL:

- the VC-JWT's signature, with ``OB3Verifier`` (PyJWT, the algorithm pinned to the key
  type) and the key from ``/.well-known/jwks.json``; ``OB3Verifier.verify`` then stops
  at its OB 3.0 type check, since a transcript is a CLR 2.0 ``ClrCredential``, not an
  ``OpenBadgeCredential`` (README, "Interoperability");
- each embedded Open Badges 3.0 ``AchievementCredential``, read by its model;
- the Bitstring Status Lists, with ``check_credential_status`` (``verify_list=True``:
  the list's own signature and issuer too): valid, then suspended, then revoked;
- the Data Integrity form (``eddsa-rdfc-2022``), with ``verify_data_integrity_proof``.

For every one of them a tampered input fails: a changed payload under the original
signature, a token signed by another key, a status list whose bits changed under its
signature, a changed credit in the JSON-LD credential."""

from __future__ import annotations

import base64
import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from openbadgeslib.ob3 import (
    OB3VerificationError,
    OB3Verifier,
    OpenBadgeCredential,
    bundled_clr_contexts,
    check_credential_status,
    verify_data_integrity_proof,
)

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.kit import signing
from creditbank.transcripts import status
from creditbank.transcripts.vcjwt import canonical_json
from tests.identity.conftest import login
from tests.portal.helpers_portal import load_story

CONTEXTS = Path(__file__).resolve().parents[2] / "creditbank" / "transcripts" / "contexts"
UNDEFINED_TERMS = "https://www.w3.org/ns/credentials/undefined-terms/v2"
NOT_AN_OPEN_BADGE = "not an OpenBadgeCredential/AchievementCredential"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _reencode(token: str, change: Any) -> str:
    """The token with its payload changed and its signature kept."""
    h, p, s = token.split(".")
    payload = json.loads(_unb64(p))
    change(payload)
    return f"{h}.{_b64(canonical_json(payload).encode())}.{s}"


async def _issued(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """李娜's transcript (her outcomes), her login headers and the published JWK set."""
    learner = (await load_story(db, settings))["users"]["learner"]
    lina = await login(client, learner["username"], learner["password"])
    issued = await client.post(
        f"/api/v1/learners/{learner['learner_id']}/transcripts", headers=lina
    )
    assert issued.status_code == 201, issued.text
    jwks = (await client.get("/.well-known/jwks.json")).json()
    return issued.json(), lina, jwks


def _published_key(jwks: dict[str, Any], kid_url: str) -> Any:
    """The public key the kid URL names, read from the published JWK set by PyJWT."""
    (found,) = [k for k in jwks["keys"] if k["kid"] == kid_url]
    return jwt.PyJWK(found).key


def _kid(token: str) -> str:
    kid: str = json.loads(_unb64(token.split(".")[0]))["kid"]
    return kid


async def _status_lists(client: httpx.AsyncClient, credential: dict[str, Any]) -> dict[str, bytes]:
    """URL -> the published status list credential (VC-JWT bytes), as fetched."""
    out = {}
    for url in status.referenced_lists(credential):
        answer = await client.get(httpx.URL(url).path)
        assert answer.status_code == 200
        out[url] = answer.content
    return out


def _holder(payload: dict[str, Any]) -> OpenBadgeCredential:
    """An openbadgeslib credential carrying the transcript's issuer and status entries:
    its status checker takes its own model, which a ClrCredential does not parse into
    (no ``credentialSubject.achievement``), so it is built from the verified payload."""
    first = payload["credentialSubject"]["verifiableCredential"][0]
    badge = OpenBadgeCredential.from_vc_document(first)
    assert badge.issuer.id == payload["issuer"]["id"]
    return dataclasses.replace(
        badge, id=payload["id"], credential_status=payload["credentialStatus"]
    )


def _signature_holds(verifier: OB3Verifier, token: str) -> None:
    """``OB3Verifier.verify``: it checks the signature (PyJWT) before the OB 3.0 type,
    so reaching the type error means the signature, ``nbf`` and ``exp`` held."""
    with pytest.raises(OB3VerificationError, match=NOT_AN_OPEN_BADGE):
        verifier.verify(token)


async def test_openbadgeslib_verifies_the_vc_jwt_and_rejects_tampering(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    transcript, _, jwks = await _issued(client, db, settings)
    token = transcript["vc_jwt"]
    verifier = OB3Verifier(pubkey_pem=_published_key(jwks, _kid(token)))
    _signature_holds(verifier, token)

    # Its payload is the ClrCredential; every member is an OB 3.0 AchievementCredential
    # that openbadgeslib's model reads, credits included.
    payload = json.loads(_unb64(token.split(".")[1]))  # as PyJWT reads it: floats
    members = payload["credentialSubject"]["verifiableCredential"]
    assert len(members) >= 2
    for member in members:
        badge = OpenBadgeCredential.from_vc_document(member)
        subject = member["credentialSubject"]
        assert badge.issuer.id == payload["issuer"]["id"]
        assert badge.recipient_id == payload["credentialSubject"]["id"]
        assert badge.achievement.id == subject["achievement"]["id"]
        assert badge.achievement.achievement_type == "Course"
        assert badge.credits_earned == subject["creditsEarned"] > 0
        assert badge.achievement.credits_available == subject["achievement"]["creditsAvailable"]

    def more_credits(changed: dict[str, Any]) -> None:
        changed["credentialSubject"]["creditTotals"]["banked"] = "999.00"

    with pytest.raises(OB3VerificationError, match="Invalid signature"):
        verifier.verify(_reencode(token, more_credits))
    h, p, s = token.split(".")
    with pytest.raises(OB3VerificationError, match="Invalid signature"):
        verifier.verify(f"{h}.{p}.{s[:-6]}AAAAAA")

    # The same payload signed by a key that is not the bank's.
    other = signing.algorithm(json.loads(_unb64(h))["alg"])
    private = other.generate()
    forged_input = f"{h}.{p}".encode()
    forged = f"{h}.{p}.{_b64(other.sign(private, forged_input))}"
    with pytest.raises(OB3VerificationError, match="Invalid signature"):
        verifier.verify(forged)
    # ... which verifies with that key: the failure above is the key, not the form.
    _signature_holds(OB3Verifier(pubkey_pem=other.public_key(private)), forged)


async def test_openbadgeslib_reads_the_status_lists_revocation_and_suspension(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    transcript, lina, jwks = await _issued(client, db, settings)
    payload = json.loads(_unb64(transcript["vc_jwt"].split(".")[1]))
    holder = _holder(payload)
    assert [e["statusPurpose"] for e in holder.credential_status] == [
        "revocation",
        "suspension",
    ]
    lists = await _status_lists(client, payload)
    key = _published_key(jwks, _kid(next(iter(lists.values())).decode()))

    def check(given: dict[str, bytes]) -> None:
        check_credential_status(
            holder, download=given.__getitem__, verify_list=True, list_pubkey_pem=key
        )

    check(lists)  # neither bit set, both lists' own signatures hold

    base = f"/api/v1/transcripts/{transcript['id']}"
    assert (await client.post(f"{base}/suspend", headers=lina)).status_code == 200
    suspended = await _status_lists(client, payload)
    with pytest.raises(OB3VerificationError, match="'suspension' is set"):
        check(suspended)

    # A status list whose bits changed under its signature (a suspension lifted by
    # whoever serves the list) is refused for its proof.
    suspension_url = holder.credential_status[1]["statusListCredential"]

    def clear_every_bit(changed: dict[str, Any]) -> None:
        changed["credentialSubject"]["encodedList"] = status.encode([])

    lifted = {
        **suspended,
        suspension_url: _reencode(suspended[suspension_url].decode(), clear_every_bit).encode(),
    }
    with pytest.raises(OB3VerificationError, match="proof is invalid"):
        check(lifted)
    # Without verify_list it would take the host's word (its documented default).
    check_credential_status(holder, download=lifted.__getitem__)

    assert (await client.post(f"{base}/unsuspend", headers=lina)).status_code == 200
    check(await _status_lists(client, payload))
    assert (await client.post(f"{base}/revoke", headers=lina)).status_code == 200
    with pytest.raises(OB3VerificationError, match="'revocation' is set"):
        check(await _status_lists(client, payload))


async def test_openbadgeslib_verifies_the_data_integrity_form(
    client: httpx.AsyncClient, db: Database, settings: Settings
) -> None:
    transcript, _, jwks = await _issued(client, db, settings)
    credential = transcript["credential"]
    assert credential["proof"]["cryptosuite"] == "eddsa-rdfc-2022"
    method = credential["proof"]["verificationMethod"]
    # did:web:…#ti-… names the key the JWK set publishes under …/.well-known/jwks/ti-…
    fragment = method.rsplit("#", 1)[-1]
    (ed25519,) = [k for k in jwks["keys"] if k["kid"].endswith("/" + fragment)]
    assert ed25519["crv"] == "Ed25519"
    key = jwt.PyJWK(ed25519).key
    # The CLR context is openbadgeslib's own pinned copy; the undefined-terms context,
    # which it does not bundle, is the bank's (it never fetches a context).
    contexts = {
        **bundled_clr_contexts(),
        UNDEFINED_TERMS: json.loads(
            (CONTEXTS / "credentials-undefined-terms-v2.jsonld").read_text("utf-8")
        ),
    }
    verify_data_integrity_proof(credential, key, extra_contexts=contexts)

    changed = copy.deepcopy(credential)
    changed["credentialSubject"]["creditTotals"]["banked"] = 999
    with pytest.raises(OB3VerificationError):
        verify_data_integrity_proof(changed, key, extra_contexts=contexts)
