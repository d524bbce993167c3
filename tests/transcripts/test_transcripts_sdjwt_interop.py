"""npm ``@sd-jwt/sd-jwt-vc`` 0.19 (not ours) verifies a share's key-bound presentation
against the published JWK set (``tests/interop/verify_sdjwt.mjs``), SQLite and
PostgreSQL; a changed disclosure, a wrong nonce or audience, a disclosure no digest
references, a tampered issuer JWT and a KB-JWT of another key are all rejected, by it
and by the bank's own verifier."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.kit import signing
from creditbank.transcripts import sdjwt
from tests.identity.conftest import login
from tests.portal.helpers_portal import load_story

INTEROP = Path(__file__).resolve().parents[1] / "interop"
HR = "https://hr.example.com"
NONCE = "n-7f3a"


def _key() -> signing.SigningKey:
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


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _npm(presentation: str, jwks: dict[str, Any], tmp_path: Path, *extra: str) -> dict[str, Any]:
    """npm ``@sd-jwt/sd-jwt-vc`` on the presentation (``extra``: nonce, audience)."""
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "@sd-jwt").is_dir():
        if os.environ.get("CI"):
            pytest.fail("tests/interop/node_modules is missing: .ci/run installs it (npm ci)")
        pytest.skip("npm @sd-jwt/sd-jwt-vc not installed (cd tests/interop && npm ci)")
    tmp_path.mkdir(parents=True, exist_ok=True)
    token, keys = tmp_path / "presentation.txt", tmp_path / "jwks.json"
    token.write_text(presentation, encoding="utf-8")
    keys.write_text(json.dumps(jwks), encoding="utf-8")
    done = subprocess.run(
        ["node", str(INTEROP / "verify_sdjwt.mjs"), str(token), str(keys), *extra],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode == 0) is (result["valid"] is True), done
    return result


async def _ours(client: httpx.AsyncClient, presentation: str, **expect: str) -> dict[str, Any]:
    answer = await client.post("/api/v1/verify", json={"sd_jwt": presentation, **expect})
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def test_npm_sd_jwt_vc_verifies_a_key_bound_share(
    client: httpx.AsyncClient, db: Database, settings: Settings, tmp_path: Path
):
    learner = (await load_story(db, settings))["users"]["learner"]  # 李娜, her outcomes
    lina = await login(client, learner["username"], learner["password"])
    issued = await client.post(
        f"/api/v1/learners/{learner['learner_id']}/transcripts", headers=lina
    )
    assert issued.status_code == 201, issued.text
    transcript = issued.json()
    units = [
        vc["credentialSubject"]["achievement"]["humanCode"]
        for vc in transcript["credential"]["credentialSubject"]["verifiableCredential"]
    ]
    assert len(units) >= 2
    unit = units[0]
    holder = _key()
    made = await client.post(
        f"/api/v1/transcripts/{transcript['id']}/shares",
        json={
            "outcomes": [unit],
            "personal": ["credit_totals"],
            "audience": HR,
            "holder_jwk": holder.algorithm.public_jwk(holder.public_key),
        },
        headers=lina,
    )
    assert made.status_code == 201, made.text
    share = made.json()["sd_jwt"]
    jwks = (await client.get("/.well-known/jwks.json")).json()

    def present(sd_jwt: str, key: signing.SigningKey = holder, nonce: str = NONCE) -> str:
        return sdjwt.key_binding(sd_jwt, key, nonce=nonce, audience=HR, issued_at=datetime.now(UTC))

    presented = present(share)
    accepted = _npm(presented, jwks, tmp_path / "ok", NONCE, HR)
    assert accepted["achievements"] == [unit]
    assert "credit_totals" in accepted["claims"]
    assert "sub" not in accepted["claims"]
    assert accepted["kb"] == {"nonce": NONCE, "aud": HR}
    assert [e["statusPurpose"] for e in accepted["credentialStatus"]] == [
        "revocation",
        "suspension",
    ]
    ours = await _ours(client, presented, nonce=NONCE, audience=HR)
    assert ours["valid"] is True, ours["errors"]

    jwt, *disclosures, _ = share.split("~")
    # A changed disclosure: the credit totals inflated.
    changed = []
    for text in disclosures:
        value = json.loads(_unb64(text))
        if value[1:2] == ["credit_totals"]:
            value[2]["banked"] = 99
            text = _b64(json.dumps(value).encode())
        changed.append(text)
    assert changed != disclosures
    tampered = "~".join([jwt, *changed, ""])
    # ... under the holder's original KB-JWT: its sd_hash no longer matches
    original_kb = presented.rsplit("~", 1)[1]
    replayed = tampered + original_kb
    # ... and re-bound by a dishonest holder (sd_hash then matches; the digest does not)
    rebound = present(tampered)
    alien = sdjwt.disclosure(["c2FsdHNhbHRzYWx0c2FsdA", "sub", "urn:uuid:someone-else"])
    smuggled = present("~".join([jwt, *disclosures, alien, ""]))
    header, payload, signature = jwt.split(".")
    claims = json.loads(_unb64(payload))
    claims["vct"] = claims["vct"] + "/other"
    forged = ".".join([header, _b64(json.dumps(claims).encode()), signature])
    cases = {
        "changed disclosure (original KB-JWT)": (replayed, NONCE, HR, "library"),
        "changed disclosure (re-bound)": (rebound, NONCE, HR, "disclosures"),
        "changed disclosure (no KB-JWT asked)": (tampered, None, None, "disclosures"),
        "wrong nonce": (present(share, nonce="n-other"), NONCE, HR, "library"),
        "wrong audience": (presented, NONCE, "https://evil.example", "audience"),
        "disclosure no digest references": (smuggled, NONCE, HR, "disclosures"),
        "tampered issuer JWT": (present("~".join([forged, *disclosures, ""])), NONCE, HR,
                                "library"),
        "KB-JWT of another key": (present(share, key=_key()), NONCE, HR, "library"),
    }  # fmt: skip
    for number, (name, (token, nonce, audience, stage)) in enumerate(cases.items()):
        extra = [a for a in (nonce, audience) if a is not None]
        found = _npm(token, jwks, tmp_path / str(number), *extra)
        assert found["valid"] is False, (name, found)
        assert found["stage"] == stage, (name, found)
        expect = {k: v for k, v in (("nonce", nonce), ("audience", audience)) if v is not None}
        report = await _ours(client, token, **expect)
        assert report["valid"] is False, (name, report)
