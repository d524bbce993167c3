"""The Data Integrity proof (``eddsa-rdfc-2022``), the shipped JSON-LD contexts and the
did:web document on their own (no database, no server), with the bad-input catalog."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pyld import jsonld

from creditbank.kit import signing
from creditbank.transcripts import credential as builder
from creditbank.transcripts import dataintegrity, documents, vcjwt, vcld
from creditbank.transcripts import did as didweb

ISSUER = "https://bank.example.cn"
DID = "did:web:bank.example.cn"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
INTEROP = Path(__file__).resolve().parents[1] / "interop"


def _key(alg: str = "EdDSA", kid: str = "ti-ed25519", status: str = signing.ACTIVE):
    algo = signing.algorithm(alg)
    private = algo.generate()
    return signing.SigningKey(
        kid=kid,
        alg=alg,
        status=status,
        created_at="2026-12-01T00:00:00Z",
        public_key=algo.public_key(private),
        private_key=private,
    )


def _key_set(*keys: signing.SigningKey) -> signing.KeySet:
    from creditbank.transcripts.keys import TRANSCRIPT_ISSUER

    current = {k.alg: k.kid for k in keys if k.status == signing.ACTIVE}
    return signing.KeySet(TRANSCRIPT_ISSUER, current, {k.kid: k for k in keys})


def _credential(valid_until: datetime | None = None) -> dict[str, Any]:
    outcome = builder.OutcomeClaim(
        outcome_id=uuid.uuid4(),
        unit_code="CERT-ELEC-4",
        title_zh="电工职业技能等级证书（中级）",
        title_en="Electrician certificate (intermediate)",
        level=4,
        category="vocational",
        unit_credits=Decimal("6.0"),
        credits=Decimal("2.5"),
        awarded_at=NOW - timedelta(days=30),
        expires_at=None,
        institution_key="fxvs",
        institution_name_zh="房县职业技术学校",
        institution_name_en="Fangxian Vocational School",
        statement_ids=[str(uuid.uuid4())],
    )
    conversion = builder.ConversionClaim(
        application_id=uuid.uuid4(),
        target_institution_key="hbou",
        programme="机电一体化",
        target_unit="HBOU-EL-101",
        title={"zh": "电工基础", "en": "Electrical basics"},
        credits=Decimal("2"),
        decided_at=NOW - timedelta(days=3),
        source_units=["CERT-ELEC-4"],
    )
    return builder.build(
        transcript_id=uuid.uuid4(),
        issuer_id=ISSUER,
        subject_id=f"urn:uuid:{uuid.uuid4()}",
        issued_at=NOW - timedelta(hours=1),
        as_of=NOW - timedelta(hours=1),
        outcomes=[outcome],
        conversions=[conversion],
        totals=builder.Totals(Decimal("6.0"), Decimal("4.0"), Decimal("2")),
        valid_until=valid_until,
        issuer_did=DID,
    )


def _secured(key: signing.SigningKey, credential: dict[str, Any] | None = None) -> dict[str, Any]:
    signed = dataintegrity.sign(
        credential or _credential(), key, f"{DID}#{key.kid}", created=NOW - timedelta(hours=1)
    )
    # As a verifier receives it: the JSON text (credits as JSON numbers) parsed again.
    parsed: dict[str, Any] = json.loads(vcjwt.canonical_json(signed))
    return parsed


def _check(document: dict[str, Any], *keys: signing.SigningKey, now: datetime = NOW):
    return vcld.verify(document, vcld.from_key_set(DID, _key_set(*keys)), now=now)


class TestContexts:
    def test_every_context_the_credential_names_is_shipped(self):
        credential = _credential()
        named = set(credential["@context"])
        for vc in credential["credentialSubject"]["verifiableCredential"]:
            named |= set(vc["@context"])
        assert named <= set(documents.CONTEXTS)
        for url in documents.CONTEXTS:
            assert "@context" in documents.context(url)

    def test_unknown_url_is_an_error_never_a_fetch(self, monkeypatch: pytest.MonkeyPatch):
        def no_network(*args: Any, **kwargs: Any) -> None:
            raise AssertionError("the network was used")

        monkeypatch.setattr(socket.socket, "connect", no_network)
        monkeypatch.setattr(socket, "create_connection", no_network)
        monkeypatch.setattr(socket, "getaddrinfo", no_network)
        # The shipped contexts are enough for the whole credential, offline.
        assert documents.canonize(dataintegrity.js_numbers(_credential()))
        with pytest.raises(jsonld.JsonLdError):
            documents.expand({"@context": "https://example.org/not-shipped/v1", "name": "x"})
        with pytest.raises(documents.UnknownDocument):
            documents.load_document("https://www.w3.org/2018/credentials/v1")

    def test_no_term_of_the_credential_is_dropped(self):
        """Every member expands (VC 2.0, OB 3.0, CLR 2.0, else the undefined-term
        vocabulary), so none escapes the proof."""
        expanded = json.dumps(documents.expand(dataintegrity.js_numbers(_credential())))
        for needle in ("creditTotals", "conversions", "name_en", "asOf", "sourceUnits"):
            assert f"undefined-term#{needle}" in expanded

    @pytest.mark.parametrize(
        ("url", "package", "path"),
        [
            (documents.VC_V2, "@digitalbazaar/credentials-context", "contexts/v2.jsonld"),
            (
                documents.VC_UNDEFINED_TERMS_V2,
                "@digitalbazaar/credentials-context",
                "contexts/undefined-terms-v2.jsonld",
            ),
        ],
    )
    def test_shipped_contexts_equal_the_published_packages(self, url, package, path):
        published = INTEROP / "node_modules" / package / path
        if not published.is_file():
            pytest.skip("tests/interop/node_modules not installed")
        assert documents.context(url) == json.loads(published.read_text("utf-8"))


class TestNumbers:
    def test_numbers_are_read_as_javascript_reads_them(self):
        assert dataintegrity.js_numbers(
            {"a": Decimal("6.00"), "b": 2.5, "c": [True, 3, 1.0, None, "6.0"]}
        ) == {"a": 6, "b": 2.5, "c": [True, 3, 1, None, "6.0"]}


class TestDid:
    @pytest.mark.parametrize(
        ("base", "expected"),
        [
            ("https://bank.example.cn", "did:web:bank.example.cn"),
            ("https://bank.example.cn:8443", "did:web:bank.example.cn%3A8443"),
            ("http://127.0.0.1:8000/", "did:web:127.0.0.1%3A8000"),
            ("https://example.cn/banks/hubei", "did:web:example.cn:banks:hubei"),
        ],
    )
    def test_did_web_of_the_base_url(self, base, expected):
        assert didweb.did_web(base) == expected

    def test_multikey_round_trip(self):
        key = _key()
        value = didweb.ed25519_multikey(key.public_key)
        assert value.startswith("z6Mk")
        assert didweb.ed25519_from_multikey(value) == key.public_key
        for bad in ("", "z", "u" + value[1:], value[:-3], "z0OIl"):
            with pytest.raises(ValueError, match=r"multibase|base58|Multikey"):
                didweb.ed25519_from_multikey(bad)

    def test_base58_keeps_leading_zeros(self):
        for data in (b"", b"\0", b"\0\0\x01", bytes(range(40))):
            assert didweb.b58decode(didweb.b58encode(data)) == data
        assert didweb.b58encode(b"\0\0\x01") == "112"

    def test_document_lists_current_and_retired_keys(self):
        ed, rsa = _key(), _key("RS256", "ti-rsa")
        old = _key(kid="ti-old", status=signing.RETIRED)
        doc = didweb.document(DID, _key_set(ed, rsa, old))
        assert doc["id"] == DID
        methods = {m["id"]: m for m in doc["verificationMethod"]}
        assert set(methods) == {f"{DID}#ti-ed25519", f"{DID}#ti-rsa", f"{DID}#ti-old"}
        assert sorted(doc["assertionMethod"]) == sorted(methods)
        assert methods[f"{DID}#ti-ed25519"]["type"] == "Multikey"
        assert methods[f"{DID}#ti-old"]["publicKeyMultibase"].startswith("z6Mk")
        assert methods[f"{DID}#ti-rsa"]["type"] == "JsonWebKey"
        assert methods[f"{DID}#ti-rsa"]["publicKeyJwk"]["kty"] == "RSA"
        assert all(m["controller"] == DID for m in methods.values())
        # A saved copy verifies offline.
        secured = _secured(old)
        report = vcld.verify(secured, vcld.from_did_document(doc), now=NOW)
        assert report["valid"] is True, report


class TestProof:
    def test_signed_credential_verifies(self):
        key = _key()
        secured = _secured(key)
        proof = secured["proof"]
        assert proof["type"] == "DataIntegrityProof"
        assert proof["cryptosuite"] == "eddsa-rdfc-2022"
        assert proof["proofPurpose"] == "assertionMethod"
        assert proof["verificationMethod"] == f"{DID}#ti-ed25519"
        assert proof["proofValue"].startswith("z")
        assert len(didweb.multibase_decode(proof["proofValue"])) == 64
        report = _check(secured, key)
        assert report["valid"] is True, report
        assert report["format"] == "vc-ld"
        assert report["checks"]["issuer_key"]["status"] == "active"
        assert report["errors"] == []

    def test_retired_key_still_verifies(self):
        key = _key()
        secured = _secured(key)
        retired = signing.SigningKey(**{**key.__dict__, "status": signing.RETIRED})
        report = _check(secured, retired)
        assert report["valid"] is True
        assert report["checks"]["issuer_key"]["status"] == "retired"

    def test_the_same_document_gives_the_same_proof(self):
        key, credential = _key(), _credential()
        assert _secured(key, credential) == _secured(key, credential)

    def _tampered_document(self, secured: dict[str, Any]) -> dict[str, Any]:
        bad = copy.deepcopy(secured)
        bad["credentialSubject"]["creditTotals"]["banked"] = 99
        return bad

    def test_tampering_is_reported(self):
        key = _key()
        secured = _secured(key)
        cases: dict[str, dict[str, Any]] = {"document": self._tampered_document(secured)}
        renamed = copy.deepcopy(secured)
        renamed["credentialSubject"]["verifiableCredential"][0]["credentialSubject"]["achievement"][
            "name"
        ] = "伪造"
        cases["nested achievement"] = renamed
        created = copy.deepcopy(secured)
        created["proof"]["created"] = "2020-01-01T00:00:00Z"
        cases["proof created"] = created
        flipped = copy.deepcopy(secured)
        signature = bytearray(didweb.multibase_decode(flipped["proof"]["proofValue"]))
        signature[0] ^= 1
        flipped["proof"]["proofValue"] = didweb.multibase_encode(bytes(signature))
        cases["proofValue"] = flipped
        swapped = copy.deepcopy(secured)
        swapped["proof"]["proofValue"] = _secured(key)["proof"]["proofValue"]
        cases["swapped proofValue"] = swapped
        for name, bad in cases.items():
            report = _check(bad, key)
            assert report["valid"] is False, name
            assert report["checks"]["proof"]["valid"] is False, name
            assert any("signature does not verify" in e for e in report["errors"]), name
            assert report["credential"] is None, name

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"cryptosuite": "ecdsa-rdfc-2019"}, "is not DataIntegrityProof/eddsa-rdfc-2022"),
            ({"type": "Ed25519Signature2020"}, "is not DataIntegrityProof/eddsa-rdfc-2022"),
            ({"proofPurpose": "authentication"}, "proofPurpose"),
            ({"verificationMethod": f"{DID}#ti-nope"}, "unknown verification method"),
            ({"verificationMethod": 7}, "must be strings"),
            ({"proofValue": "u" + "A" * 86}, "not multibase base58btc"),
            ({"proofValue": "z0OIl"}, "not multibase base58btc"),
        ],
    )
    def test_bad_proofs_are_reported_precisely(self, change, reason):
        key = _key()
        secured = _secured(key)
        secured["proof"].update(change)
        report = _check(secured, key)
        assert report["valid"] is False
        assert any(reason in e for e in report["errors"]), report["errors"]

    def test_no_proof_or_a_proof_that_is_no_object(self):
        key = _key()
        bare = json.loads(vcjwt.canonical_json(_credential()))
        assert any("no Data Integrity proof" in e for e in _check(bare, key)["errors"])
        bare["proof"] = "z123"
        assert _check(bare, key)["valid"] is False

    def test_a_key_of_another_issuer_is_refused(self):
        key = _key()
        other = dataintegrity.sign(
            _credential(), key, f"did:web:evil.example#{key.kid}", created=NOW
        )
        resolve = lambda method: (key.public_key, "published")  # noqa: E731
        report = vcld.verify(json.loads(vcjwt.canonical_json(other)), resolve, now=NOW)
        assert report["valid"] is False
        assert report["checks"]["proof"]["valid"] is True
        assert any("not a key of the issuer" in e for e in report["errors"])

    def test_a_context_that_is_not_shipped_is_reported_not_fetched(self):
        key = _key()
        secured = _secured(key)
        secured["@context"] = [*secured["@context"], "https://example.org/extra/v1"]
        report = _check(secured, key)
        assert report["valid"] is False
        assert any("cannot be canonicalised" in e for e in report["errors"]), report

    def test_validity_window(self):
        key = _key()
        secured = _secured(key, _credential(valid_until=NOW + timedelta(days=1)))
        assert _check(secured, key)["valid"] is True
        late = _check(secured, key, now=NOW + timedelta(days=2))
        assert late["valid"] is False
        assert late["checks"]["proof"]["valid"] is True
        assert any("validity" in e for e in late["errors"])
        early = _check(secured, key, now=NOW - timedelta(days=1))
        assert early["valid"] is False

    def test_only_an_ed25519_key_makes_the_proof(self):
        with pytest.raises(signing.SigningKeyError):
            dataintegrity.sign(_credential(), _key("ES256", "ti-p256"), f"{DID}#x", created=NOW)

    @pytest.mark.parametrize("document", [[], "text", {"proof": {}}])
    def test_what_is_no_credential_is_unparseable(self, document):
        with pytest.raises(vcld.UnparseableCredential):
            vcld.verify(document, lambda m: None, now=NOW)

    def test_nested_too_deep_is_unparseable(self):
        deep: dict[str, Any] = {"@context": documents.VC_V2}
        node = deep
        for _ in range(40):
            node["x"] = {}
            node = node["x"]
        with pytest.raises(vcld.UnparseableCredential):
            vcld.verify(deep, lambda m: None, now=NOW)


CONTEXTS_DIR = Path(documents.__file__).parent / "contexts"


def digital_bazaar(credential_file: Path, did_file: Path) -> subprocess.CompletedProcess[str]:
    """npm ``@digitalbazaar/vc`` + ``eddsa-rdfc-2022-cryptosuite`` (not ours), offline:
    its document loader serves only our shipped contexts and the saved DID document."""
    if shutil.which("node") is None or not (INTEROP / "node_modules" / "@digitalbazaar").is_dir():
        if os.environ.get("CI"):
            pytest.fail("tests/interop/node_modules is missing: .ci/run installs it (npm ci)")
        pytest.skip("npm @digitalbazaar/vc not installed (cd tests/interop && npm ci)")
    return subprocess.run(
        [
            "node",
            str(INTEROP / "verify_di.mjs"),
            str(credential_file),
            str(did_file),
            str(CONTEXTS_DIR),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


class TestInterop:
    def test_digital_bazaar_verifies_our_proof_offline_and_refuses_tampering(self, tmp_path):
        key, retired = _key(), _key(kid="ti-old", status=signing.RETIRED)
        did_file = tmp_path / "did.json"
        did_file.write_text(
            json.dumps(didweb.document(DID, _key_set(key, retired, _key("RS256", "ti-rsa"))))
        )
        cases = {"good": _secured(key), "retired": _secured(retired)}
        cases["document"] = TestProof()._tampered_document(cases["good"])
        created = copy.deepcopy(cases["good"])
        created["proof"]["created"] = "2020-01-01T00:00:00Z"
        cases["proof"] = created
        unknown = _secured(_key(kid="ti-unknown"))
        cases["unknown key"] = unknown
        for name, document in cases.items():
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(document, ensure_ascii=False))
            result = digital_bazaar(path, did_file)
            report = json.loads(result.stdout)
            expected = name in ("good", "retired")
            assert report["verified"] is expected, (name, result.stdout, result.stderr)
            assert result.returncode == (0 if expected else 1), name
            # Offline: nothing but our contexts and our DID document was asked for.
            assert set(report["loaded"]) <= {
                *documents.CONTEXTS,
                DID,
                f"{DID}#ti-ed25519",
                f"{DID}#ti-old",
                f"{DID}#ti-unknown",
            }


class TestOfflineKeys:
    def test_a_saved_jwks_resolves_the_method_by_its_kid(self):
        key = _key()
        secured = _secured(key)
        jwks = {"keys": [{**key.jwk(), "kid": f"{ISSUER}/.well-known/jwks/{key.kid}"}]}
        report = vcld.verify(secured, vcld.from_jwks(jwks), now=NOW)
        assert report["valid"] is True, report
        assert report["checks"]["issuer_key"]["status"] == "published"
        other = {"keys": [{**_key().jwk(), "kid": key.kid}]}
        assert vcld.verify(secured, vcld.from_jwks(other), now=NOW)["valid"] is False
        assert vcld.verify(secured, vcld.from_jwks({"keys": []}), now=NOW)["valid"] is False

    def test_a_did_document_of_someone_else_resolves_nothing(self):
        key = _key()
        secured = _secured(key)
        document = didweb.document("did:web:evil.example", _key_set(key))
        assert vcld.verify(secured, vcld.from_did_document(document), now=NOW)["valid"] is False
        # A method that is listed but not an assertion method does not count either.
        document = didweb.document(DID, _key_set(key))
        document["assertionMethod"] = []
        assert vcld.verify(secured, vcld.from_did_document(document), now=NOW)["valid"] is False


@pytest.mark.parametrize(
    "context",
    [
        7,
        [None],
        {"@import": "https://example.org/x"},
        {"@version": 9},
        [documents.VC_V2, {"type": {"@id": "@nope"}}],
        {"@vocab": 1},
        [documents.VC_V2, {"@protected": True, "id": "https://x/"}],
    ],
)
def test_odd_contexts_are_invalid_never_an_error(context):
    key = _key()
    secured = _secured(key)
    secured["@context"] = context
    report = _check(secured, key)
    assert report["valid"] is False
    assert report["errors"]


@pytest.mark.parametrize("size", [6, 9, 40])
def test_a_crafted_graph_is_refused_quickly_not_canonicalised_for_hours(size):
    """Indistinguishable blank nodes make RDFC-1.0 factorial: 8 of them took minutes."""
    nodes = [
        {
            "@id": f"_:b{i}",
            "https://example.org/p": [{"@id": f"_:b{j}"} for j in range(size) if j != i],
        }
        for i in range(size)
    ]
    started = time.monotonic()
    with pytest.raises(documents.TooComplexToCanonicalise):
        documents.canonize({"@context": documents.VC_V2, "@graph": nodes})
    assert time.monotonic() - started < documents.MAX_SECONDS + 1
    key = _key()
    secured = _secured(key)
    secured["credentialSubject"]["x"] = nodes
    report = _check(secured, key)
    assert report["valid"] is False
    assert any("too much work" in e for e in report["errors"]), report["errors"]
