"""The keys that sign ledger checkpoints: the ``LEDGER_CHECKPOINTS`` key set of
:mod:`creditbank.kit.signing` (Ed25519 by default, with ``kid``; retired keys keep
verifying old checkpoints). Signatures travel as base64url text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from creditbank.config import Settings
from creditbank.kit import signing


@dataclass(frozen=True)
class CheckpointKeys:
    keys: signing.KeySet

    @property
    def current(self) -> str:
        return self.keys.current_key().kid

    def sign(self, data: bytes) -> tuple[str, str]:
        """``(kid, base64url signature)`` of ``data`` with the current key."""
        kid, signature = self.keys.sign(data)
        return kid, signing.b64e(signature)

    def jwks(self) -> list[dict[str, Any]]:
        """Every key that verifies checkpoints (retired ones included), as public JWKs."""
        keys: list[dict[str, Any]] = self.keys.jwks()["keys"]
        return keys


def verify_signature(jwk: dict[str, Any], data: bytes, signature: str) -> bool:
    """True when ``signature`` (base64url) of ``data`` verifies with the public ``jwk``."""
    try:
        raw = signing.b64d(signature)
    except ValueError:
        return False
    return signing.verify_with_jwk(jwk, data, raw)


def load_keys(settings: Settings) -> CheckpointKeys:
    """The checkpoint keys; generated on first use outside production."""
    return CheckpointKeys(signing.key_set(settings, signing.LEDGER_CHECKPOINTS))


def rotate(settings: Settings) -> str:
    """Add a new current key (old ones stay for verification); returns its kid."""
    return signing.rotate(settings, signing.LEDGER_CHECKPOINTS)
