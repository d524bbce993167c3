"""Keyring (AES-GCM with key ids, rotation), blind index, national IDs, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from creditbank.errors import BadRequest
from creditbank.identity.classification import mask
from creditbank.identity.national_id import check_character, normalise_national_id
from creditbank.kit.crypto import KeyringError, load_keyring, rotate_keyring_file


class TestKeyring:
    def test_round_trip_with_kid_and_fresh_nonce(self, tmp_path: Path):
        ring = load_keyring(tmp_path / "k.json", create=True)
        a = ring.encrypt("420325198803150028", context="learners.national_id")
        b = ring.encrypt("420325198803150028", context="learners.national_id")
        assert a != b
        assert a.startswith(f"v1.{ring.current}.")
        assert "420325" not in a
        assert ring.decrypt(a, context="learners.national_id") == "420325198803150028"

    def test_context_is_bound(self, tmp_path: Path):
        ring = load_keyring(tmp_path / "k.json", create=True)
        token = ring.encrypt("李娜", context="learners.name")
        with pytest.raises(KeyringError):
            ring.decrypt(token, context="learners.email")

    def test_tampered_ciphertext_refused(self, tmp_path: Path):
        ring = load_keyring(tmp_path / "k.json", create=True)
        token = ring.encrypt("13800138000", context="learners.phone")
        tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
        with pytest.raises(KeyringError):
            ring.decrypt(tampered, context="learners.phone")

    def test_rotation_keeps_old_values_readable(self, tmp_path: Path):
        path = tmp_path / "k.json"
        ring = load_keyring(path, create=True)
        old = ring.encrypt("li.na@example.cn", context="learners.email")
        old_index = ring.blind_index("420325198803150028", context="n")
        new_kid = rotate_keyring_file(path)
        rotated = load_keyring(path, create=False)
        assert rotated.current == new_kid != ring.current
        assert rotated.decrypt(old, context="learners.email") == "li.na@example.cn"
        assert rotated.needs_reencrypt(old)
        fresh = rotated.reencrypt(old, context="learners.email")
        assert rotated.kid_of(fresh) == new_kid
        # The blind index key is not rotated with the encryption keys.
        assert rotated.blind_index("420325198803150028", context="n") == old_index

    def test_missing_keyring_refused_when_not_allowed_to_create(self, tmp_path: Path):
        with pytest.raises(KeyringError):
            load_keyring(tmp_path / "absent.json", create=False)

    def test_keyring_file_is_private(self, tmp_path: Path):
        path = tmp_path / "k.json"
        load_keyring(path, create=True)
        assert path.stat().st_mode & 0o077 == 0

    def test_blind_index_normalises_and_is_keyed(self, tmp_path: Path):
        one = load_keyring(tmp_path / "1.json", create=True)
        two = load_keyring(tmp_path / "2.json", create=True)
        assert one.blind_index(" 42032519880315002x ", context="c") == one.blind_index(
            "42032519880315002X", context="c"
        )
        assert one.blind_index("x", context="c") != two.blind_index("x", context="c")


class TestNationalId:
    def test_valid_numbers(self):
        assert normalise_national_id("420325198803150028") == "420325198803150028"
        assert check_character("11010519491231002") == "X"
        assert normalise_national_id("11010519491231002x") == "11010519491231002X"

    @pytest.mark.parametrize(
        "value",
        [
            "420325198803150027",  # check digit wrong
            "42032519880315002",  # too short
            "4203251988031500288",  # too long
            "42032519881315002X",  # month 13
            "A20325198803150028",  # letter
            "420325290003150020",  # born in the future
        ],
    )
    def test_malformed_numbers_refused(self, value: str):
        with pytest.raises(BadRequest) as info:
            normalise_national_id(value)
        assert info.value.code == "invalid_national_id"


class TestMasking:
    def test_masks(self):
        assert mask("name", "李娜") == "李*"
        assert mask("national_id", "420325198803150028") == "420***********0028"
        assert mask("phone", "13800138000") == "138****8000"
        assert mask("email", "li.na@example.cn") == "l***@example.cn"
        assert mask("phone", None) is None


class TestProductionKeys:
    def test_production_refuses_to_start_without_keys(self, tmp_path: Path):
        from api.app import create_app
        from creditbank.config import Settings

        settings = Settings(
            env="prod",
            secret_key="a-production-secret-key-of-enough-length-123",
            key_dir=tmp_path / "keys",
        )
        with pytest.raises(KeyringError, match="keyring"):
            create_app(settings)
        assert not (tmp_path / "keys").exists()

    def test_cli_initialises_and_rotates(self, tmp_path: Path):
        import json
        import os
        import subprocess
        import sys

        env = {
            **os.environ,
            "CREDITBANK_ENV": "prod",
            "CREDITBANK_SECRET_KEY": "a-production-secret-key-of-enough-length-123",
            "CREDITBANK_KEY_DIR": str(tmp_path / "keys"),
            "CREDITBANK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
        }

        def cli(*args: str) -> dict[str, object]:
            done = subprocess.run(
                [sys.executable, "-m", "creditbank.cli", *args],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            result: dict[str, object] = json.loads(done.stdout)
            return result

        created = cli("keys", "init")
        # The keyring and each signing purpose (access tokens, ledger checkpoints,
        # transcript issuer).
        assert len(created["created"]) == 4  # type: ignore[arg-type]
        listed = cli("keys", "list")
        first = listed["encryption"]["current"]  # type: ignore[index]
        ring = load_keyring(tmp_path / "keys" / "keyring.json", create=False)
        assert ring.current == first
