"""Bitstring Status List v1.0: the encoding, allocation (random, unique, never reused, a
new list when full), publishing at ``/status/{list}``, revoke/suspend through the API
(audited, authorized), the ``outcomes.revoked`` subscriber, and the status part of a
verification report, bad status lists included. Both databases."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit
from creditbank.config import Settings
from creditbank.kit import events
from creditbank.kit.time import utc_now
from creditbank.transcripts import status
from creditbank.transcripts.service import transcripts
from creditbank.transcripts.vcjwt import canonical_json
from tests.identity.conftest import PASSWORD, World, login
from tests.identity.conftest import world as world  # the fixture

ISSUER = "https://bank.example.cn"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TestEncoding:
    def test_gzip_multibase_base64url_left_most_bit_first(self) -> None:
        encoded = status.encode([0, 9, status.LIST_SIZE - 1])
        assert encoded.startswith("u")
        assert "=" not in encoded
        bits = gzip.decompress(_unb64(encoded[1:]))
        assert len(bits) * 8 == status.LIST_SIZE
        assert bits[0] == 0x80
        assert bits[1] == 0x40
        assert bits[-1] == 0x01
        assert status.decode(encoded) == bits
        assert [i for i in (0, 1, 9, 10) if status.bit(bits, i)] == [0, 9]

    @pytest.mark.parametrize(
        "bad",
        [
            "zH4sI",  # another multibase
            "u%%%",
            "u" + _b64(b"not gzip"),
            "u" + _b64(gzip.compress(b"\0" * 1000, mtime=0)[:-12]),  # truncated
            "u" + _b64(gzip.compress(b"\0" * (status.MAX_LIST_BYTES + 1), mtime=0)),  # a bomb
        ],
        ids=["other-multibase", "not-base64url", "not-gzip", "truncated", "bomb"],
    )
    def test_bad_encoded_lists_are_refused(self, bad: str) -> None:
        with pytest.raises(status.EncodedListError):
            status.decode(bad)


class TestAllocation:
    async def test_two_entries_per_holder_random_unique(self, session: AsyncSession) -> None:
        seen: set[tuple[str, str]] = set()
        revocation: list[int] = []
        for _ in range(40):
            entries = await status.allocate_entries(
                session, issuer=ISSUER, transcript_id=uuid.uuid4()
            )
            assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
            for e in entries:
                assert e["type"] == "BitstringStatusListEntry"
                assert isinstance(e["statusListIndex"], str)
                assert e["statusListCredential"].startswith(f"{ISSUER}/status/")
                assert e["id"] == f"{e['statusListCredential']}#{e['statusListIndex']}"
                seen.add((e["statusListCredential"], e["statusListIndex"]))
            revocation.append(int(entries[0]["statusListIndex"]))
        await session.commit()
        assert len(seen) == 80
        # Drawn at random: the indexes do not follow the order of issue.
        assert revocation != sorted(revocation)
        assert max(revocation) > 1000

    async def test_a_full_list_opens_a_new_one_and_no_index_is_reused(
        self, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(status, "LIST_SIZE", 8)
        got = [
            (await status.allocate_entries(
                session, issuer=ISSUER, transcript_id=uuid.uuid4(), purposes=["revocation"]
            ))[0]
            for _ in range(20)
        ]  # fmt: skip
        await session.commit()
        lists: dict[str, list[int]] = {}
        for e in got:
            lists.setdefault(e["statusListCredential"], []).append(int(e["statusListIndex"]))
        assert len(lists) == 3
        for indexes in lists.values():
            assert len(indexes) == len(set(indexes))
            assert all(0 <= i < 8 for i in indexes)
        assert sorted(len(v) for v in lists.values()) == [4, 8, 8]

    async def test_an_unknown_purpose_is_refused(self, session: AsyncSession) -> None:
        with pytest.raises(ValueError, match="unknown status purposes"):
            await status.allocate_entries(
                session, issuer=ISSUER, transcript_id=uuid.uuid4(), purposes=["refresh"]
            )


# -- over the API ------------------------------------------------------------------------


async def _issue(client: httpx.AsyncClient, world: World) -> tuple[dict[str, Any], dict[str, str]]:
    lina = await login(client, "lina", world.password("lina"))
    issued = await client.post(f"/api/v1/learners/{world.lina_id}/transcripts", headers=lina)
    assert issued.status_code == 201, issued.text
    body: dict[str, Any] = issued.json()
    return body, lina


async def _verify(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    answer = await client.post(
        "/api/v1/verify", content=token, headers={"Content-Type": "text/plain"}
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def test_issued_transcript_carries_both_entries_and_verifies_valid(
    client: httpx.AsyncClient, world: World
) -> None:
    t1, _ = await _issue(client, world)
    entries = t1["credential"]["credentialStatus"]
    assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
    payload = json.loads(_unb64(t1["vc_jwt"].split(".")[1]))
    assert payload["credentialStatus"] == entries
    report = await _verify(client, t1["vc_jwt"])
    assert report["valid"] is True, report
    assert report["status"] == "valid"
    checked = report["checks"]["status"]
    assert checked["valid"] is True
    assert [e["list_signature_valid"] for e in checked["entries"]] == [True, True]
    assert [e["set"] for e in checked["entries"]] == [False, False]


async def test_published_list_in_each_form_public_and_cacheable(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    t1, _ = await _issue(client, world)
    url = t1["credential"]["credentialStatus"][0]["statusListCredential"]
    path = httpx.URL(url).path
    plain = await client.get(path)
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.headers["cache-control"] == (
        f"public, max-age={settings.transcripts.status_ttl_seconds}"
    )
    header = json.loads(_unb64(plain.text.split(".")[0]))
    assert header["typ"] == "JWT"
    payload = json.loads(_unb64(plain.text.split(".")[1]))
    assert payload["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]
    assert payload["id"] == url
    assert payload["iss"] == t1["credential"]["issuer"]["id"]
    subject = payload["credentialSubject"]
    assert subject["type"] == "BitstringStatusList"
    assert subject["statusPurpose"] == "revocation"
    assert subject["ttl"] == settings.transcripts.status_ttl_seconds * 1000
    assert len(status.decode(subject["encodedList"])) * 8 >= 131_072
    jose = await client.get(path, headers={"Accept": "application/vc+jwt"})
    assert jose.headers["content-type"].startswith("application/vc+jwt")
    assert json.loads(_unb64(jose.text.split(".")[0]))["typ"] == "vc+jwt"
    as_json = (await client.get(path, headers={"Accept": "application/json"})).json()
    assert as_json["vc_jwt"] == plain.text
    assert as_json["credential"]["credentialSubject"] == subject
    missing = await client.get("/status/" + "0" * 32)
    assert missing.status_code == 404


async def test_revoke_suspend_unsuspend_through_the_api(
    client: httpx.AsyncClient, world: World, session: AsyncSession
) -> None:
    t1, lina = await _issue(client, world)
    token = t1["vc_jwt"]
    zhang = await login(client, "zhang", PASSWORD)
    base = f"/api/v1/transcripts/{t1['id']}"
    assert (await client.post(f"{base}/suspend")).status_code == 401
    assert (await client.post(f"{base}/suspend", headers=zhang)).status_code == 403

    suspended = await client.post(f"{base}/suspend", json={"reason": "checking"}, headers=lina)
    assert suspended.status_code == 200, suspended.text
    assert suspended.json() == {"id": t1["id"], "revoked": False, "suspended": True}
    report = await _verify(client, token)
    assert report["valid"] is False
    assert report["status"] == "suspended"
    assert any("suspension bit is set" in e for e in report["errors"])

    lifted = await client.post(f"{base}/unsuspend", headers=lina)
    assert lifted.json()["suspended"] is False
    assert (await _verify(client, token))["valid"] is True

    operator = await login(client, "operator", world.password("operator"))
    revoked = await client.post(f"{base}/revoke", json={"reason": "fraud"}, headers=operator)
    assert revoked.json() == {"id": t1["id"], "revoked": True, "suspended": False}
    report = await _verify(client, token)
    assert report["valid"] is False
    assert report["status"] == "revoked"
    assert report["checks"]["signature"]["valid"] is True
    # Revocation is final.
    await client.post(f"{base}/unsuspend", headers=lina)
    assert (await _verify(client, token))["status"] == "revoked"

    entries = await audit.query(session, AuditFilter(object_id=t1["id"]))
    actions = sorted((e.action, e.outcome) for e in entries)
    assert ("transcript.revoke", "allowed") in actions
    assert ("transcript.suspend", "allowed") in actions
    assert ("transcript.suspend", "denied") in actions
    assert ("transcript.unsuspend", "allowed") in actions


async def test_a_revoked_outcome_revokes_the_transcripts_holding_it(
    client: httpx.AsyncClient, world: World, db: Any
) -> None:
    t1, _ = await _issue(client, world)
    t2, _ = await _issue(client, world)
    held, superseded = uuid.uuid4(), uuid.uuid4()
    async with db.session_scope() as session:
        await status.link_outcomes(session, uuid.UUID(t1["id"]), [held])
        await status.link_outcomes(session, uuid.UUID(t2["id"]), [superseded])
    async with db.session_scope() as session:
        await events.emit(
            session,
            [
                events.Event(
                    type=events.OUTCOME_REVOKED,
                    id=f"outcome.revoked:{held}",
                    data={"outcome_id": str(held), "status": "revoked", "reason": "voided"},
                ),
                events.Event(  # a superseded outcome revokes nothing
                    type=events.OUTCOME_REVOKED,
                    id=f"outcome.revoked:{superseded}",
                    data={"outcome_id": str(superseded), "status": "superseded"},
                ),
            ],
        )
    assert (await _verify(client, t1["vc_jwt"]))["status"] == "revoked"
    assert (await _verify(client, t2["vc_jwt"]))["status"] == "valid"


# -- bad status lists --------------------------------------------------------------------


async def _lists(client: httpx.AsyncClient, t1: dict[str, Any]) -> dict[str, str]:
    out = {}
    for e in t1["credential"]["credentialStatus"]:
        url = e["statusListCredential"]
        out[url] = (await client.get(httpx.URL(url).path)).text
    return out


def _reencode(token: str, change: Any) -> str:
    h, p, s = token.split(".")
    payload = json.loads(_unb64(p))
    change(payload)
    return f"{h}.{_b64(canonical_json(payload).encode())}.{s}"


async def test_bad_status_lists_are_reported_never_valid(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    t1, _ = await _issue(client, world)
    token = t1["vc_jwt"]
    lists = await _lists(client, t1)
    revocation_url = t1["credential"]["credentialStatus"][0]["statusListCredential"]
    good = transcripts.verify(settings, token, status_lists=lists)
    assert good["valid"] is True, good

    def set_every_bit(payload: dict[str, Any]) -> None:
        payload["credentialSubject"]["encodedList"] = status.encode(range(status.LIST_SIZE))

    forged = {**lists, revocation_url: _reencode(lists[revocation_url], set_every_bit)}
    report = transcripts.verify(settings, token, status_lists=forged)
    assert report["valid"] is False
    assert report["status"] == "unknown"
    assert any("fails its own signature" in e for e in report["errors"])
    assert report["checks"]["status"]["entries"][0]["list_signature_valid"] is False
    assert report["checks"]["signature"]["valid"] is True

    others = {
        "missing": {k: v for k, v in lists.items() if k != revocation_url},
        "garbage": {**lists, revocation_url: "not a jwt"},
        "swapped": {revocation_url: lists[next(u for u in lists if u != revocation_url)]},
    }
    for name, given in others.items():
        report = transcripts.verify(settings, token, status_lists=given)
        assert report["valid"] is False, name
        assert report["status"] == "unknown", name
        assert report["errors"], name

    # Over HTTP too: a tampered transcript is reported, its status not trusted, no 5xx.
    h, p, s = token.split(".")
    report = await _verify(client, f"{h}.{p}.{s[:-4]}AAAA")
    assert report["valid"] is False
    assert report["status"] == "unknown"


# -- verified status lists remembered ------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_list_version_is_verified_once_then_a_bit_lookup(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    t1, _ = await _issue(client, world)
    payload = json.loads(_unb64(t1["vc_jwt"].split(".")[1]))
    lists = await _lists(client, t1)
    resolve = transcripts.resolver(settings, None)
    now = utc_now()
    clock = _Clock()
    cache = status.VerifiedLists(clock=clock)

    first = status.check(payload, lists=lists, resolve=resolve, now=now, cache=cache)
    assert first["valid"] is True, first
    assert (cache.hits, cache.misses) == (0, 2)
    again = status.check(payload, lists=lists, resolve=resolve, now=now, cache=cache)
    assert again == first
    assert (cache.hits, cache.misses) == (2, 2)

    # The list's own ttl (300 s here) bounds how long a verification is remembered.
    ttl = json.loads(_unb64(next(iter(lists.values())).split(".")[1]))["credentialSubject"]["ttl"]
    clock.now += ttl / 1000 + 1
    status.check(payload, lists=lists, resolve=resolve, now=now, cache=cache)
    assert (cache.hits, cache.misses) == (2, 4)

    # A remembered list is trusted only while its kid resolves to the key it verified with.
    def gone(kid: str) -> None:
        return None

    report = status.check(payload, lists=lists, resolve=gone, now=now, cache=cache)
    assert report["valid"] is False
    assert report["status"] == "unknown"
    assert [e["list_signature_valid"] for e in report["entries"]] == [False, False]


async def test_a_tampered_list_fails_after_the_genuine_one_was_remembered(
    client: httpx.AsyncClient, world: World, settings: Settings
) -> None:
    t1, _ = await _issue(client, world)
    payload = json.loads(_unb64(t1["vc_jwt"].split(".")[1]))
    lists = await _lists(client, t1)
    resolve = transcripts.resolver(settings, None)
    cache = status.VerifiedLists()
    now = utc_now()
    assert status.check(payload, lists=lists, resolve=resolve, now=now, cache=cache)["valid"]

    suspension_url = t1["credential"]["credentialStatus"][1]["statusListCredential"]

    def set_every_bit(changed: dict[str, Any]) -> None:
        changed["credentialSubject"]["encodedList"] = status.encode(range(status.LIST_SIZE))

    forged = {**lists, suspension_url: _reencode(lists[suspension_url], set_every_bit)}
    assert forged[suspension_url] != lists[suspension_url]
    report = status.check(payload, lists=forged, resolve=resolve, now=now, cache=cache)
    assert report["valid"] is False
    assert report["status"] == "unknown"
    assert any("fails its own signature" in e for e in report["errors"])
    assert [e["list_signature_valid"] for e in report["entries"]] == [True, False]
    # and the genuine list is still what it was
    assert status.check(payload, lists=lists, resolve=resolve, now=now, cache=cache)["valid"]


async def test_suspension_shows_at_once_through_the_remembered_lists(
    client: httpx.AsyncClient, world: World
) -> None:
    t1, lina = await _issue(client, world)
    base = f"/api/v1/transcripts/{t1['id']}"
    for _ in range(3):  # remembered now
        assert (await _verify(client, t1["vc_jwt"]))["status"] == "valid"
    assert (await client.post(f"{base}/suspend", headers=lina)).status_code == 200
    assert (await _verify(client, t1["vc_jwt"]))["status"] == "suspended"
    assert (await client.post(f"{base}/unsuspend", headers=lina)).status_code == 200
    assert (await _verify(client, t1["vc_jwt"]))["status"] == "valid"
