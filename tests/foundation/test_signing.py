"""The signing-key facility (creditbank.kit.signing): algorithms, rotation, retirement,
sealing at rest, JWKS, the one-time load of the earlier key files, registration."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed448 import Ed448PrivateKey, Ed448PublicKey

from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.kit.crypto import keyring_path, rotate_keyring_file, write_private_json
from creditbank.ledger.keys import load_keys, verify_signature

DATA = "the ledger's root / 账本根".encode()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", database_url="sqlite+aiosqlite://", key_dir=tmp_path / "keys")


def _file(settings: Settings, purpose: signing.Purpose) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(purpose.path(settings).read_text(encoding="utf-8"))
    return data


def _touch_later() -> None:
    time.sleep(0.01)  # a distinct file mtime for the re-read


@pytest.mark.parametrize("alg", ["EdDSA", "ES256", "RS256"])
def test_each_algorithm_signs_verifies_and_exports_its_jwk(settings: Settings, alg: str) -> None:
    purpose = signing.LEDGER_CHECKPOINTS
    kid = signing.rotate(settings, purpose, algorithm=alg)
    keys = signing.key_set(settings, purpose)
    signed_by, signature = keys.sign(DATA, algorithm=alg)
    assert signed_by == kid
    assert kid.startswith("ledger-")
    assert keys.verify(kid, DATA, signature)
    assert not keys.verify(kid, DATA + b"!", signature)
    jwk = next(k for k in keys.jwks()["keys"] if k["kid"] == kid)
    assert jwk["alg"] == alg
    assert jwk["use"] == "sig"
    assert "d" not in jwk
    assert "p" not in jwk
    assert signing.verify_with_jwk(jwk, DATA, signature)
    assert not signing.verify_with_jwk({**jwk, "alg": "HS256"}, DATA, signature)
    # The newest rotation signs by default; each algorithm keeps its own current key.
    assert keys.current_key().kid == kid
    assert keys.current_key("EdDSA").alg == "EdDSA"


def test_private_keys_are_sealed_with_the_keyring(settings: Settings) -> None:
    keys = signing.key_set(settings, signing.ACCESS_TOKENS)
    stored = _file(settings, signing.ACCESS_TOKENS)
    kid = keys.current_key().kid
    assert stored["format"] == signing.FORMAT
    assert stored["keys"][kid]["private"].startswith("v1.")
    raw = keys.current_key().algorithm.private_bytes(keys.current_key().private_key)
    text = signing.ACCESS_TOKENS.path(settings).read_text(encoding="utf-8")
    assert signing.b64e(raw) not in text
    assert "PRIVATE KEY" not in text
    assert oct(signing.ACCESS_TOKENS.path(settings).stat().st_mode & 0o777) == "0o600"
    # A keyring rotation keeps the old AES key: the sealed keys still open.
    _touch_later()
    rotate_keyring_file(keyring_path(settings))
    signing.rotate(settings, signing.ACCESS_TOKENS)
    reloaded = signing.key_set(settings, signing.ACCESS_TOKENS)
    assert reloaded.keys[kid].public_key is not None
    assert reloaded.verify(kid, DATA, keys.sign(DATA)[1])


def test_retired_keys_keep_only_their_public_part(settings: Settings) -> None:
    ledger, tokens = signing.LEDGER_CHECKPOINTS, signing.ACCESS_TOKENS
    for purpose in (ledger, tokens):
        old = signing.key_set(settings, purpose)
        old_kid, signature = old.sign(DATA)
        with pytest.raises(signing.SigningKeyError, match="rotate first"):
            signing.retire(settings, purpose, old_kid)
        _touch_later()
        new_kid = signing.rotate(settings, purpose)
        signing.retire(settings, purpose, old_kid)
        keys = signing.key_set(settings, purpose)
        assert keys.current_key().kid == new_kid
        assert keys.keys[old_kid].status == signing.RETIRED
        assert keys.keys[old_kid].private_key is None
        assert _file(settings, purpose)["keys"][old_kid]["private"] is None
        # Old checkpoints still verify; tokens of a retired key are refused.
        assert keys.verify(old_kid, DATA, signature) is (purpose is ledger)
        listed = [k["kid"] for k in keys.jwks()["keys"]]
        assert (old_kid in listed) is (purpose is ledger)
        assert old_kid in [k["kid"] for k in keys.jwks(include_retired=True)["keys"]]


def test_production_never_generates_keys(settings: Settings) -> None:
    signing.key_set(settings, signing.ACCESS_TOKENS)  # the keyring exists now
    prod = settings.model_copy(update={"env": "prod"})
    with pytest.raises(signing.SigningKeyError, match="creditbank keys init"):
        signing.key_set(prod, signing.LEDGER_CHECKPOINTS)
    assert not signing.LEDGER_CHECKPOINTS.path(settings).exists()


def test_short_rsa_keys_are_refused(settings: Settings) -> None:
    short = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**signing.algorithm("RS256").public_jwk(short.public_key()), "alg": "RS256"}
    signature = signing.algorithm("RS256").sign(short, DATA)
    assert not signing.verify_with_jwk(jwk, DATA, signature)


def test_earlier_key_files_are_converted_once(settings: Settings) -> None:
    """The two formats before the facility: access tokens (PEM, statuses) and ledger
    checkpoints (raw base64url). Their keys keep their ids and keep verifying."""
    ed = signing.algorithm("EdDSA")
    token_key, retired_key, ledger_old, ledger_current = (ed.generate() for _ in range(4))
    pem = token_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    retired_pem = retired_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    write_private_json(
        signing.ACCESS_TOKENS.path(settings),
        {
            "current": "at-00000001",
            "keys": {
                "at-00000001": {"private_pem": pem, "status": "active", "created_at": "2026-01-01"},
                "at-00000000": {
                    "private_pem": retired_pem,
                    "status": "retired",
                    "created_at": "2025-01-01",
                },
            },
        },
    )
    write_private_json(
        signing.LEDGER_CHECKPOINTS.path(settings),
        {
            "current": "ledger-00000002",
            "keys": {
                "ledger-00000001": signing.b64e(ledger_old.private_bytes_raw()),
                "ledger-00000002": signing.b64e(ledger_current.private_bytes_raw()),
            },
        },
    )
    tokens = signing.key_set(settings, signing.ACCESS_TOKENS)
    assert tokens.current == {"EdDSA": "at-00000001"}
    assert tokens.keys["at-00000000"].status == signing.RETIRED
    assert tokens.verify("at-00000001", DATA, token_key.sign(DATA))
    assert not tokens.verify("at-00000000", DATA, retired_key.sign(DATA))
    assert "PRIVATE KEY" not in signing.ACCESS_TOKENS.path(settings).read_text(encoding="utf-8")
    assert _file(settings, signing.ACCESS_TOKENS)["format"] == signing.FORMAT

    ledger = load_keys(settings)
    assert ledger.current == "ledger-00000002"
    old_signature = signing.b64e(ledger_old.sign(DATA))
    jwk = next(k for k in ledger.jwks() if k["kid"] == "ledger-00000001")
    assert verify_signature(jwk, DATA, old_signature)
    kid, signature = ledger.sign(DATA)
    assert kid == "ledger-00000002"
    assert verify_signature(next(k for k in ledger.jwks() if k["kid"] == kid), DATA, signature)
    assert _file(settings, signing.LEDGER_CHECKPOINTS)["format"] == signing.FORMAT


class _Ed448(signing.SigningAlgorithm):
    """A stand-in for an algorithm another context registers (as transcripts will SM2)."""

    name = "Ed448-test"

    def generate(self) -> Ed448PrivateKey:
        return Ed448PrivateKey.generate()

    def private_bytes(self, private_key: Any) -> bytes:
        raw: bytes = private_key.private_bytes_raw()
        return raw

    def load_private(self, data: bytes) -> Ed448PrivateKey:
        return Ed448PrivateKey.from_private_bytes(data)

    def public_key(self, private_key: Any) -> Ed448PublicKey:
        public: Ed448PublicKey = private_key.public_key()
        return public

    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        return {"kty": "OKP", "crv": "Ed448", "x": signing.b64e(public_key.public_bytes_raw())}

    def load_public_jwk(self, jwk: dict[str, Any]) -> Ed448PublicKey:
        return Ed448PublicKey.from_public_bytes(signing.b64d(jwk["x"]))

    def sign(self, private_key: Any, data: bytes) -> bytes:
        signature: bytes = private_key.sign(data)
        return signature

    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, data)
        except Exception:
            return False
        return True


def test_a_registered_algorithm_and_purpose_need_no_change_here(settings: Settings) -> None:
    signing.register_algorithm(_Ed448())
    purpose = signing.Purpose(
        name="test-issuers",
        kid_prefix="ti-",
        default_algorithm="Ed448-test",
        path=lambda s: s.key_dir / "test-issuer-keys.json",
        retired_verifies=True,
    )
    signing.register_purpose(purpose)
    try:
        keys = signing.key_set(settings, purpose)
        kid, signature = keys.sign(DATA)
        assert kid.startswith("ti-")
        assert keys.verify(kid, DATA, signature)
        jwk = keys.jwks()["keys"][0]
        assert jwk["alg"] == "Ed448-test"
        assert signing.verify_with_jwk(jwk, DATA, signature)
        assert purpose in signing.purposes()
        with pytest.raises(signing.SigningKeyError, match="cannot use"):
            signing.rotate(settings, signing.ACCESS_TOKENS, algorithm="Ed448-test")
    finally:
        signing._PURPOSES.pop(purpose.name)  # other tests see the built-in purposes only
