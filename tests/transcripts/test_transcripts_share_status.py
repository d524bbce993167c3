"""Each share has its own Bitstring Status List entries (SQLite and PostgreSQL): revoking
a share sets its revocation bit, which the API's verifier and the offline one (``creditbank
verify --status FILE`` with the saved list) both report, while the transcript's other
shares stay valid; revoking or suspending the transcript reaches its shares too."""

from __future__ import annotations

import base64
import contextlib
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.models import AuditEntry
from creditbank.cli import build_parser
from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.transcripts import sdjwt
from creditbank.transcripts.shares import shares
from tests.identity.conftest import PASSWORD, World, login

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


def _payload(sd_jwt: str) -> dict[str, Any]:
    part = sd_jwt.split("~")[0].split(".")[1]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return value


async def _verify(client: httpx.AsyncClient, body: Any) -> dict[str, Any]:
    if isinstance(body, dict):
        response = await client.post("/api/v1/verify", json=body)
    else:
        response = await client.post(
            "/api/v1/verify", content=body, headers={"Content-Type": sdjwt.MEDIA_TYPE}
        )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def _lists(client: httpx.AsyncClient, sd_jwt: str) -> dict[str, str]:
    """The status lists the SD-JWT names, as published now (URL -> VC-JWT)."""
    out = {}
    for item in _payload(sd_jwt)["credentialStatus"]:
        url = item["statusListCredential"]
        published = await client.get(httpx.URL(url).path)
        assert published.status_code == 200, published.text
        out[url] = published.text
    return out


