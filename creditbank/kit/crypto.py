"""Field encryption at rest (AES-256-GCM keyring with key ids) and keyed blind indexes.

A ciphertext is the text ``v1.<kid>.<base64url(nonce || ciphertext+tag)>``. The key
id travels with every value, so after a rotation old values still decrypt with
their (now non-current) key and the re-encrypt command can find and upgrade them.
The *context* (for example ``"learners.national_id"``) is bound as associated data:
a value copied into another column does not decrypt there.

The blind index is HMAC-SHA256 under a separate key over a normalised value; it
allows exact lookups ("which learner has this national ID?") without decrypting,
and reveals nothing else. It is not rotated with the encryption keys (that would
need every plaintext); rotating it is a re-index.

Keys live in one JSON file (``0600``); in development and tests it is generated on
first use, in production the file must be provided (the server refuses to start).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from creditbank.config import Settings

VERSION = "v1"
NONCE_BYTES = 12


class KeyringError(RuntimeError):
    """Keys missing, unreadable, or a value that does not decrypt."""


def _b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Keyring:
    """AES-GCM keys by key id, the current id, and the blind-index key."""

    keys: dict[str, bytes]
    current: str
    index_key: bytes
    _ciphers: dict[str, AESGCM] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.current not in self.keys:
            raise KeyringError(f"current key {self.current!r} is not in the keyring")
        for kid, key in self.keys.items():
            if len(key) != 32:
                raise KeyringError(f"key {kid!r} is not 256 bits")
            self._ciphers[kid] = AESGCM(key)

    def encrypt(self, plaintext: str, *, context: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.current].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{self.current}.{_b64e(nonce + sealed)}"

    def decrypt(self, token: str, *, context: str) -> str:
        _version, kid, payload = self._split(token)
        cipher = self._ciphers.get(kid)
        if cipher is None:
            raise KeyringError(f"unknown key id {kid!r}")
        raw = _b64d(payload)
        try:
            plain = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode())
        except InvalidTag as exc:
            raise KeyringError("ciphertext does not authenticate") from exc
        return plain.decode()

    def encrypt_optional(self, plaintext: str | None, *, context: str) -> str | None:
        return None if plaintext is None else self.encrypt(plaintext, context=context)

    def decrypt_optional(self, token: str | None, *, context: str) -> str | None:
        return None if token is None else self.decrypt(token, context=context)

    def kid_of(self, token: str) -> str:
        return self._split(token)[1]

    def needs_reencrypt(self, token: str | None) -> bool:
        return token is not None and self.kid_of(token) != self.current

    def reencrypt(self, token: str, *, context: str) -> str:
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def blind_index(self, value: str, *, context: str) -> str:
        """Hex HMAC-SHA256 of the normalised value (strip + upper-case) under the index key."""
        normalised = value.strip().upper()
        message = f"{context}\x00{normalised}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()

    @staticmethod
    def _split(token: str) -> tuple[str, str, str]:
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != VERSION:
            raise KeyringError("not a creditbank ciphertext")
        return parts[0], parts[1], parts[2]


# -- files -----------------------------------------------------------------------------


def _new_kid(existing: dict[str, bytes] | dict[str, object]) -> str:
    while True:
        kid = "k" + secrets.token_hex(4)
        if kid not in existing:
            return kid


def write_private_json(path: Path, data: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def _read(path: Path) -> Keyring:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Keyring(
            keys={kid: _b64d(value) for kid, value in data["keys"].items()},
            current=data["current"],
            index_key=_b64d(data["index_key"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyringError(f"cannot read keyring {path}: {exc}") from exc


def create_keyring_file(path: Path) -> Keyring:
    """Write a fresh keyring (one key, a new index key) to ``path``."""
    kid = _new_kid({})
    key, index_key = AESGCM.generate_key(bit_length=256), secrets.token_bytes(32)
    write_private_json(
        path, {"current": kid, "keys": {kid: _b64e(key)}, "index_key": _b64e(index_key)}
    )
    return Keyring(keys={kid: key}, current=kid, index_key=index_key)


def rotate_keyring_file(path: Path) -> str:
    """Add a new current key; older keys stay for decryption. Returns the new key id."""
    ring = _read(path)
    kid = _new_kid(ring.keys)
    keys = {**{k: _b64e(v) for k, v in ring.keys.items()}, kid: _b64e(AESGCM.generate_key(256))}
    write_private_json(path, {"current": kid, "keys": keys, "index_key": _b64e(ring.index_key)})
    _cache.pop(path.resolve(), None)
    return kid


_cache: dict[Path, tuple[int, Keyring]] = {}
_lock = threading.Lock()


def load_keyring(path: Path, *, create: bool) -> Keyring:
    """The keyring at ``path`` (re-read when the file changes); created if allowed."""
    resolved = path.resolve()
    with _lock:
        try:
            mtime = resolved.stat().st_mtime_ns
        except FileNotFoundError:
            if not create:
                raise KeyringError(
                    f"no encryption keyring at {path} (create one with `creditbank keys init`)"
                ) from None
            create_keyring_file(resolved)
            mtime = resolved.stat().st_mtime_ns
        cached = _cache.get(resolved)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        ring = _read(resolved)
        _cache[resolved] = (mtime, ring)
        return ring


# -- settings --------------------------------------------------------------------------


def may_generate_keys(settings: Settings) -> bool:
    """Whether missing key files are generated (outside production unless configured)."""
    if settings.security.generate_missing_keys is not None:
        return settings.security.generate_missing_keys
    return settings.env != "prod"


def keyring_path(settings: Settings) -> Path:
    return settings.security.keyring_path or settings.key_dir / "keyring.json"


def keyring_for(settings: Settings) -> Keyring:
    """The field-encryption keyring of this deployment (it also seals signing keys)."""
    return load_keyring(keyring_path(settings), create=may_generate_keys(settings))
