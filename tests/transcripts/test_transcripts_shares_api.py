"""SD-JWT VCs and selectively disclosed shares over HTTP (SQLite and PostgreSQL): issue
with ``sd_jwt``, read by ``Accept: application/dc+sd-jwt``, share with key binding,
verify (nonce, audience), revoke (audited), and bad input never a 5xx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.models import AuditEntry
from creditbank.kit import signing
from creditbank.transcripts import sdjwt
from tests.identity.conftest import PASSWORD, World, login

SD = "application/dc+sd-jwt"
HR = "https://hr.example.com"


def _holder() -> signing.SigningKey:
    algo = signing.algorithm("ES256")
    private = algo.generate()
    return signing.SigningKey(
        kid="holder",
        alg="ES256",
        status=signing.ACTIVE,
        created_at="2026-12-01T00:00:00Z",
        public_key=algo.public_key(private),
        private_key=private,
    )


async def _verify(client: httpx.AsyncClient, body: Any, kind: str = "text/plain") -> Any:
    if isinstance(body, dict):
        response = await client.post("/api/v1/verify", json=body)
    else:
        response = await client.post("/api/v1/verify", content=body, headers={"Content-Type": kind})
    assert response.status_code == 200, response.text
    return response.json()


async def test_sd_jwt_shares_verify_and_revoke(
    client: httpx.AsyncClient, world: World, session: AsyncSession
):
    lina = await login(client, "lina", world.password("lina"))
    operator = await login(client, "operator", world.password("operator"))
    zhang = await login(client, "zhang", PASSWORD)

    issued = await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    assert issued.status_code == 201, issued.text
    t1 = issued.json()
    full = t1["sd_jwt"]
    assert full.endswith("~")
    read = await client.get(f"/api/v1/transcripts/{t1['id']}", headers={**lina, "Accept": SD})
    assert read.status_code == 200
    assert read.headers["content-type"].startswith(SD)
    assert read.text == full
    report = await _verify(client, full)
    assert report["valid"] is True, report["errors"]
    assert report["format"] == "sd-jwt-vc"
    assert report["disclosed"]["personal"] == ["credit_totals", "sub"]
    assert report["checks"]["issuer_key"]["status"] == "active"
    assert (await _verify(client, full, SD))["valid"] is True
    # the ES256 key is published beside the VC-JWT key
    jwks = (await client.get("/.well-known/jwks.json")).json()
    assert {"RS256", "ES256"} <= {k["alg"] for k in jwks["keys"]}

    # a key-bound share that shows only her credit totals
    holder = _holder()
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    made = await client.post(
        f"/api/v1/transcripts/{t1['id']}/shares",
        json={
            "personal": ["credit_totals"],
            "audience": HR,
            "expires_at": expires,
            "holder_jwk": holder.algorithm.public_jwk(holder.public_key),
        },
        headers=lina,
    )
    assert made.status_code == 201, made.text
    share = made.json()
    assert share["key_bound"] is True
    assert share["disclosed"] == {"conversions": [], "outcomes": [], "personal": ["credit_totals"]}
    assert share["url"].endswith(f"/api/v1/shares/{share['id']}")
    fetched = await client.get(f"/api/v1/shares/{share['id']}")
    assert fetched.status_code == 200
    assert fetched.text == share["sd_jwt"]

    presented = sdjwt.key_binding(
        share["sd_jwt"], holder, nonce="n-42", audience=HR, issued_at=datetime.now(UTC)
    )
    report = await _verify(client, {"sd_jwt": presented, "nonce": "n-42", "audience": HR})
    assert report["valid"] is True, report["errors"]
    assert report["disclosed"] == {"personal": ["credit_totals"], "outcomes": [], "conversions": []}
    assert "sub" not in report["credential"]
    assert report["checks"]["share"]["revoked"] is False
    wrong = await _verify(client, {"sd_jwt": presented, "nonce": "other", "audience": HR})
    assert wrong["valid"] is False
    assert "key binding: nonce is not the one expected" in wrong["errors"]
    elsewhere = await _verify(client, {"sd_jwt": presented, "audience": "https://evil.example"})
    assert elsewhere["valid"] is False
    no_kb = await _verify(client, {"sd_jwt": share["sd_jwt"], "nonce": "n-42"})
    assert no_kb["valid"] is False

    # only she shares; what is not in the transcript is refused
    for who in (zhang, operator):
        refused = await client.post(f"/api/v1/transcripts/{t1['id']}/shares", json={}, headers=who)
        assert refused.status_code == 403, refused.text
    unknown = await client.post(
        f"/api/v1/transcripts/{t1['id']}/shares", json={"outcomes": ["NOPE-1"]}, headers=lina
    )
    assert unknown.status_code == 400
    assert unknown.json()["error"] == "share_unknown_claim"
    listed = await client.get(f"/api/v1/transcripts/{t1['id']}/shares", headers=lina)
    assert [s["id"] for s in listed.json()] == [share["id"]]
    assert (
        await client.get(f"/api/v1/transcripts/{t1['id']}/shares", headers=zhang)
    ).status_code == 403

    # revoked by the operator: the presentation no longer verifies, its URL is gone
    assert (
        await client.delete(f"/api/v1/transcripts/{t1['id']}/shares/{share['id']}", headers=zhang)
    ).status_code == 403
    revoked = await client.delete(
        f"/api/v1/transcripts/{t1['id']}/shares/{share['id']}", headers=operator
    )
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    again = await client.delete(
        f"/api/v1/transcripts/{t1['id']}/shares/{share['id']}", headers=lina
    )
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]
    report = await _verify(client, {"sd_jwt": presented, "nonce": "n-42", "audience": HR})
    assert report["valid"] is False
    assert report["checks"]["share"]["revoked"] is True
    assert any(e.startswith("share: revoked") for e in report["errors"])
    assert (await client.get(f"/api/v1/shares/{share['id']}")).status_code == 404

    audited = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.object_id).where(
                AuditEntry.object_type == "transcript_share"
            )
        )
    ).all()
    assert sorted(audited) == [
        ("transcript.share", share["id"]),
        ("transcript.share_revoke", share["id"]),
    ]


async def test_bad_sd_jwts_are_reported_never_5xx(client: httpx.AsyncClient, world: World):
    lina = await login(client, "lina", world.password("lina"))
    t1 = (await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)).json()
    full = t1["sd_jwt"]
    truncated = await _verify(client, full[:-12])
    assert truncated["valid"] is False
    assert any("truncated" in e for e in truncated["errors"])
    jwt = full.split("~")[0]
    alien = sdjwt.disclosure(["c2FsdHNhbHRzYWx0", "sub", "urn:uuid:someone"])
    assert (await _verify(client, f"{jwt}~{alien}~"))["valid"] is False
    other = (
        await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    ).json()["sd_jwt"]
    swapped = ".".join([*jwt.split(".")[:2], other.split("~")[0].split(".")[2]]) + "~"
    report = await _verify(client, swapped)
    assert report["valid"] is False
    assert report["checks"]["signature"]["valid"] is False
    for garbage in ("~", "a.b~", "e30.e30.%%%~"):
        answer = await client.post("/api/v1/verify", content=garbage, headers={"Content-Type": SD})
        assert answer.status_code == 400, (garbage, answer.text)
    answer = await client.post("/api/v1/verify", json={"sd_jwt": 5})
    assert answer.status_code == 400
