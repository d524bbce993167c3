"""Acceptance: 李娜's transcript T1 over HTTP (real server, both databases).

After statements 1-7 she requests T1: a CLR 2.0 credential of her four outcomes signed
as a 1EdTech VC-JWT. It verifies on ``POST /api/v1/verify`` and offline with
``creditbank verify --jwks`` (the published JWK set); she shares an SD-JWT VC that
discloses only the vocational certificate, and the verifier sees only that; tampering,
a swapped signature, ``alg: none`` and an unknown kid are reported invalid with the
reason, garbage is a 400; after ``creditbank keys rotate`` (and retiring the old key)
T1 still verifies.

Status (Bitstring Status List): T1 carries a revocation and a suspension entry, its
lists are published at ``/status/{list}`` and checked on every verification (offline
with ``--status FILE``). After fxcc voids statement 4 the COMM-FA-16 outcome is revoked
and so is T1 (in the job that reverses the ledger): its signature still verifies under
the retired key, its status is ``revoked``; a new T2 lacks COMM-FA-16 and is valid.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.acceptance.li_na import (
    ROOT,
    VOIDED,
    Bank,
    cli,
    li_na_plan,
    linked_accounts,
    login,
    post_statement,
    wait_for,
)

INTEROP = ROOT / "tests" / "interop"


def _jose(token_file: Path, jwks_file: Path) -> subprocess.CompletedProcess[str]:
    """npm ``jose`` (not ours) verifying the VC-JWT against a JWK set file."""
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "jose").is_dir():
        if os.environ.get("CI"):
            pytest.fail("tests/interop/node_modules is missing: .ci/run installs it (npm ci)")
        pytest.skip("npm jose not installed (cd tests/interop && npm ci)")
    return subprocess.run(
        ["node", str(INTEROP / "verify_jose.mjs"), str(token_file), str(jwks_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _reencode(token: str, *, header: Any = None, payload: Any = None) -> str:
    h, p, s = token.split(".")
    if header is not None:
        h = _b64(json.dumps(header).encode())
    if payload is not None:
        p = _b64(json.dumps(payload, ensure_ascii=False).encode())
    return f"{h}.{p}.{s}"


def _verify(client: httpx.Client, token: str) -> dict[str, Any]:
    response = client.post("/api/v1/verify", content=token, headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def _wait_banked(client: httpx.Client, learner_id: str, headers: dict[str, str]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        figures = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=headers)
        if figures.status_code == 200 and Decimal(str(figures.json()["banked"])) == 10:
            outcomes = client.get("/api/v1/learners/me/outcomes", headers=headers).json()
            if len(outcomes) == 4:
                return
        time.sleep(0.2)
    raise AssertionError("statements 1-7 were not banked in time")


def test_li_na_t1_verifies_resists_tampering_and_survives_rotation(
    bank: Bank, tmp_path: Path
) -> None:
    demo = bank.demo
    plan = li_na_plan(demo)
    learner_id = demo["users"]["learner"]["learner_id"]
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        for key, body in plan:
            post_statement(client, demo, key, body)
        lina = login(client, demo["users"]["learner"])
        _wait_banked(client, learner_id, lina)

        issued = client.post(f"/api/v1/learners/{learner_id}/transcripts", json={}, headers=lina)
        assert issued.status_code == 201, issued.text
        t1 = issued.json()
        token = t1["vc_jwt"]

        # The credential: a ClrCredential of her four outcomes, totals, pseudonymous subject.
        credential = t1["credential"]
        assert credential["type"] == ["VerifiableCredential", "ClrCredential"]
        subject = credential["credentialSubject"]
        assert subject["id"].startswith("urn:uuid:")
        assert learner_id not in subject["id"]
        assert subject["creditTotals"] == {"available": 10.0, "banked": 10.0, "converted": 0.0}
        units = {
            vc["credentialSubject"]["achievement"]["humanCode"]: vc
            for vc in subject["verifiableCredential"]
        }
        assert sorted(units) == ["CERT-ELEC-4", "COMM-FA-16", "MOOC-PY-1", "SEN-CAL-1"]
        elec = units["CERT-ELEC-4"]
        assert "AchievementCredential" in elec["type"]
        assert elec["credentialSubject"]["creditsEarned"] == 6.0
        assert elec["credentialSubject"]["achievement"]["creditsAvailable"] == 6.0
        assert elec["credentialSubject"]["achievement"]["name"].startswith("电工职业技能等级证书")
        assert elec["credentialSubject"]["achievement"]["alignment"][0]["targetCode"] == "4"
        assert elec["credentialSubject"]["source"]["name"] == "房县职业技术学校"
        assert elec["evidence"] == [
            {"id": f"urn:uuid:{plan[0][1]['id']}", "name": "xAPI statement", "type": ["Evidence"]}
        ]

        # The 1EdTech VC-JWT profile: header alg/kid/typ only, claims mirror the credential.
        header = json.loads(_unb64(token.split(".")[0]))
        assert set(header) == {"alg", "kid", "typ"}
        assert header["alg"] == "RS256"
        assert header["typ"] == "JWT"
        assert header["kid"] == t1["kid"]
        assert header["kid"].startswith("http")
        payload = json.loads(_unb64(token.split(".")[1]))
        assert payload["iss"] == credential["issuer"]["id"]
        assert payload["jti"] == credential["id"] == f"urn:uuid:{t1['id']}"
        assert payload["sub"] == subject["id"]
        jwks = client.get("/.well-known/jwks.json").json()
        # The VC-JWT's RSA key, beside the Ed25519 key of the Data Integrity proof and the
        # ES256 key of the SD-JWT VCs.
        (published,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
        assert sorted(k["alg"] for k in jwks["keys"]) == ["ES256", "EdDSA", "RS256"]
        assert published["kid"] == header["kid"]
        assert published["kty"] == "RSA"
        assert len(_unb64(published["n"])) * 8 >= 3072
        kid_path = httpx.URL(header["kid"]).path
        assert client.get(kid_path).json() == published

        # Valid, in every form.
        report = _verify(client, token)
        assert report["valid"] is True, report
        assert report["checks"]["issuer_key"]["status"] == "active"
        assert report["status"] == "valid"
        entries = credential["credentialStatus"]
        assert [e["statusPurpose"] for e in entries] == ["revocation", "suspension"]
        assert all(e["type"] == "BitstringStatusListEntry" for e in entries)
        assert [e["list_signature_valid"] for e in report["checks"]["status"]["entries"]] == [
            True,
            True,
        ]
        as_json = client.post("/api/v1/verify", json={"vc_jwt": token}).json()
        assert as_json["valid"] is True
        plain = client.get(
            f"/api/v1/transcripts/{t1['id']}", headers={**lina, "Accept": "text/plain"}
        )
        assert plain.text == token
        assert plain.headers["content-type"].startswith("text/plain")
        jose = client.get(
            f"/api/v1/transcripts/{t1['id']}", headers={**lina, "Accept": "application/vc+jwt"}
        )
        assert jose.headers["content-type"].startswith("application/vc+jwt")
        assert json.loads(_unb64(jose.text.split(".")[0]))["typ"] == "vc+jwt"
        assert _verify(client, jose.text)["valid"] is True
        listed = client.get(f"/api/v1/learners/{learner_id}/transcripts", headers=lina).json()
        assert [t["id"] for t in listed] == [t1["id"]]
        assert client.get(f"/api/v1/transcripts/{t1['id']}").status_code == 401

        # She shares a selectively disclosed version that shows only the vocational
        # certificate; the employer sees that and nothing else.
        shared = client.post(
            f"/api/v1/transcripts/{t1['id']}/shares",
            json={"outcomes": ["CERT-ELEC-4"], "audience": "https://hr.example.com"},
            headers=lina,
        )
        assert shared.status_code == 201, shared.text
        share = shared.json()
        presentation = client.get(httpx.URL(share["url"]).path)
        assert presentation.headers["content-type"].startswith("application/dc+sd-jwt")
        seen = client.post(
            "/api/v1/verify",
            content=presentation.text,
            headers={"Content-Type": "application/dc+sd-jwt"},
        ).json()
        assert seen["valid"] is True, seen
        assert seen["disclosed"] == {
            "personal": [],
            "outcomes": ["CERT-ELEC-4"],
            "conversions": [],
        }
        (shown,) = seen["credential"]["achievements"]
        assert shown["credentialSubject"]["achievement"]["humanCode"] == "CERT-ELEC-4"
        assert shown["credentialSubject"]["creditsEarned"] == 6.0
        everything = json.dumps(seen, ensure_ascii=False)
        for hidden in ("COMM-FA-16", "MOOC-PY-1", "SEN-CAL-1", subject["id"], "banked"):
            assert hidden not in everything, hidden
        assert seen["subject"] is None
        (tmp_path / "share.sd-jwt").write_text(share["sd_jwt"])
        (tmp_path / "jwks-sd.json").write_text(json.dumps(jwks))
        # The share has status entries of its own (revocation, suspension): offline, its
        # saved status lists say whether it was revoked.
        share_payload = json.loads(_unb64(share["sd_jwt"].split("~")[0].split(".")[1]))
        share_lists = _save_lists(client, share_payload["credentialStatus"], tmp_path / "share")
        offline = cli(
            ["verify", str(tmp_path / "share.sd-jwt"), "--jwks", str(tmp_path / "jwks-sd.json"),
             *share_lists],
            bank.env,
        )  # fmt: skip
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert json.loads(offline.stdout)["disclosed"]["outcomes"] == ["CERT-ELEC-4"]
        assert json.loads(offline.stdout)["status"] == "valid"

        # Tampered payload, swapped signature, alg none, unknown kid: invalid, with why.
        inflated = json.loads(json.dumps(payload))
        inflated["credentialSubject"]["creditTotals"]["banked"] = 99
        bad = _verify(client, _reencode(token, payload=inflated))
        assert bad["valid"] is False
        assert bad["checks"]["signature"]["valid"] is False
        assert any("signature" in e for e in bad["errors"])
        swapped = ".".join([*token.split(".")[:2], jose.text.split(".")[2]])
        assert _verify(client, swapped)["valid"] is False
        none = _reencode(token, header={"alg": "none", "kid": header["kid"], "typ": "JWT"})
        report = _verify(client, none[: none.rindex(".") + 1])
        assert report["valid"] is False
        assert any("alg 'none'" in e for e in report["errors"])
        unknown = _reencode(token, header={**header, "kid": header["kid"] + "x"})
        report = _verify(client, unknown)
        assert report["valid"] is False
        assert any("unknown kid" in e for e in report["errors"])
        for garbage in ("", "not a jwt", "a.b", "e30.e30.%%%", "W10.e30."):
            answer = client.post(
                "/api/v1/verify", content=garbage, headers={"Content-Type": "text/plain"}
            )
            assert answer.status_code == 400, (garbage, answer.text)
        # Malformed JSON is refused by the app's JSON body guard (422, like every route).
        broken = client.post(
            "/api/v1/verify", content="{", headers={"Content-Type": "application/json"}
        )
        assert broken.status_code in (400, 422), broken.text

        # Offline: the published JWK set, status lists and the token, no server needed.
        (tmp_path / "t1.jwt").write_text(token)
        (tmp_path / "jwks.json").write_text(json.dumps(jwks))
        (tmp_path / "tampered.jwt").write_text(_reencode(token, payload=inflated))
        lists = _save_lists(client, entries, tmp_path / "before")
        offline = cli(
            ["verify", str(tmp_path / "t1.jwt"), "--jwks", str(tmp_path / "jwks.json"), *lists],
            bank.env,
        )
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert json.loads(offline.stdout)["valid"] is True
        unchecked = cli(
            ["verify", str(tmp_path / "t1.jwt"), "--jwks", str(tmp_path / "jwks.json")], bank.env
        )
        assert unchecked.returncode == 1, unchecked.stdout + unchecked.stderr
        assert json.loads(unchecked.stdout)["status"] == "unknown"
        refused = cli(
            ["verify", str(tmp_path / "tampered.jwt"), "--jwks", str(tmp_path / "jwks.json")],
            bank.env,
        )
        assert refused.returncode == 1
        assert json.loads(refused.stdout)["valid"] is False

        # An independent JOSE library agrees, tampering included.
        independent = _jose(tmp_path / "t1.jwt", tmp_path / "jwks.json")
        assert independent.returncode == 0, independent.stdout + independent.stderr
        assert json.loads(independent.stdout)["valid"] is True
        independent = _jose(tmp_path / "tampered.jwt", tmp_path / "jwks.json")
        assert independent.returncode == 1, independent.stdout + independent.stderr
        assert json.loads(independent.stdout)["valid"] is False
        # ... and on the status list credential (a VC-JWT under the same issuer keys).
        status_list = Path(lists[1])
        assert _jose(status_list, tmp_path / "jwks.json").returncode == 0
        list_payload = json.loads(_unb64(status_list.read_text().split(".")[1]))
        list_payload["credentialSubject"]["encodedList"] = "uH4sIAAAAAAAAA"
        forged = tmp_path / "forged-list.jwt"
        forged.write_text(_reencode(status_list.read_text(), payload=list_payload))
        assert _jose(forged, tmp_path / "jwks.json").returncode == 1
        forged_lists = ["--status", str(forged), *lists[2:]]
        refused = cli(
            ["verify", str(tmp_path / "t1.jwt"), "--jwks", str(tmp_path / "jwks.json"),
             *forged_lists],
            bank.env,
        )  # fmt: skip
        assert refused.returncode == 1, refused.stdout + refused.stderr
        forged_report = json.loads(refused.stdout)
        assert forged_report["checks"]["signature"]["valid"] is True
        assert any("fails its own signature" in e for e in forged_report["errors"])

        # keys rotate (and retire the old key): T1 still verifies, T2 is signed by the new key.
        old_kid = kid_path.rsplit("/", 1)[-1]
        rotated = cli(["keys", "rotate", "--kind", "transcript-issuer"], bank.env)
        assert rotated.returncode == 0, rotated.stderr
        retired = cli(["keys", "retire", "--kind", "transcript-issuer", "--kid", old_kid], bank.env)
        assert retired.returncode == 0, retired.stderr
        report = _verify(client, token)
        assert report["valid"] is True
        assert report["checks"]["issuer_key"]["status"] == "retired"
        after = client.get("/.well-known/jwks.json").json()
        # two RSA (one retired), the Ed25519 and the ES256 key
        assert sorted(k["alg"] for k in after["keys"]) == ["ES256", "EdDSA", "RS256", "RS256"]
        (tmp_path / "jwks-after.json").write_text(json.dumps(after))
        assert _jose(tmp_path / "t1.jwt", tmp_path / "jwks-after.json").returncode == 0
        again = _issue(client, learner_id, lina)
        assert again["kid"] != t1["kid"]
        assert _verify(client, again["vc_jwt"])["valid"] is True
        # The same record as of the same moment gives the same claims.
        assert (
            again["credential"]["credentialSubject"]["verifiableCredential"]
            == subject["verifiableCredential"]
        )
        local = cli(["verify", str(tmp_path / "t1.jwt")], bank.env)
        assert local.returncode == 0, local.stdout + local.stderr

        # fxcc voids statement 4: COMM-FA-16 is revoked, and with it every transcript
        # that listed it, in the job that reverses the ledger.
        post_statement(
            client,
            demo,
            "fxcc",
            {
                "id": str(uuid.uuid4()),
                "actor": linked_accounts(demo)["fxcc"],
                "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
                "object": {"objectType": "StatementRef", "id": plan[3][1]["id"]},
            },
        )

        def revoked() -> dict[str, Any] | None:
            found = _verify(client, token)
            return found if found["status"] == "revoked" else None

        report = wait_for(revoked, "T1 revoked")
        assert report["valid"] is False
        assert report["checks"]["signature"]["valid"] is True
        assert report["checks"]["issuer_key"]["status"] == "retired"
        assert any("revocation bit is set" in e for e in report["errors"])
        assert _verify(client, again["vc_jwt"])["status"] == "revoked"
        balances = client.get(f"/api/v1/ledger/learners/{learner_id}/balances", headers=lina).json()
        assert Decimal(str(balances["banked"])) == Decimal("9.0")

        # T2, issued after the void, lacks COMM-FA-16 and is valid.
        t2 = _issue(client, learner_id, lina)
        t2_units = sorted(
            vc["credentialSubject"]["achievement"]["humanCode"]
            for vc in t2["credential"]["credentialSubject"]["verifiableCredential"]
        )
        assert t2_units == ["CERT-ELEC-4", "MOOC-PY-1", "SEN-CAL-1"]
        report = _verify(client, t2["vc_jwt"])
        assert report["valid"] is True, report
        assert report["status"] == "valid"

        # Offline, with the lists as published now: T1 revoked (exit 1), T2 valid.
        after_lists = _save_lists(client, entries, tmp_path / "after")
        offline = cli(
            ["verify", str(tmp_path / "t1.jwt"), "--jwks", str(tmp_path / "jwks-after.json"),
             *after_lists],
            bank.env,
        )  # fmt: skip
        assert offline.returncode == 1, offline.stdout + offline.stderr
        offline_report = json.loads(offline.stdout)
        assert offline_report["status"] == "revoked"
        assert offline_report["checks"]["signature"]["valid"] is True
        (tmp_path / "t2.jwt").write_text(t2["vc_jwt"])
        t2_lists = _save_lists(client, t2["credential"]["credentialStatus"], tmp_path / "t2")
        offline = cli(
            ["verify", str(tmp_path / "t2.jwt"), "--jwks", str(tmp_path / "jwks-after.json"),
             *t2_lists],
            bank.env,
        )  # fmt: skip
        assert offline.returncode == 0, offline.stdout + offline.stderr
        local = cli(["verify", str(tmp_path / "t1.jwt")], bank.env)
        assert local.returncode == 1, local.stdout + local.stderr
        assert json.loads(local.stdout)["status"] == "revoked"


def _issue(client: httpx.Client, learner_id: str, headers: dict[str, str]) -> dict[str, Any]:
    issued = client.post(f"/api/v1/learners/{learner_id}/transcripts", json={}, headers=headers)
    assert issued.status_code == 201, issued.text
    body: dict[str, Any] = issued.json()
    return body


def _save_lists(client: httpx.Client, entries: list[dict[str, Any]], folder: Path) -> list[str]:
    """Each status list of ``entries`` as published, saved; the ``--status`` arguments."""
    folder.mkdir(parents=True, exist_ok=True)
    args = []
    for number, item in enumerate(entries):
        published = client.get(httpx.URL(item["statusListCredential"]).path)
        assert published.status_code == 200, published.text
        assert "max-age=" in published.headers["cache-control"]
        path = folder / f"list-{number}.jwt"
        path.write_text(published.text)
        args += ["--status", str(path)]
    return args