def _cli_verify(
    settings: Settings, folder: Path, presentation: str, jwks: dict[str, Any], lists: list[str]
) -> tuple[int, dict[str, Any]]:
    """``creditbank verify FILE --jwks FILE --status FILE ...`` in this process."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "share.sd-jwt").write_text(presentation, encoding="utf-8")
    (folder / "jwks.json").write_text(json.dumps(jwks), encoding="utf-8")
    argv = ["verify", str(folder / "share.sd-jwt"), "--jwks", str(folder / "jwks.json")]
    for number, token in enumerate(lists):
        path = folder / f"list-{number}.jwt"
        path.write_text(token, encoding="utf-8")
        argv += ["--status", str(path)]
    args = build_parser().parse_args(argv)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = args.run(args, settings)
    return code, json.loads(out.getvalue())


async def test_a_revoked_share_is_revoked_in_its_status_list(
    client: httpx.AsyncClient,
    world: World,
    session: AsyncSession,
    settings: Settings,
    tmp_path: Path,
):
    lina = await login(client, "lina", world.password("lina"))
    issued = await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    assert issued.status_code == 201, issued.text
    transcript = issued.json()
    own = transcript["credential"]["credentialStatus"]
    # The transcript's SD-JWT carries the transcript's own entries, in the clear.
    assert _payload(transcript["sd_jwt"])["credentialStatus"] == own

    holder = _holder()
    made = []
    for body in (
        {"personal": ["credit_totals"], "audience": HR,
         "holder_jwk": holder.algorithm.public_jwk(holder.public_key)},
        {"personal": ["sub"]},
    ):  # fmt: skip
        answer = await client.post(
            f"/api/v1/transcripts/{transcript['id']}/shares", json=body, headers=lina
        )
        assert answer.status_code == 201, answer.text
        made.append(answer.json())
    first, second = made
    entries = [_payload(s["sd_jwt"])["credentialStatus"] for s in made]
    for found in entries:
        assert [e["type"] for e in found] == ["BitstringStatusListEntry"] * 2
        assert [e["statusPurpose"] for e in found] == ["revocation", "suspension"]
        assert all("/status/" in e["statusListCredential"] for e in found)
    every = [*own, *entries[0], *entries[1]]
    indexes = {(e["statusListCredential"], e["statusListIndex"]) for e in every}
    assert len(indexes) == 6  # each share has entries of its own
    # credentialStatus is never a disclosure: a presentation cannot drop it
    for share in made:
        for text in share["sd_jwt"].split("~")[1:-1]:
            assert "credentialStatus" not in base64.urlsafe_b64decode(text + "==").decode()

    presented = sdjwt.key_binding(
        first["sd_jwt"], holder, nonce="n-1", audience=HR, issued_at=datetime.now(UTC)
    )
    ask = {"sd_jwt": presented, "nonce": "n-1", "audience": HR}
    report = await _verify(client, ask)
    assert report["valid"] is True, report["errors"]
    assert report["status"] == "valid"
    assert [e["list_signature_valid"] for e in report["checks"]["status"]["entries"]] == [
        True,
        True,
    ]
    jwks = (await client.get("/.well-known/jwks.json")).json()
    before = await _lists(client, first["sd_jwt"])
    code, offline = _cli_verify(settings, tmp_path / "before", presented, jwks, [*before.values()])
    assert code == 0, offline["errors"]
    assert offline["status"] == "valid"
    # offline without the share's lists: the status is unknown, so not valid
    code, blind = _cli_verify(settings, tmp_path / "blind", presented, jwks, [])
    assert code == 1
    assert blind["status"] == "unknown"

    # She revokes the first share: its bit is set, in the transaction that revokes it.
    revoked = await client.delete(
        f"/api/v1/transcripts/{transcript['id']}/shares/{first['id']}", headers=lina
    )
    assert revoked.status_code == 200, revoked.text
    report = await _verify(client, ask)
    assert report["valid"] is False
    assert report["status"] == "revoked"
    assert any("revocation bit is set" in e for e in report["errors"])
    after = await _lists(client, first["sd_jwt"])
    code, offline = _cli_verify(settings, tmp_path / "after", presented, jwks, [*after.values()])
    assert code == 1
    assert offline["status"] == "revoked"
    assert offline["checks"]["share"]["checked"] is False  # the list alone said so
    # the list as saved before still says valid (it is the bit, not the bank's memory)
    assert shares.verify_offline(settings, presented, status_lists=before)["status"] == "valid"
    # the other share of the same transcript stays valid, online and offline
    report = await _verify(client, second["sd_jwt"])
    assert report["valid"] is True, report["errors"]
    assert report["status"] == "valid"
    offline_second = shares.verify_offline(
        settings, second["sd_jwt"], status_lists=await _lists(client, second["sd_jwt"])
    )
    assert offline_second["valid"] is True, offline_second["errors"]
    # ... and so does the transcript
    assert (await _verify(client, transcript["sd_jwt"]))["status"] == "valid"

    # Revoking the transcript revokes its remaining share and its own SD-JWT.
    done = await client.post(f"/api/v1/transcripts/{transcript['id']}/revoke", headers=lina)
    assert done.status_code == 200, done.text
    report = await _verify(client, second["sd_jwt"])
    assert (report["valid"], report["status"]) == (False, "revoked")
    assert report["checks"]["share"]["revoked"] is False  # the bit, not the stored state
    assert (await _verify(client, transcript["sd_jwt"]))["status"] == "revoked"
    refused = await client.post(
        f"/api/v1/transcripts/{transcript['id']}/shares", json={}, headers=lina
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "transcript_revoked"

    audited = (
        await session.execute(
            select(AuditEntry.detail).where(
                AuditEntry.action == "transcript.share_revoke",
                AuditEntry.object_id == first["id"],
            )
        )
    ).scalar_one()
    assert audited["entries_changed"] == 1


async def test_suspending_the_transcript_suspends_its_shares(
    client: httpx.AsyncClient, world: World
):
    lina = await login(client, "lina", world.password("lina"))
    transcript = (
        await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    ).json()
    url = f"/api/v1/transcripts/{transcript['id']}"
    before = (await client.post(f"{url}/shares", json={}, headers=lina)).json()
    assert (await client.post(f"{url}/suspend", headers=lina)).status_code == 200
    during = await client.post(f"{url}/shares", json={"personal": []}, headers=lina)
    assert during.status_code == 201, during.text
    for share in (before, during.json()):
        report = await _verify(client, share["sd_jwt"])
        assert (report["valid"], report["status"]) == (False, "suspended")
    assert (await client.post(f"{url}/unsuspend", headers=lina)).status_code == 200
    for share in (before, during.json()):
        report = await _verify(client, share["sd_jwt"])
        assert (report["valid"], report["status"]) == (True, "valid"), report["errors"]


async def test_one_share_is_suspended_and_reinstated_on_its_own(
    client: httpx.AsyncClient, world: World, session: AsyncSession
):
    lina = await login(client, "lina", world.password("lina"))
    zhang = await login(client, "zhang", PASSWORD)
    operator = await login(client, "operator", world.password("operator"))
    transcript = (
        await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    ).json()
    url = f"/api/v1/transcripts/{transcript['id']}"
    first = (await client.post(f"{url}/shares", json={}, headers=lina)).json()
    second = (await client.post(f"{url}/shares", json={"personal": ["sub"]}, headers=lina)).json()
    share = f"{url}/shares/{first['id']}"

    # Who may: she for her own share, the operator; nobody else, and no one anonymously.
    assert (await client.post(f"{share}/suspend")).status_code == 401
    refused = await client.post(f"{share}/suspend", headers=zhang)
    assert refused.status_code == 403, refused.text
    missing = await client.post(f"{url}/shares/{transcript['id']}/suspend", headers=lina)
    assert (missing.status_code, missing.json()["error"]) == (404, "share_not_found")

    suspended = await client.post(f"{share}/suspend", json={"reason": "job offer"}, headers=lina)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {
        "id": first["id"],
        "transcript_id": transcript["id"],
        "revoked": False,
        "suspended": True,
    }
    report = await _verify(client, first["sd_jwt"])
    assert (report["valid"], report["status"]) == (False, "suspended")
    assert report["checks"]["share"]["suspended"] is True
    assert any("suspension bit is set" in e for e in report["errors"])
    # the transcript and its other share are untouched
    assert (await _verify(client, second["sd_jwt"]))["status"] == "valid"
    assert (await _verify(client, transcript["sd_jwt"]))["status"] == "valid"

    # Lifting a suspension of the transcript leaves the share suspended on its own.
    assert (await client.post(f"{url}/suspend", headers=lina)).status_code == 200
    assert (await _verify(client, second["sd_jwt"]))["status"] == "suspended"
    early = await client.post(f"{share}/unsuspend", headers=lina)
    assert (early.status_code, early.json()["error"]) == (409, "transcript_suspended")
    assert (await client.post(f"{url}/unsuspend", headers=lina)).status_code == 200
    assert (await _verify(client, second["sd_jwt"]))["status"] == "valid"
    assert (await _verify(client, first["sd_jwt"]))["status"] == "suspended"

    # The operator reinstates it (she could too).
    reinstated = await client.post(f"{share}/unsuspend", headers=operator)
    assert reinstated.status_code == 200, reinstated.text
    assert reinstated.json()["suspended"] is False
    report = await _verify(client, first["sd_jwt"])
    assert (report["valid"], report["status"]) == (True, "valid"), report["errors"]
    assert report["checks"]["share"]["suspended"] is False

    # A revoked share stays revoked whatever its suspension does.
    assert (await client.post(f"{share}/suspend", headers=operator)).status_code == 200
    assert (await client.delete(share, headers=lina)).status_code == 200
    after = await client.post(f"{share}/unsuspend", headers=lina)
    assert after.json() == {**reinstated.json(), "revoked": True, "suspended": False}
    assert (await _verify(client, first["sd_jwt"]))["status"] == "revoked"

    actions = (
        await session.execute(
            select(AuditEntry.action, AuditEntry.outcome).where(AuditEntry.object_id == first["id"])
        )
    ).all()
    assert ("transcript.share_suspend", "allowed") in actions
    assert ("transcript.share_suspend", "denied") in actions
    assert ("transcript.share_unsuspend", "allowed") in actions
    assert ("transcript.share_unsuspend", "denied") in actions
