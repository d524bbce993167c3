"""The Ed25519 key that signs ledger checkpoints (file in ``settings.key_dir``, with kid).

The file ``settings.ledger.checkpoint_key_file`` (mode ``0600``) holds every key by
id and the current one; retired keys stay so old checkpoints still verify. In development
and tests it is generated on first use; in production it must be provided.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from creditbank.config import Settings
from creditbank.kit.crypto import write_private_json


class CheckpointKeyError(RuntimeError):
    """The checkpoint signing key is missing or unreadable."""


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class CheckpointKeys:
    current: str
    private: dict[str, Ed25519PrivateKey]

    def sign(self, data: bytes) -> tuple[str, str]:
        """``(kid, base64url signature)`` of ``data`` with the current key."""
        return self.current, b64e(self.private[self.current].sign(data))

    def jwks(self) -> list[dict[str, Any]]:
        return [public_jwk(kid, key.public_key()) for kid, key in sorted(self.private.items())]


def public_jwk(kid: str, key: Ed25519PublicKey) -> dict[str, Any]:
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64e(raw),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    }


def verify_signature(jwk: dict[str, Any], data: bytes, signature: str) -> bool:
    """True when ``signature`` (base64url) is an Ed25519 signature of ``data`` by ``jwk``."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        return False
    try:
        Ed25519PublicKey.from_public_bytes(b64d(jwk["x"])).verify(b64d(signature), data)
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


def key_path(settings: Settings) -> Path:
    return settings.key_dir / settings.ledger.checkpoint_key_file


def load_keys(settings: Settings) -> CheckpointKeys:
    """The checkpoint keys; generated on first use outside production."""
    path = key_path(settings)
    if not path.exists():
        if settings.env == "prod":
            raise CheckpointKeyError(
                f"no ledger checkpoint key at {path} (production never generates one)"
            )
        kid = "ledger-" + secrets.token_hex(4)
        raw = Ed25519PrivateKey.generate().private_bytes_raw()
        write_private_json(path, {"current": kid, "keys": {kid: b64e(raw)}})
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        private = {
            kid: Ed25519PrivateKey.from_private_bytes(b64d(value))
            for kid, value in data["keys"].items()
        }
        current = data["current"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CheckpointKeyError(f"cannot read {path}: {exc}") from exc
    if current not in private:
        raise CheckpointKeyError(f"current key {current!r} is not in {path}")
    return CheckpointKeys(current=current, private=private)


def rotate(settings: Settings) -> str:
    """Add a new current key (old ones stay for verification); returns its kid."""
    keys = load_keys(settings)
    kid = "ledger-" + secrets.token_hex(4)
    stored = {k: b64e(v.private_bytes_raw()) for k, v in keys.private.items()}
    stored[kid] = b64e(Ed25519PrivateKey.generate().private_bytes_raw())
    write_private_json(key_path(settings), {"current": kid, "keys": stored})
    return kid
