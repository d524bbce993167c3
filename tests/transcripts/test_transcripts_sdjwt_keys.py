"""The transcript issuer's ES256 key for SD-JWT VCs: a companion of the VC-JWT key that
never becomes the key ``keys rotate`` (without an algorithm) rotates."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from creditbank.config import Settings
from creditbank.kit import signing
from creditbank.transcripts.keys import TRANSCRIPT_ISSUER


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(env="test", database_url="sqlite+aiosqlite://", key_dir=tmp_path / "keys")


def test_a_new_set_has_the_es256_companion_and_rsa_signs_by_default(settings: Settings):
    keys = signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    assert list(keys.current) == ["ES256", "RS256"]
    assert keys.current_key().alg == "RS256"
    rotated = signing.rotate(settings, TRANSCRIPT_ISSUER)
    assert signing.key_set(settings, TRANSCRIPT_ISSUER).keys[rotated].alg == "RS256"


def test_an_older_set_gets_its_es256_key_first_in_line(settings: Settings):
    path = TRANSCRIPT_ISSUER.path(settings)
    keys = signing.key_set(settings, TRANSCRIPT_ISSUER, create=True)
    data = json.loads(path.read_text())
    es = data["current"].pop("ES256")
    del data["keys"][es]
    path.write_text(json.dumps(data))
    assert "ES256" not in signing.key_set(settings, TRANSCRIPT_ISSUER).current
    with pytest.raises(signing.SigningKeyError, match="keys init"):
        signing.ensure_current(settings, TRANSCRIPT_ISSUER, "ES256", create=False)
    key = signing.ensure_current(settings, TRANSCRIPT_ISSUER, "ES256", create=True)
    assert key.alg == "ES256"
    again = signing.key_set(settings, TRANSCRIPT_ISSUER)
    assert list(again.current) == ["ES256", "RS256"]
    assert again.current["RS256"] == keys.current["RS256"]
    assert signing.ensure_current(settings, TRANSCRIPT_ISSUER, "ES256").kid == key.kid
