"""The SD-JWT VC issuer and verifier on their own (no database, no server): selective
disclosure, key binding and the bad-input catalog."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from creditbank.kit import signing
from creditbank.transcripts import credential as builder
from creditbank.transcripts import sdjwt

ISSUER = "https://bank.example.cn"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
VCT = f"{ISSUER}/vct/transcript"


def _key(alg: str = "ES256", kid: str = "ti-es") -> signing.SigningKey:
    algo = signing.algorithm(alg)
    private = algo.generate()
    return signing.SigningKey(
        kid=kid,
        alg=alg,
        status=signing.ACTIVE,
        created_at="2026-12-01T00:00:00Z",
        public_key=algo.public_key(private),
        private_key=private,
    )


ISSUER_KEY = _key()
KID_URL = f"{ISSUER}/.well-known/jwks/{ISSUER_KEY.kid}"


def _resolve(kid: str) -> tuple[dict[str, Any], str] | None:
    return (ISSUER_KEY.jwk(), "active") if kid == KID_URL else None


def _outcome(code: str, title: str, credits: str) -> builder.OutcomeClaim:
    return builder.OutcomeClaim(
        outcome_id=uuid.uuid4(),
        unit_code=code,
        title_zh=title,
        title_en=title,
        level=4,
        category="vocational",
        unit_credits=Decimal(credits),
        credits=Decimal(credits),
        awarded_at=NOW - timedelta(days=30),
        expires_at=None,
        institution_key="fxvs",
        institution_name_zh="房县职业技术学校",
        institution_name_en=None,
        statement_ids=[str(uuid.uuid4())],
    )


def _credential() -> dict[str, Any]:
    return builder.build(
        transcript_id=uuid.uuid4(),
        issuer_id=ISSUER,
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=NOW - timedelta(hours=1),
        as_of=NOW - timedelta(hours=1),
        outcomes=[
            _outcome("CERT-ELEC-4", "电工职业技能等级证书（中级）", "6.0"),
            _outcome("COMM-FA-16", "社区花艺", "1.0"),
        ],
        conversions=[
            builder.ConversionClaim(
                application_id=uuid.uuid4(),
                target_institution_key="hbou",
                programme="elec-dip",
                target_unit="HBOU-EE-101",
                title={"zh": "电工基础"},
                credits=Decimal("3.0"),
                decided_at=NOW - timedelta(days=2),
                source_units=["CERT-ELEC-4"],
            )
        ],
        totals=builder.Totals(Decimal("7.0"), Decimal("4.0"), Decimal("3.0")),
    )


CREDENTIAL = _credential()


def _issue(**kw: Any) -> str:
    return sdjwt.issue(
        CREDENTIAL,
        ISSUER_KEY,
        KID_URL,
        jti="urn:uuid:00000000-0000-4000-8000-000000000001",
        vct=VCT,
        issued_at=NOW - timedelta(minutes=5),
        **kw,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _verify(token: str, **kw: Any) -> dict[str, Any]:
    return sdjwt.verify(token, _resolve, now=NOW, **kw)


class TestIssue:
    def test_header_and_plain_claims(self):
        token = _issue()
        header = json.loads(_unb64(token.split(".")[0]))
        assert header == {"alg": "ES256", "kid": KID_URL, "typ": "dc+sd-jwt"}
        payload = json.loads(_unb64(token.split("~")[0].split(".")[1]))
        assert payload["_sd_alg"] == "sha-256"
        assert payload["vct"] == VCT
        assert payload["iss"] == ISSUER
        assert {"iat", "nbf"} <= set(payload)
        # nothing personal in the clear: the subject and totals are disclosures only
        assert "sub" not in payload
        assert "credit_totals" not in payload
        assert CREDENTIAL["credentialSubject"]["id"] not in token.split("~")[0]
        assert len(payload["_sd"]) == 2 + sdjwt.DECOYS
        assert len(payload["achievements"]) == 2
        assert all(set(a) == {"..."} for a in payload["achievements"])

    def test_disclosures_are_salted_arrays_matching_digests(self):
        token = _issue()
        jwt, *disclosures, last = token.split("~")
        assert last == ""
        payload = json.loads(_unb64(jwt.split(".")[1]))
        digests = set(payload["_sd"]) | {a["..."] for a in payload["achievements"]}
        digests |= {c["..."] for c in payload["conversions"]}
        assert len(disclosures) == 2 + 2 + 1
        for text in disclosures:
            value = json.loads(_unb64(text))
            assert isinstance(value, list)
            assert len(value[0]) >= 16  # salt
            assert _b64(hashlib.sha256(text.encode()).digest()) in digests
        # fresh salts: the same transcript twice gives different disclosures
        assert set(_issue().split("~")[1:]) != set(disclosures)

    def test_full_sd_jwt_verifies_with_every_claim(self):
        report = _verify(_issue())
        assert report["valid"] is True, report["errors"]
        assert report["format"] == "sd-jwt-vc"
        assert report["disclosed"] == {
            "personal": ["credit_totals", "sub"],
            "outcomes": ["CERT-ELEC-4", "COMM-FA-16"],
            "conversions": [CREDENTIAL["credentialSubject"]["conversions"][0]["id"]],
        }
        assert report["subject"] == CREDENTIAL["credentialSubject"]["id"]
        assert report["credential"]["credit_totals"]["banked"] == Decimal("7.00")


class TestSelectiveDisclosure:
    def test_only_the_vocational_certificate(self):
        token = _issue(
            selection=sdjwt.Selection.of(outcomes=["CERT-ELEC-4"], conversions=[], personal=[])
        )
        report = _verify(token)
        assert report["valid"] is True, report["errors"]
        assert report["disclosed"] == {
            "personal": [],
            "outcomes": ["CERT-ELEC-4"],
            "conversions": [],
        }
        claims = report["credential"]
        assert "sub" not in claims
        assert "credit_totals" not in claims
        assert claims["conversions"] == []
        (only,) = claims["achievements"]
        assert only["credentialSubject"]["achievement"]["humanCode"] == "CERT-ELEC-4"
        assert "id" not in only["credentialSubject"]
        assert "COMM-FA-16" not in json.dumps(report, default=str)

    def test_unknown_choices_are_named(self):
        wrong = sdjwt.Selection.of(outcomes=["NOPE-1"], personal=["name"])
        assert sdjwt.unknown_choices(CREDENTIAL, wrong) == ["outcome NOPE-1", "personal claim name"]

    def test_dropping_a_disclosure_from_a_presentation_still_verifies(self):
        jwt, *disclosures, _ = _issue().split("~")
        report = _verify("~".join([jwt, disclosures[0], ""]))
        assert report["valid"] is True


class TestKeyBinding:
    HOLDER = _key("ES256", "holder")

    def _present(self, nonce: str = "n-123", aud: str = "https://hr.example.com", **kw: Any):
        token = _issue(holder_jwk=self.HOLDER.algorithm.public_jwk(self.HOLDER.public_key))
        return sdjwt.key_binding(token, self.HOLDER, nonce=nonce, audience=aud, issued_at=NOW, **kw)

    def test_verifies_with_nonce_and_audience(self):
        report = _verify(self._present(), nonce="n-123", audience="https://hr.example.com")
        assert report["valid"] is True, report["errors"]
        assert report["checks"]["key_binding"]["present"] is True
        assert report["checks"]["key_binding"]["nonce_checked"] is True

    def test_wrong_nonce(self):
        report = _verify(self._present(nonce="other"), nonce="n-123")
        assert report["valid"] is False
        assert "key binding: nonce is not the one expected" in report["errors"]

    def test_wrong_audience(self):
        report = _verify(
            self._present(aud="https://evil.example"), audience="https://hr.example.com"
        )
        assert report["valid"] is False
        assert any("aud 'https://evil.example'" in e for e in report["errors"])

    def test_required_when_a_nonce_is_expected(self):
        token = _issue(holder_jwk=self.HOLDER.algorithm.public_jwk(self.HOLDER.public_key))
        report = _verify(token, nonce="n-123")
        assert report["valid"] is False
        assert any("KB-JWT is required" in e for e in report["errors"])

    def test_other_holder_key(self):
        token = _issue(holder_jwk=self.HOLDER.algorithm.public_jwk(self.HOLDER.public_key))
        presented = sdjwt.key_binding(
            token, _key("ES256", "thief"), nonce="n", audience="a", issued_at=NOW
        )
        report = _verify(presented, nonce="n", audience="a")
        assert report["valid"] is False
        assert any("holder key" in e for e in report["errors"])

    def test_sd_hash_binds_the_disclosures(self):
        presented = self._present()
        jwt, *disclosures, kb = presented.split("~")
        fewer = "~".join([jwt, *disclosures[1:], kb])
        report = _verify(fewer, nonce="n-123")
        assert report["valid"] is False
        assert any("sd_hash" in e for e in report["errors"])

    def test_stale_kb_jwt(self):
        token = _issue(holder_jwk=self.HOLDER.algorithm.public_jwk(self.HOLDER.public_key))
        old = sdjwt.key_binding(
            token, self.HOLDER, nonce="n", audience="a", issued_at=NOW - timedelta(hours=2)
        )
        assert _verify(old, nonce="n")["valid"] is False


class TestBadInput:
    def test_truncated(self):
        token = _issue()
        report = _verify(token[:-10])
        assert report["valid"] is False
        assert any("truncated" in e for e in report["errors"])

    def test_a_disclosure_that_matches_no_digest(self):
        jwt, *disclosures, _ = _issue().split("~")
        alien = sdjwt.disclosure(["c2FsdHNhbHRzYWx0", "sub", "urn:uuid:someone-else"])
        report = _verify("~".join([jwt, *disclosures, alien, ""]))
        assert report["valid"] is False
        assert any("matches no digest" in e for e in report["errors"])

    def test_a_tampered_disclosure(self):
        jwt, first, *rest = _issue().split("~")
        value = json.loads(_unb64(first))
        value[-1] = "urn:uuid:forged"
        report = _verify("~".join([jwt, _b64(json.dumps(value).encode()), *rest]))
        assert report["valid"] is False
        assert any("matches no digest" in e for e in report["errors"])

    def test_garbage_disclosure(self):
        jwt, *_ = _issue().split("~")
        report = _verify(f"{jwt}~%%%~")
        assert report["valid"] is False
        assert "disclosure 1: not base64url JSON" in report["errors"]

    def test_swapped_signature(self):
        token, other = _issue(), _issue()
        jwt, rest = token.split("~", 1)
        forged = ".".join([*jwt.split(".")[:2], other.split("~")[0].split(".")[2]])
        report = _verify(f"{forged}~{rest}")
        assert report["valid"] is False
        assert report["checks"]["signature"]["valid"] is False
        assert report["credential"] is None

    def test_tampered_payload(self):
        jwt, rest = _issue().split("~", 1)
        h, p, s = jwt.split(".")
        payload = json.loads(_unb64(p))
        payload["vct"] = "https://other"
        report = _verify(f"{h}.{_b64(json.dumps(payload).encode())}.{s}~{rest}")
        assert report["valid"] is False
        assert "signature: does not verify with the issuer key" in report["errors"]

    def test_expired(self):
        report = sdjwt.verify(
            _issue(expires_at=NOW + timedelta(days=1)), _resolve, now=NOW + timedelta(days=2)
        )
        assert report["valid"] is False
        assert "validity: expired (exp)" in report["errors"]

    def test_unknown_kid_and_wrong_typ(self):
        report = sdjwt.verify(_issue(), lambda kid: None, now=NOW)
        assert report["valid"] is False
        assert any("unknown kid" in e for e in report["errors"])

    @pytest.mark.parametrize("garbage", ["", "no tilde", "a.b~", "e30.e30.%%%~", "~~"])
    def test_unparseable(self, garbage: str):
        with pytest.raises(sdjwt.UnparseableSdJwt):
            _verify(garbage)
