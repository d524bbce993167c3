"""npm ``sm-crypto`` (not ours) verifies a transcript's SM2 proof against the published
JWK set (``tests/interop/verify_sm2.mjs``); a tampered payload or signature fails."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.kit.time import utc_now
from creditbank.transcripts import credential as builder
from creditbank.transcripts import sm2 as sm2_proof
from creditbank.transcripts import vcjwt
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER
from creditbank.transcripts.service import issuer_id, kid_url, transcripts

INTEROP = Path(__file__).resolve().parents[1] / "interop"


def _sm_crypto(answer: dict[str, Any], jwks: dict[str, Any], tmp_path: Path) -> bool:
    """npm ``sm-crypto`` verifying the answer's SM2 proof with the JWK set."""
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "sm-crypto").is_dir():
        if os.environ.get("CI"):
            pytest.fail("tests/interop/node_modules is missing: .ci/run installs it (npm ci)")
        pytest.skip("npm sm-crypto not installed (cd tests/interop && npm ci)")
    answer_file, jwks_file = tmp_path / "answer.json", tmp_path / "jwks.json"
    answer_file.write_text(json.dumps(answer), encoding="utf-8")
    jwks_file.write_text(json.dumps(jwks), encoding="utf-8")
    done = subprocess.run(
        ["node", str(INTEROP / "verify_sm2.mjs"), str(answer_file), str(jwks_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    result = json.loads(done.stdout)
    assert (done.returncode == 0) is (result["valid"] is True), done
    return bool(result["valid"])


def _issued(settings: Settings) -> dict[str, Any]:
    now = utc_now()
    outcome = builder.OutcomeClaim(
        outcome_id=uuid.uuid4(),
        unit_code="CERT-ELEC-4",
        title_zh="电工职业技能等级证书（中级）",
        title_en="Electrician certificate (intermediate)",
        level=4,
        category="vocational",
        unit_credits=Decimal("6.0"),
        credits=Decimal("6.0"),
        awarded_at=now - timedelta(days=30),
        expires_at=None,
        institution_key="fxvs",
        institution_name_zh="房县职业技术学校",
        institution_name_en=None,
        statement_ids=[str(uuid.uuid4())],
    )
    credential = builder.build(
        transcript_id=uuid.uuid4(),
        issuer_id=issuer_id(settings),
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=now,
        as_of=now,
        outcomes=[outcome],
        conversions=[],
        totals=builder.Totals(Decimal("6.0"), Decimal("6.0"), Decimal("0")),
        valid_until=None,
    )
    keys = signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    rsa = keys.current_key("RS256")
    token = vcjwt.sign(credential, rsa, kid_url(settings, rsa.kid))
    signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm="SM2")
    key = signing.key_set(settings, TRANSCRIPT_ISSUER).current_key("SM2")
    return {"vc_jwt": token, "sm2": sm2_proof.proof(token, key, kid_url(settings, key.kid))}


def test_sm_crypto_verifies_the_sm2_proof_and_refuses_tampering(tmp_path: Path):
    settings = Settings(env="test", key_dir=tmp_path / "keys")
    answer = _issued(settings)
    jwks = transcripts.jwks(settings)
    assert _sm_crypto(answer, jwks, tmp_path) is True
    assert transcripts.verify(settings, answer["vc_jwt"], sm2=answer["sm2"])["valid"] is True

    # A tampered payload (one credit more), with the signatures left as they were.
    head, payload, signature = answer["vc_jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["credentialSubject"]["creditTotals"]["banked"] = 7.0
    bent = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    tampered = {**answer, "vc_jwt": f"{head}.{bent}.{signature}"}
    assert _sm_crypto(tampered, jwks, tmp_path) is False
    # A changed signature, and another SM2 key under the proof's kid.
    sig = answer["sm2"]["signature"]
    swapped = {**answer, "sm2": {**answer["sm2"], "signature": sig[64:] + sig[:64]}}
    assert _sm_crypto(swapped, jwks, tmp_path) is False
    other = signing.algorithm("SM2")
    stranger = {
        **other.public_jwk(other.public_key(other.generate())),
        "kid": answer["sm2"]["kid"],
        "alg": "SM2",
    }
    assert _sm_crypto(answer, {"keys": [stranger]}, tmp_path) is False
