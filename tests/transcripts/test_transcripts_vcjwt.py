"""The VC-JWT signer and verifier on their own (no database, no server): every
algorithm the issuer may be configured with, and the bad-input catalog."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditbank.kit import signing
from creditbank.transcripts import credential as builder
from creditbank.transcripts import vcjwt

ISSUER = "https://bank.example.cn"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


def _key(alg: str) -> signing.SigningKey:
    algo = signing.algorithm(alg)
    private = algo.generate()
    return signing.SigningKey(
        kid=f"ti-{alg.lower()}",
        alg=alg,
        status=signing.ACTIVE,
        created_at="2026-12-01T00:00:00Z",
        public_key=algo.public_key(private),
        private_key=private,
    )


def _credential(valid_until: datetime | None = None) -> dict[str, Any]:
    outcome = builder.OutcomeClaim(
        outcome_id=uuid.uuid4(),
        unit_code="CERT-ELEC-4",
        title_zh="电工职业技能等级证书（中级）",
        title_en="Electrician certificate (intermediate)",
        level=4,
        category="vocational",
        unit_credits=Decimal("6.0"),
        credits=Decimal("6.0"),
        awarded_at=NOW - timedelta(days=30),
        expires_at=None,
        institution_key="fxvs",
        institution_name_zh="房县职业技术学校",
        institution_name_en=None,
        statement_ids=[str(uuid.uuid4())],
    )
    return builder.build(
        transcript_id=uuid.uuid4(),
        issuer_id=ISSUER,
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=NOW - timedelta(hours=1),
        as_of=NOW - timedelta(hours=1),
        outcomes=[outcome],
        conversions=[],
        totals=builder.Totals(Decimal("6.0"), Decimal("6.0"), Decimal("0")),
        valid_until=valid_until,
    )


def _resolver(key: signing.SigningKey) -> vcjwt.KeyResolver:
    url = f"{ISSUER}/.well-known/jwks/{key.kid}"
    return lambda kid: (key.jwk(), key.status) if kid == url else None


def _sign(key: signing.SigningKey, credential: dict[str, Any] | None = None) -> str:
    return vcjwt.sign(credential or _credential(), key, f"{ISSUER}/.well-known/jwks/{key.kid}")


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def _part(token: str, index: int) -> dict[str, Any]:
    text = token.split(".")[index]
    loaded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    return loaded


@pytest.fixture(scope="module")
def rsa() -> signing.SigningKey:
    return _key("RS256")


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_other_configured_algorithms_verify(alg: str):
    key = _key(alg)
    report = vcjwt.verify(_sign(key), _resolver(key), now=NOW)
    assert report["valid"] is True, report["errors"]
    assert report["checks"]["header"]["alg"] == alg


def test_credits_are_exact_json_numbers(rsa: signing.SigningKey):
    payload = _part(_sign(rsa), 1)
    vc = payload["credentialSubject"]["verifiableCredential"][0]
    assert vc["credentialSubject"]["creditsEarned"] == 6.0
    assert '"banked":6.00' in vcjwt.canonical_json(_credential())


def test_validity_window(rsa: signing.SigningKey):
    token = _sign(rsa, _credential(valid_until=NOW + timedelta(days=1)))
    assert _part(token, 1)["exp"] == int((NOW + timedelta(days=1)).timestamp())
    assert vcjwt.verify(token, _resolver(rsa), now=NOW)["valid"] is True
    late = vcjwt.verify(token, _resolver(rsa), now=NOW + timedelta(days=2))
    assert late["valid"] is False
    assert late["checks"]["signature"]["valid"] is True
    assert any("validity" in e for e in late["errors"])
    early = vcjwt.verify(token, _resolver(rsa), now=NOW - timedelta(days=1))
    assert early["valid"] is False


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "RS256", "typ": "JWT"}, "no kid"),
        ({"alg": "HS256", "typ": "JWT", "kid": "k"}, "alg 'HS256'"),
        ({"alg": "RS256", "typ": "jwt+evil", "kid": "k"}, "typ"),
        ({"alg": "RS256", "typ": "JWT", "kid": "k", "jku": "https://evil"}, "other than"),
    ],
)
def test_bad_headers_are_invalid(rsa: signing.SigningKey, header: dict[str, Any], reason: str):
    _h, payload, signature = _sign(rsa).split(".")
    report = vcjwt.verify(f"{_b64(header)}.{payload}.{signature}", _resolver(rsa), now=NOW)
    assert report["valid"] is False
    assert any(reason in e for e in report["errors"]), report["errors"]


def test_a_key_of_another_algorithm_under_the_kid_is_refused(rsa: signing.SigningKey):
    other = _key("ES256")
    token = _sign(rsa)
    url = f"{ISSUER}/.well-known/jwks/{rsa.kid}"
    report = vcjwt.verify(
        token, lambda kid: (other.jwk(), "active") if kid == url else None, now=NOW
    )
    assert report["valid"] is False
    assert report["checks"]["issuer_key"]["valid"] is False


def test_claims_that_do_not_mirror_the_credential_are_invalid(rsa: signing.SigningKey):
    credential = _credential()
    key_url = f"{ISSUER}/.well-known/jwks/{rsa.kid}"
    header = {"alg": "RS256", "kid": key_url, "typ": "JWT"}
    payload = {**credential, **vcjwt.registered_claims(credential), "sub": "did:example:other"}
    signing_input = f"{_b64(header)}.{_b64(json.loads(vcjwt.canonical_json(payload)))}"
    signature = base64.urlsafe_b64encode(
        rsa.algorithm.sign(rsa.private_key, signing_input.encode())
    )
    token = signing_input + "." + signature.rstrip(b"=").decode()
    report = vcjwt.verify(token, _resolver(rsa), now=NOW)
    assert report["checks"]["signature"]["valid"] is True
    assert report["valid"] is False
    assert any("sub does not mirror" in e for e in report["errors"])


@pytest.mark.parametrize(
    "token",
    [
        "",
        "one.two",
        "a.b.c.d",
        "!!.e30.",
        f"{_b64([1])}.{_b64({})}.",
        f"{_b64({'alg': 'RS256'})}.{_b64('x' * 3)}.",
        f"{_b64({'alg': 'RS256'})}.{_b64(json.loads('[' * 40 + ']' * 40))}.",
        "a" * (vcjwt.MAX_TOKEN_BYTES + 1),
    ],
)
def test_unparseable_input_raises_the_400_error(token: str):
    with pytest.raises(vcjwt.UnparseableCredential) as caught:
        vcjwt.verify(token, lambda kid: None, now=NOW)
    assert caught.value.status_code == 400


def test_too_deep_payload_is_unparseable():
    deep: Any = {}
    for _ in range(vcjwt.MAX_DEPTH + 5):
        deep = {"x": deep}
    with pytest.raises(vcjwt.UnparseableCredential, match="deeper"):
        vcjwt.parse(f"{_b64({'alg': 'RS256'})}.{_b64(deep)}.")
