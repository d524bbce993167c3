"""The optional parallel SM2 signature (SM3, GM/T 0009 default user id): the algorithm on
its own, and a transcript issued with it over HTTP (both databases): published key,
``sm2`` proof in the answer and stored, checked by ``POST /api/v1/verify``."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from gmssl import sm2 as gmssl_sm2
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo
from creditbank.kit import signing, sm2
from creditbank.transcripts import sm2 as sm2_proof
from creditbank.transcripts import vcjwt
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER
from creditbank.transcripts.service import transcripts

if TYPE_CHECKING:
    from tests.conftest import TestDatabase

MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyLlrablj7ci" * 300
NOW = datetime(2026, 12, 2, tzinfo=UTC)


class TestAlgorithm:
    def test_signs_and_verifies_and_refuses_changes(self):
        key = sm2.SM2PrivateKey.generate()
        signature = key.sign(MESSAGE)
        assert len(signature) == 64
        assert sm2.verify(key.public, MESSAGE, signature)
        assert not sm2.verify(key.public, MESSAGE + b"x", signature)
        assert not sm2.verify(key.public, MESSAGE, signature[:32] + bytes(32))
        assert not sm2.verify(key.public, MESSAGE, signature[:-1])
        other = sm2.SM2PrivateKey.generate()
        assert not sm2.verify(other.public, MESSAGE, signature)
        # the same message twice: a fresh nonce each time
        assert key.sign(MESSAGE) != signature

    def test_digest_is_gmssl_own_z_value_with_the_default_user_id(self):
        key = sm2.SM2PrivateKey.generate()
        crypt = gmssl_sm2.CryptSM2(private_key=f"{key.d:064x}", public_key="00")
        crypt.public_key = key.public.raw().hex()
        assert key.public.digest(MESSAGE).hex() == crypt._sm3_z(MESSAGE)
        # and gmssl's own SM3-with-Z verification accepts our signature
        assert crypt.verify_with_sm3(key.sign(MESSAGE).hex(), MESSAGE)

    def test_sm3_standard_vector(self):
        assert sm2.sm3(b"abc").hex() == (
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        )

    def test_jwk_round_trip_and_off_curve_points_refused(self):
        algo = signing.algorithm("SM2")
        key = algo.generate()
        jwk = {**algo.public_jwk(algo.public_key(key)), "alg": "SM2"}
        assert jwk["kty"] == "EC"
        assert jwk["crv"] == "SM2"
        signature = algo.sign(key, MESSAGE)
        assert signing.verify_with_jwk(jwk, MESSAGE, signature)
        bent = {**jwk, "y": signing.b64e(bytes(31) + b"\x07")}
        assert not signing.verify_with_jwk(bent, MESSAGE, signature)
        with pytest.raises(ValueError, match="curve"):
            algo.load_public_jwk(bent)
        assert algo.load_private(algo.private_bytes(key)).d == key.d


class TestKeys:
    def test_sm2_keys_are_sealed_at_rest(self, tmp_path: Path):
        settings = Settings(env="test", key_dir=tmp_path / "keys")
        kid = signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm="SM2")
        keys = signing.key_set(settings, TRANSCRIPT_ISSUER)
        key = keys.get(kid)
        assert key is not None
        assert key.alg == "SM2"
        d = int(signing.algorithm("SM2").private_bytes(key.private_key).hex(), 16)
        text = TRANSCRIPT_ISSUER.path(settings).read_text()
        assert f"{d:064x}" not in text
        assert signing.b64e(d.to_bytes(32, "big")) not in text
        stored = json.loads(text)["keys"][kid]
        assert stored["private"].startswith("v1.")
        assert stored["public_jwk"]["crv"] == "SM2"

    def test_an_sm2_key_cannot_sign_a_vc_jwt(self, tmp_path: Path):
        settings = Settings(env="test", key_dir=tmp_path / "keys")
        with pytest.raises(ValueError, match="algorithm"):
            Settings(env="test", transcripts={"algorithm": "SM2"})
        kid = signing.rotate(settings, TRANSCRIPT_ISSUER, algorithm="SM2")
        key = signing.key_set(settings, TRANSCRIPT_ISSUER).get(kid)
        assert key is not None
        credential = {
            "issuer": "x",
            "id": "urn:uuid:1",
            "credentialSubject": {"id": "urn:uuid:2"},
            "validFrom": "2026-12-01T00:00:00Z",
        }
        token = vcjwt.sign(credential, key, "k")
        report = vcjwt.verify(token, lambda kid: (key.jwk(), "active"), now=NOW)
        assert report["valid"] is False
        assert any("alg 'SM2'" in e for e in report["errors"])


# -- over HTTP ---------------------------------------------------------------------------


@pytest.fixture
def settings(database: TestDatabase, tmp_path: Path) -> Settings:
    return Settings(
        env="test",
        database_url=database.url,
        key_dir=tmp_path / "keys",
        auto_migrate=False,
        worker={"in_process": False},
        transcripts={"sm2": True},
    )


async def _issue(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> dict[str, Any]:
    demo = await load_demo(session, settings)
    await session.commit()
    learner = demo["users"]["learner"]
    login = await client.post(
        "/api/v1/auth/login",
        json={"username": learner["username"], "password": learner["password"]},
    )
    assert login.status_code == 200, login.text
    headers = {"Authorization": f"Bearer {login.json()['access_token']}"}
    issued = await client.post(
        f"/api/v1/learners/{learner['learner_id']}/transcripts", json={}, headers=headers
    )
    assert issued.status_code == 201, issued.text
    answer: dict[str, Any] = issued.json()
    read = await client.get(f"/api/v1/transcripts/{answer['id']}", headers=headers)
    assert read.json()["sm2"] == answer["sm2"]  # stored with the transcript
    return answer


async def _verify(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post("/api/v1/verify", json=body)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def test_issued_with_a_published_sm2_proof_that_verify_checks(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, tmp_path: Path
):
    answer = await _issue(client, session, settings)
    proof = answer["sm2"]
    assert proof["type"] == "SM2Signature"
    assert proof["user_id"] == "1234567812345678"
    assert proof["signed"] == "vc_jwt"
    assert answer["vc_jwt"].split(".")[0]  # the international proof stays
    # The public key: in the JWK set and at its kid URL.
    jwks = (await client.get("/.well-known/jwks.json")).json()
    published = {k["kid"]: k for k in jwks["keys"]}
    assert published[proof["kid"]]["crv"] == "SM2"
    path = proof["kid"].split("/", 3)[3]
    assert (await client.get("/" + path)).json()["crv"] == "SM2"
    # What is signed: the VC-JWT's JWS signing input.
    signed = sm2_proof.signing_input(answer["vc_jwt"])
    assert signing.verify_with_jwk(
        published[proof["kid"]], signed, bytes.fromhex(proof["signature"])
    )

    report = await _verify(client, {"vc_jwt": answer["vc_jwt"], "sm2": proof})
    assert report["valid"] is True, report["errors"]
    assert report["checks"]["sm2"] == {"valid": True, "kid": proof["kid"], "status": "active"}
    # Without the proof: the VC-JWT alone, as before.
    plain = await _verify(client, {"vc_jwt": answer["vc_jwt"]})
    assert plain["valid"] is True
    assert "sm2" not in plain["checks"]

    # A swapped SM2 signature, a proof of another token, a bent proof: all invalid.
    flipped = proof["signature"][:-2] + ("00" if proof["signature"][-2:] != "00" else "01")
    for bad in (
        {**proof, "signature": flipped},
        {**proof, "signature": "zz" * 64},
        {**proof, "kid": answer["kid"]},  # the RSA key's kid
        "not a proof",
    ):
        report = await _verify(client, {"vc_jwt": answer["vc_jwt"], "sm2": bad})
        assert report["valid"] is False
        assert report["checks"]["sm2"]["valid"] is False
        assert any(e.startswith("sm2:") for e in report["errors"])
    other = await client.post(
        "/api/v1/verify", json={"vc_jwt": answer["vc_jose"], "sm2": proof}
    )  # the vc+jwt form has another header: the SM2 proof is of the typ JWT one
    assert other.json()["checks"]["sm2"]["valid"] is False

    # Offline, from the published JWK set and status lists: the same report.
    lists = {}
    for entry in answer["credential"]["credentialStatus"]:
        url = entry["statusListCredential"]
        lists[url] = (await client.get(httpx.URL(url).path)).text
    offline = transcripts.verify(
        settings, answer["vc_jwt"], jwks=jwks, sm2=proof, status_lists=lists
    )
    assert offline["valid"] is True, offline["errors"]
