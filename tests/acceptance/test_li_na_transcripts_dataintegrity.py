"""Acceptance: 李娜's transcript T1 as JSON-LD with its Data Integrity proof, over HTTP
(real server, both databases).

The issue answer's ``credential`` carries a ``DataIntegrityProof`` (``eddsa-rdfc-2022``)
by the bank's Ed25519 key, named as a verification method of the bank's ``did:web``
document. It verifies on ``POST /api/v1/verify`` (``application/vc+ld+json``), offline
with ``creditbank verify --did`` (a saved ``/.well-known/did.json``) and with Digital
Bazaar's verifier (not ours) whose loader knows only our shipped contexts and that
document; tampering with the document or the proof fails everywhere. After the Ed25519
key is rotated and the old one retired, T1 still verifies.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx

from creditbank.transcripts import did as didweb
from tests.acceptance.li_na import Bank, cli, li_na_plan, login, post_statement
from tests.acceptance.test_li_na_transcripts import _wait_banked
from tests.transcripts.test_transcripts_dataintegrity import digital_bazaar

VC_LD = "application/vc+ld+json"


def _verify(client: httpx.Client, document: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/verify",
        content=json.dumps(document, ensure_ascii=False),
        headers={"Content-Type": VC_LD},
    )
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


def test_li_na_t1_data_integrity_proof(bank: Bank, tmp_path: Path) -> None:
    demo = bank.demo
    learner_id = demo["users"]["learner"]["learner_id"]
    with httpx.Client(base_url=bank.url, timeout=30) as client:
        for key, body in li_na_plan(demo):
            post_statement(client, demo, key, body)
        lina = login(client, demo["users"]["learner"])
        _wait_banked(client, learner_id, lina)
        issued = client.post(f"/api/v1/learners/{learner_id}/transcripts", json={}, headers=lina)
        assert issued.status_code == 201, issued.text
        t1 = issued.json()
        credential = t1["credential"]

        # The bank's did:web (of its configured base URL, the port as %3A) is the issuer
        # and controls the proof's key.
        document = client.get("/.well-known/did.json")
        assert document.status_code == 200
        did_document = document.json()
        did = did_document["id"]
        assert did.startswith("did:web:")
        assert "%3A" in did
        assert credential["issuer"]["id"] == did
        assert didweb.did_web(t1["kid"].split("/.well-known/")[0]) == did
        proof = credential["proof"]
        assert proof["type"] == "DataIntegrityProof"
        assert proof["cryptosuite"] == "eddsa-rdfc-2022"
        assert proof["proofPurpose"] == "assertionMethod"
        assert proof["verificationMethod"].startswith(did + "#ti-")
        assert proof["proofValue"].startswith("z")
        methods = {m["id"]: m for m in did_document["verificationMethod"]}
        method = methods[proof["verificationMethod"]]
        assert method["type"] == "Multikey"
        assert method["publicKeyMultibase"].startswith("z6Mk")
        assert proof["verificationMethod"] in did_document["assertionMethod"]
        # The VC-JWT's RSA key is listed too (as a JsonWebKey).
        assert {m["type"] for m in methods.values()} == {"Multikey", "JsonWebKey"}

        # The JSON-LD form by Accept, exactly the issued credential.
        ld = client.get(f"/api/v1/transcripts/{t1['id']}", headers={**lina, "Accept": VC_LD})
        assert ld.status_code == 200
        assert ld.headers["content-type"].startswith(VC_LD)
        assert ld.json() == credential

        report = _verify(client, credential)
        assert report["valid"] is True, report
        assert report["format"] == "vc-ld"
        assert report["checks"]["proof"]["valid"] is True
        assert report["checks"]["issuer_key"]["status"] == "active"

        # Tampered document or proof: valid false with the reason, never a 5xx.
        inflated = copy.deepcopy(credential)
        inflated["credentialSubject"]["creditTotals"]["banked"] = 99
        bad = _verify(client, inflated)
        assert bad["valid"] is False
        assert any("signature does not verify" in e for e in bad["errors"])
        backdated = copy.deepcopy(credential)
        backdated["proof"]["created"] = "2020-01-01T00:00:00Z"
        assert _verify(client, backdated)["valid"] is False
        foreign = copy.deepcopy(credential)
        foreign["proof"]["verificationMethod"] = (
            "did:web:evil.example#" + method["id"].split("#")[1]
        )
        assert _verify(client, foreign)["valid"] is False
        extra = copy.deepcopy(credential)
        extra["@context"] = [*extra["@context"], "https://example.org/not-shipped/v1"]
        report = _verify(client, extra)
        assert report["valid"] is False
        assert any("cannot be canonicalised" in e for e in report["errors"])
        for garbage in ("{", "[]", '"text"', '{"no": "context"}'):
            answer = client.post("/api/v1/verify", content=garbage, headers={"Content-Type": VC_LD})
            assert answer.status_code in (400, 422), (garbage, answer.text)

        # Offline: the saved DID document, our CLI and Digital Bazaar's verifier.
        (tmp_path / "t1.json").write_text(json.dumps(credential, ensure_ascii=False))
        (tmp_path / "tampered.json").write_text(json.dumps(inflated, ensure_ascii=False))
        (tmp_path / "did.json").write_text(json.dumps(did_document))
        statuses = []  # the status lists as published (Bitstring Status List)
        for number, item in enumerate(credential["credentialStatus"]):
            saved = tmp_path / f"status-{number}.jwt"
            saved.write_text(client.get(httpx.URL(item["statusListCredential"]).path).text)
            statuses += ["--status", str(saved)]
        offline = cli(
            ["verify", str(tmp_path / "t1.json"), "--did", str(tmp_path / "did.json"), *statuses],
            bank.env,
        )
        assert offline.returncode == 0, offline.stdout + offline.stderr
        assert json.loads(offline.stdout)["valid"] is True
        refused = cli(
            ["verify", str(tmp_path / "tampered.json"), "--did", str(tmp_path / "did.json")],
            bank.env,
        )
        assert refused.returncode == 1, refused.stdout + refused.stderr
        independent = digital_bazaar(tmp_path / "t1.json", tmp_path / "did.json")
        assert independent.returncode == 0, independent.stdout + independent.stderr
        assert json.loads(independent.stdout)["verified"] is True
        independent = digital_bazaar(tmp_path / "tampered.json", tmp_path / "did.json")
        assert independent.returncode == 1, independent.stdout + independent.stderr

        # Rotate the Ed25519 key and retire the old one: T1 still verifies, the old key
        # stays in the DID document; T2's proof names the new key.
        old_kid = proof["verificationMethod"].split("#")[1]
        rotated = cli(
            ["keys", "rotate", "--kind", "transcript-issuer", "--algorithm", "EdDSA"], bank.env
        )
        assert rotated.returncode == 0, rotated.stderr
        retired = cli(["keys", "retire", "--kind", "transcript-issuer", "--kid", old_kid], bank.env)
        assert retired.returncode == 0, retired.stderr
        report = _verify(client, credential)
        assert report["valid"] is True, report
        assert report["checks"]["issuer_key"]["status"] == "retired"
        after = client.get("/.well-known/did.json").json()
        assert proof["verificationMethod"] in after["assertionMethod"]
        (tmp_path / "did-after.json").write_text(json.dumps(after))
        assert digital_bazaar(tmp_path / "t1.json", tmp_path / "did-after.json").returncode == 0
        t2 = client.post(f"/api/v1/learners/{learner_id}/transcripts", json={}, headers=lina)
        assert t2.status_code == 201, t2.text
        second = t2.json()["credential"]
        assert second["proof"]["verificationMethod"] != proof["verificationMethod"]
        assert _verify(client, second)["valid"] is True
        # The VC-JWT is still signed by the RSA key: the Ed25519 rotation left it alone.
        assert t2.json()["kid"] == t1["kid"]
