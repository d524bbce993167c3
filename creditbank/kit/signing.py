"""Signing keys: the one facility every signer of the bank uses.

Keys are grouped by *purpose* (access tokens, ledger checkpoints, later transcript
issuers), each purpose one key set in one file. A key has a ``kid``, a JOSE algorithm
(``EdDSA`` = Ed25519, ``ES256`` = P-256, ``RS256`` = RSA 3072 bits, more by
registration) and a status: ``active`` (verifies; the purpose's *current* key of an
algorithm also signs) or ``retired`` (its private part is destroyed, its public part
kept; whether it still verifies is the purpose's policy: old ledger checkpoints stay
verifiable, tokens of a retired access-token key are refused at once).

API (``settings`` is the deployment's :class:`~creditbank.config.Settings`)::

    from creditbank.kit import signing

    keys = signing.key_set(settings, signing.LEDGER_CHECKPOINTS)  # created outside prod
    kid, signature = keys.sign(data)               # the newest current key (any algorithm)
    kid, signature = keys.sign(data, algorithm="ES256")
    keys.verify(kid, data, signature)              # False on any mismatch, never raises
    keys.jwks()                                    # {"keys": [...]}: public JWKs with kid
    keys.get(kid).private_key                      # the algorithm's key object (PyJWT takes
                                                   # cryptography's for EdDSA/ES256/RS256)
    signing.rotate(settings, purpose, algorithm="ES256")  # new current key -> kid; it now
                                                   # signs by default (ES256 tokens, say)
    signing.retire(settings, purpose, kid)         # not the current key: rotate first
    signing.verify_with_jwk(jwk, data, signature)  # for outside auditors' key sets

A new purpose is a :class:`Purpose` passed to :func:`register_purpose` (the
``creditbank keys`` command line lists every registered purpose). A new algorithm
(for example SM2 with SM3, GM/T 0009, for transcripts) is a :class:`SigningAlgorithm`
subclass passed to :func:`register_algorithm`; nothing here changes.

File format (``0600``, JSON)::

    {"format": "creditbank.signing-keys/1", "purpose": "access-tokens",
     "current": {"EdDSA": "at-1a2b3c4d"},
     "keys": {"at-1a2b3c4d": {"alg": "EdDSA", "status": "active",
                              "created_at": "...Z", "retired_at": null,
                              "public_jwk": {...}, "private": "v1.<keyring kid>.<...>"}}}

``private`` is the PKCS#8 (or the algorithm's own) private key sealed with the
field-encryption keyring (:mod:`creditbank.kit.crypto`, associated data
``signing-key:<purpose>:<kid>``); it is ``null`` once the key is retired. Key files
of the earlier formats (the access-token and ledger-checkpoint files before this
facility) are converted once, in place, on first load.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from creditbank.config import Settings
from creditbank.kit.crypto import Keyring, KeyringError, keyring_for, may_generate_keys
from creditbank.kit.time import isoformat_z, utc_now

FORMAT = "creditbank.signing-keys/1"
ACTIVE = "active"
RETIRED = "retired"


class SigningKeyError(KeyringError):
    """Signing keys missing or unreadable, or an operation the key set refuses."""


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# -- algorithms ------------------------------------------------------------------------


class SigningAlgorithm(ABC):
    """One signature algorithm: key generation, (de)serialisation, JWK, sign, verify.

    Key objects are whatever the implementation uses (``cryptography`` keys for the
    built-in ones); the facility only passes them back to the same algorithm.
    """

    #: The JOSE ``alg`` name (RFC 7518 / 8037), or a registered name for others.
    name: str

    @abstractmethod
    def generate(self) -> Any: ...

    @abstractmethod
    def private_bytes(self, private_key: Any) -> bytes: ...

    @abstractmethod
    def load_private(self, data: bytes) -> Any: ...

    @abstractmethod
    def public_key(self, private_key: Any) -> Any: ...

    @abstractmethod
    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        """The JWK members of the public key (``kty``, ``crv``, ...), without ``kid``."""

    @abstractmethod
    def load_public_jwk(self, jwk: dict[str, Any]) -> Any:
        """The public key of ``jwk``; ``ValueError`` if it is not one of this algorithm."""

    @abstractmethod
    def sign(self, private_key: Any, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        """True for a valid signature; False otherwise (never raises for bad input)."""


def _pkcs8(private_key: Any) -> bytes:
    data: bytes = private_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return data


def _load_pkcs8(data: bytes, kind: type) -> Any:
    key = serialization.load_der_private_key(data, None)
    if not isinstance(key, kind):
        raise ValueError(f"not a {kind.__name__}")
    return key


class Ed25519Algorithm(SigningAlgorithm):
    name = "EdDSA"

    def generate(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.generate()

    def private_bytes(self, private_key: Any) -> bytes:
        return _pkcs8(private_key)

    def load_private(self, data: bytes) -> Ed25519PrivateKey:
        key: Ed25519PrivateKey = _load_pkcs8(data, Ed25519PrivateKey)
        return key

    def public_key(self, private_key: Any) -> Ed25519PublicKey:
        public: Ed25519PublicKey = private_key.public_key()
        return public

    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64e(raw)}

    def load_public_jwk(self, jwk: dict[str, Any]) -> Ed25519PublicKey:
        if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            raise ValueError("not an Ed25519 JWK")
        return Ed25519PublicKey.from_public_bytes(b64d(str(jwk["x"])))

    def sign(self, private_key: Any, data: bytes) -> bytes:
        signature: bytes = private_key.sign(data)
        return signature

    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, data)
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


class P256Algorithm(SigningAlgorithm):
    """ECDSA on P-256 with SHA-256; signatures are JOSE's fixed 64 bytes ``r || s``."""

    name = "ES256"
    _size = 32

    def generate(self) -> ec.EllipticCurvePrivateKey:
        return ec.generate_private_key(ec.SECP256R1())

    def private_bytes(self, private_key: Any) -> bytes:
        return _pkcs8(private_key)

    def load_private(self, data: bytes) -> ec.EllipticCurvePrivateKey:
        key: ec.EllipticCurvePrivateKey = _load_pkcs8(data, ec.EllipticCurvePrivateKey)
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError("not a P-256 key")
        return key

    def public_key(self, private_key: Any) -> ec.EllipticCurvePublicKey:
        public: ec.EllipticCurvePublicKey = private_key.public_key()
        return public

    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        numbers = public_key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64e(numbers.x.to_bytes(self._size, "big")),
            "y": b64e(numbers.y.to_bytes(self._size, "big")),
        }

    def load_public_jwk(self, jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise ValueError("not a P-256 JWK")
        x = int.from_bytes(b64d(str(jwk["x"])), "big")
        y = int.from_bytes(b64d(str(jwk["y"])), "big")
        return ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()

    def sign(self, private_key: Any, data: bytes) -> bytes:
        r, s = decode_dss_signature(private_key.sign(data, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(self._size, "big") + s.to_bytes(self._size, "big")

    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        if len(signature) != 2 * self._size:
            return False
        r = int.from_bytes(signature[: self._size], "big")
        s = int.from_bytes(signature[self._size :], "big")
        try:
            public_key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


class RS256Algorithm(SigningAlgorithm):
    """RSASSA-PKCS1-v1_5 with SHA-256; new keys have 3072 bits, shorter ones are refused."""

    name = "RS256"
    bits = 3072

    def generate(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=self.bits)

    def private_bytes(self, private_key: Any) -> bytes:
        return _pkcs8(private_key)

    def load_private(self, data: bytes) -> rsa.RSAPrivateKey:
        key: rsa.RSAPrivateKey = _load_pkcs8(data, rsa.RSAPrivateKey)
        if key.key_size < self.bits:
            raise ValueError(f"RSA key shorter than {self.bits} bits")
        return key

    def public_key(self, private_key: Any) -> rsa.RSAPublicKey:
        public: rsa.RSAPublicKey = private_key.public_key()
        return public

    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        numbers = public_key.public_numbers()
        n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
        e = numbers.e.to_bytes((numbers.e.bit_length() + 7) // 8, "big")
        return {"kty": "RSA", "n": b64e(n), "e": b64e(e)}

    def load_public_jwk(self, jwk: dict[str, Any]) -> rsa.RSAPublicKey:
        if jwk.get("kty") != "RSA":
            raise ValueError("not an RSA JWK")
        n = int.from_bytes(b64d(str(jwk["n"])), "big")
        e = int.from_bytes(b64d(str(jwk["e"])), "big")
        if n.bit_length() < self.bits:
            raise ValueError(f"RSA key shorter than {self.bits} bits")
        return rsa.RSAPublicNumbers(e, n).public_key()

    def sign(self, private_key: Any, data: bytes) -> bytes:
        signature: bytes = private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return signature

    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        try:
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
        except (InvalidSignature, ValueError, TypeError):
            return False
        return True


_ALGORITHMS: dict[str, SigningAlgorithm] = {}


def register_algorithm(algorithm: SigningAlgorithm) -> None:
    """Make ``algorithm`` available to every purpose (by its ``name``)."""
    _ALGORITHMS[algorithm.name] = algorithm


def algorithm(name: str) -> SigningAlgorithm:
    found = _ALGORITHMS.get(name)
    if found is None:
        raise SigningKeyError(f"unknown signing algorithm {name!r} (known: {algorithms()})")
    return found


def algorithms() -> list[str]:
    return sorted(_ALGORITHMS)


for _builtin in (Ed25519Algorithm(), P256Algorithm(), RS256Algorithm()):
    register_algorithm(_builtin)


# -- purposes --------------------------------------------------------------------------


def _in_key_dir(filename: str) -> Callable[[Settings], Path]:
    def path(settings: Settings) -> Path:
        return settings.key_dir / filename

    return path


@dataclass(frozen=True)
class Purpose:
    """What a key set signs, where it lives and how its retired keys behave."""

    name: str
    kid_prefix: str
    default_algorithm: str
    path: Callable[[Settings], Path]
    #: Whether a retired key's public part still verifies (old ledger checkpoints: yes).
    retired_verifies: bool
    #: Algorithms this purpose accepts (None: any registered one).
    allowed_algorithms: frozenset[str] | None = None
    description: str = ""
    #: Algorithms that always have a current key beside the default one (transcripts:
    #: ES256 for SD-JWT); created with the set or by :func:`ensure_current`, they never
    #: become the key that signs when no algorithm is named.
    companion_algorithms: tuple[str, ...] = ()

    def check_algorithm(self, name: str) -> SigningAlgorithm:
        if self.allowed_algorithms is not None and name not in self.allowed_algorithms:
            raise SigningKeyError(
                f"{self.name} keys cannot use {name!r} (allowed: {sorted(self.allowed_algorithms)})"
            )
        return algorithm(name)


ACCESS_TOKENS = Purpose(
    name="access-tokens",
    kid_prefix="at-",
    default_algorithm="EdDSA",
    path=lambda s: s.security.token_keys_path or s.key_dir / "access-token-keys.json",
    retired_verifies=False,
    # What PyJWT can sign a JWT with.
    allowed_algorithms=frozenset({"EdDSA", "ES256", "RS256"}),
    description="access tokens (JWT) of users and institution systems",
)
LEDGER_CHECKPOINTS = Purpose(
    name="ledger-checkpoints",
    kid_prefix="ledger-",
    default_algorithm="EdDSA",
    path=lambda s: s.key_dir / s.ledger.checkpoint_key_file,
    retired_verifies=True,
    description="signed ledger checkpoints (Merkle roots)",
)

_PURPOSES: dict[str, Purpose] = {}


def register_purpose(purpose: Purpose) -> None:
    _PURPOSES[purpose.name] = purpose


def purposes() -> list[Purpose]:
    return [_PURPOSES[name] for name in sorted(_PURPOSES)]


def purpose_named(name: str) -> Purpose:
    found = _PURPOSES.get(name)
    if found is None:
        raise SigningKeyError(f"unknown key purpose {name!r} (known: {sorted(_PURPOSES)})")
    return found


register_purpose(ACCESS_TOKENS)
register_purpose(LEDGER_CHECKPOINTS)


# -- key sets --------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningKey:
    """One key of a set; ``private_key`` is None once retired."""

    kid: str
    alg: str
    status: str
    created_at: str
    public_key: Any
    private_key: Any | None
    retired_at: str | None = None

    @property
    def algorithm(self) -> SigningAlgorithm:
        return algorithm(self.alg)

    def jwk(self) -> dict[str, Any]:
        return {
            **self.algorithm.public_jwk(self.public_key),
            "kid": self.kid,
            "use": "sig",
            "alg": self.alg,
        }


@dataclass(frozen=True)
class KeySet:
    """The keys of one purpose: which sign (``current``, one per algorithm, the newest
    rotation last: it signs when no algorithm is named), which verify."""

    purpose: Purpose
    current: dict[str, str]
    keys: dict[str, SigningKey] = field(default_factory=dict)

    def get(self, kid: str) -> SigningKey | None:
        return self.keys.get(kid)

    def current_key(self, algorithm: str | None = None) -> SigningKey:
        if algorithm is None and self.current:
            return self.keys[list(self.current.values())[-1]]
        alg = algorithm or self.purpose.default_algorithm
        kid = self.current.get(alg)
        if kid is None:
            raise SigningKeyError(
                f"no current {alg} key for {self.purpose.name} (create one with "
                f"`creditbank keys rotate --kind {self.purpose.name} --algorithm {alg}`)"
            )
        return self.keys[kid]

    def sign(self, data: bytes, *, algorithm: str | None = None) -> tuple[str, bytes]:
        """``(kid, signature)`` of ``data`` by the current key of ``algorithm`` (None: the
        newest current key)."""
        key = self.current_key(algorithm)
        return key.kid, key.algorithm.sign(key.private_key, data)

    def verifies(self, key: SigningKey) -> bool:
        """Whether ``key`` may verify under this purpose's policy."""
        return key.status == ACTIVE or self.purpose.retired_verifies

    def verify(self, kid: str, data: bytes, signature: bytes) -> bool:
        key = self.keys.get(kid)
        if key is None or not self.verifies(key):
            return False
        return key.algorithm.verify(key.public_key, data, signature)

    def jwks(self, *, include_retired: bool | None = None) -> dict[str, Any]:
        """The public keys as a JWK set (by default: those that verify for this purpose)."""
        keys = sorted(self.keys.values(), key=lambda k: k.kid)
        if include_retired is None:
            keys = [k for k in keys if self.verifies(k)]
        elif not include_retired:
            keys = [k for k in keys if k.status == ACTIVE]
        return {"keys": [k.jwk() for k in keys]}


#: Public keys loaded from JWKs, by their public members: a verifier sees the same few
#: keys again and again, and a loaded key object verifies faster than a fresh one.
_public_keys: dict[tuple[str, ...], Any] = {}
_PUBLIC_MEMBERS = ("kty", "crv", "n", "e", "x", "y")


def verify_with_jwk(jwk: dict[str, Any], data: bytes, signature: bytes) -> bool:
    """True when ``signature`` of ``data`` verifies with the public ``jwk`` (its ``alg``)."""
    try:
        algo = algorithm(str(jwk.get("alg")))
        ident = (algo.name, *(str(jwk.get(m)) for m in _PUBLIC_MEMBERS))
        public = _public_keys.get(ident)
        if public is None:
            public = algo.load_public_jwk(jwk)
            if len(_public_keys) >= 1024:
                _public_keys.clear()
            _public_keys[ident] = public
    except (SigningKeyError, ValueError, KeyError, TypeError):
        return False
    return algo.verify(public, data, signature)


# -- files -----------------------------------------------------------------------------


def _context(purpose: Purpose, kid: str) -> str:
    return f"signing-key:{purpose.name}:{kid}"


def _new_key(purpose: Purpose, alg: str, existing: dict[str, SigningKey]) -> SigningKey:
    algo = purpose.check_algorithm(alg)
    while True:
        kid = purpose.kid_prefix + secrets.token_hex(4)
        if kid not in existing:
            break
    private = algo.generate()
    return SigningKey(
        kid=kid,
        alg=alg,
        status=ACTIVE,
        created_at=isoformat_z(utc_now()),
        public_key=algo.public_key(private),
        private_key=private,
    )


def _dump(keys: KeySet, ring: Keyring) -> dict[str, Any]:
    stored: dict[str, Any] = {}
    for kid, key in sorted(keys.keys.items()):
        private = None
        if key.private_key is not None:
            sealed = b64e(key.algorithm.private_bytes(key.private_key))
            private = ring.encrypt(sealed, context=_context(keys.purpose, kid))
        stored[kid] = {
            "alg": key.alg,
            "status": key.status,
            "created_at": key.created_at,
            "retired_at": key.retired_at,
            "public_jwk": key.jwk(),
            "private": private,
        }
    return {
        "format": FORMAT,
        "purpose": keys.purpose.name,
        "current": keys.current,  # in rotation order: the last one signs by default
        "keys": stored,
    }


def _parse(purpose: Purpose, data: dict[str, Any], ring: Keyring) -> KeySet:
    keys: dict[str, SigningKey] = {}
    for kid, item in data["keys"].items():
        algo = algorithm(item["alg"])
        private = None
        if item.get("private") is not None:
            sealed = ring.decrypt(item["private"], context=_context(purpose, kid))
            private = algo.load_private(b64d(sealed))
        public = algo.public_key(private) if private is not None else None
        if public is None:
            public = algo.load_public_jwk(item["public_jwk"])
        status = item["status"]
        if status not in (ACTIVE, RETIRED) or (status == ACTIVE and private is None):
            raise ValueError(f"key {kid} has status {status!r} without its private part")
        keys[kid] = SigningKey(
            kid=kid,
            alg=item["alg"],
            status=status,
            created_at=item["created_at"],
            retired_at=item.get("retired_at"),
            public_key=public,
            private_key=private,
        )
    current = dict(data["current"])
    for alg, kid in current.items():
        if kid not in keys or keys[kid].status != ACTIVE or keys[kid].alg != alg:
            raise ValueError(f"the current {alg} key {kid!r} is missing or retired")
    return KeySet(purpose=purpose, current=current, keys=keys)


def _legacy(purpose: Purpose, data: dict[str, Any], path: Path) -> KeySet:
    """The key files written before this facility (both held clear Ed25519 keys).

    Access tokens: ``{"current", "keys": {kid: {"private_pem", "status", "created_at"}}}``;
    ledger checkpoints: ``{"current", "keys": {kid: base64url raw private key}}``.
    """
    algo = algorithm("EdDSA")
    found = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    keys: dict[str, SigningKey] = {}
    for kid, item in data["keys"].items():
        if isinstance(item, str):  # ledger checkpoints: every key still verifies
            private: Any = Ed25519PrivateKey.from_private_bytes(b64d(item))
            status, created_at = ACTIVE, isoformat_z(found)
        else:
            private = serialization.load_pem_private_key(item["private_pem"].encode(), None)
            if not isinstance(private, Ed25519PrivateKey):
                raise ValueError(f"key {kid} is not Ed25519")
            status, created_at = item["status"], item["created_at"]
        public = algo.public_key(private)
        retired = status == RETIRED
        keys[kid] = SigningKey(
            kid=kid,
            alg=algo.name,
            status=status,
            created_at=created_at,
            retired_at=isoformat_z(found) if retired else None,
            public_key=public,
            private_key=None if retired else private,
        )
    current = data["current"]
    if current not in keys or keys[current].status != ACTIVE:
        raise ValueError("the current key is missing or retired")
    return KeySet(purpose=purpose, current={algo.name: current}, keys=keys)


_generation = 0


def generation() -> int:
    """Changes whenever this process writes a key file (caches of keys compare it)."""
    return _generation


def _write(path: Path, keys: KeySet, ring: Keyring, *, exclusive: bool = False) -> bool:
    """Write atomically; with ``exclusive`` only if no file is there (False if one was)."""
    global _generation
    _generation += 1
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + f".{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(_dump(keys, ring), handle, indent=2)
    if not exclusive:
        os.replace(tmp, path)
        return True
    try:
        os.link(tmp, path)  # two processes creating at once: the first one wins
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


#: (path, purpose) -> (the file's identity when it was read, its keys).
_cache: dict[tuple[Path, str], tuple[tuple[int, int, int], KeySet]] = {}
_lock = threading.RLock()


def _identity(path: Path) -> tuple[int, int, int]:
    """Modification time, inode and size: every write replaces the file (a new inode),
    so a change shows even when two writes share a timestamp tick."""
    found = path.stat()
    return found.st_mtime_ns, found.st_ino, found.st_size


@contextmanager
def _changing(path: Path) -> Iterator[None]:
    """Hold the key file's lock (``<file>.lock``, ``flock``) while changing it.

    Changes are read-modify-write of the whole file. Without this lock two processes
    changing one set at once (two ``creditbank keys rotate``, or a server adding a key
    while an operator rotates) each wrote back what it had read plus its own key, and
    the other's new key was lost — after the server had signed transcripts with it.
    Under the lock each change reads the file afresh (:func:`_fresh`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _fresh(purpose: Purpose, path: Path, ring: Keyring) -> KeySet:
    """The key set as the file holds it now (not the cached copy); under :func:`_changing`."""
    identity = _identity(path)
    keys = _read(purpose, path, ring)
    _cache[(path, purpose.name)] = (identity, keys)
    return keys


def _read(purpose: Purpose, path: Path, ring: Keyring) -> KeySet:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("format") == FORMAT:
            if data.get("purpose") != purpose.name:
                raise ValueError(f"holds {data.get('purpose')!r} keys")
            return _parse(purpose, data, ring)
        if "format" in data:
            raise ValueError(f"unknown format {data['format']!r}")
        keys = _legacy(purpose, data, path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SigningKeyError(f"cannot read {purpose.name} signing keys {path}: {exc}") from exc
    _write(path, keys, ring)  # converted once: sealed with the keyring from now on
    return keys


def key_set(settings: Settings, purpose: Purpose, *, create: bool | None = None) -> KeySet:
    """The key set of ``purpose`` (re-read when its file changes).

    A missing file is created with one key of the default algorithm when ``create``
    (default: outside production, see ``security.generate_missing_keys``).
    """
    path = purpose.path(settings).resolve()
    may_create = may_generate_keys(settings) if create is None else create
    ring = keyring_for(settings)
    with _lock:
        if not path.exists():
            if not may_create:
                raise SigningKeyError(
                    f"no {purpose.name} signing keys at {path} (create them with "
                    f"`creditbank keys init` or `creditbank keys rotate --kind {purpose.name}`)"
                )
            first = _new_key(purpose, purpose.default_algorithm, {})
            made = {first.kid: first}
            current: dict[str, str] = {}
            for alg in purpose.companion_algorithms:
                if alg != first.alg:
                    companion = _new_key(purpose, alg, made)
                    made[companion.kid] = companion
                    current[alg] = companion.kid
            current[first.alg] = first.kid  # last: it signs when no algorithm is named
            _write(path, KeySet(purpose, current, made), ring, exclusive=True)
        # The file's identity is taken *before* reading it: taken after, a replacement
        # in between was cached as the old content under the new identity, and this
        # process never saw the new key (nor published it).
        identity = _identity(path)
        cached = _cache.get((path, purpose.name))
        if cached is not None and cached[0] == identity:
            return cached[1]
        keys = _read(purpose, path, ring)
        _cache[(path, purpose.name)] = (identity, keys)
        return keys


def rotate(
    settings: Settings,
    purpose: Purpose,
    *,
    algorithm: str | None = None,
    make_default: bool = True,
) -> str:
    """A new current key of ``algorithm`` (default: that of the key signing now), which
    signs from now on; the previous one stays active. Returns its kid.

    ``make_default=False`` adds it without making it the key that signs (and that a
    plain rotation renews) when no algorithm is named: a second algorithm of a purpose
    (the transcripts' Ed25519 Data Integrity key beside their RS256 VC-JWT key)."""
    path = purpose.path(settings).resolve()
    ring = keyring_for(settings)
    with _lock, _changing(path):
        if not path.exists():  # the command line's way to create a set explicitly
            keys = key_set(settings, purpose, create=True)
            if algorithm in (None, purpose.default_algorithm):
                return keys.current_key().kid
        keys = _fresh(purpose, path, ring)
        alg = algorithm or keys.current_key().alg
        new = _new_key(purpose, alg, keys.keys)
        current = {a: kid for a, kid in keys.current.items() if a != alg}
        if make_default or not current:
            current[alg] = new.kid
        else:
            current = {alg: new.kid, **current}
        _write(path, KeySet(purpose, current, {**keys.keys, new.kid: new}), ring)
        _cache.pop((path, purpose.name), None)
    return new.kid


def ensure_current(
    settings: Settings, purpose: Purpose, algorithm: str, *, create: bool | None = None
) -> SigningKey:
    """The current key of ``algorithm``; when there is none (and ``create``, default:
    outside production) a new one is added *first* in the rotation order, so it does
    not become the key that signs (or is rotated) when no algorithm is named."""
    keys = key_set(settings, purpose, create=create)
    if algorithm in keys.current:
        return keys.current_key(algorithm)
    if not (may_generate_keys(settings) if create is None else create):
        raise SigningKeyError(
            f"no current {algorithm} key for {purpose.name} (create one with "
            f"`creditbank keys init` or `creditbank keys rotate --kind {purpose.name} "
            f"--algorithm {algorithm}`)"
        )
    path = purpose.path(settings).resolve()
    ring = keyring_for(settings)
    with _lock, _changing(path):
        keys = _fresh(purpose, path, ring)
        if algorithm not in keys.current:
            new = _new_key(purpose, algorithm, keys.keys)
            current = {algorithm: new.kid, **keys.current}
            _write(path, KeySet(purpose, current, {**keys.keys, new.kid: new}), ring)
            _cache.pop((path, purpose.name), None)
            keys = key_set(settings, purpose, create=False)
    return keys.current_key(algorithm)


def retire(settings: Settings, purpose: Purpose, kid: str) -> None:
    """Destroy ``kid``'s private part (its public part stays); not a current key."""
    path = purpose.path(settings).resolve()
    ring = keyring_for(settings)
    with _lock, _changing(path):
        keys = _fresh(purpose, path, ring)
        key = keys.keys.get(kid)
        if key is None:
            raise SigningKeyError(f"no {purpose.name} key {kid!r}")
        if kid in keys.current.values():
            raise SigningKeyError("rotate first: the current key cannot be retired")
        if key.status == RETIRED:
            return
        retired = replace(key, status=RETIRED, private_key=None, retired_at=isoformat_z(utc_now()))
        _write(path, KeySet(purpose, keys.current, {**keys.keys, kid: retired}), ring)
        _cache.pop((path, purpose.name), None)


def describe(settings: Settings, purpose: Purpose) -> dict[str, Any]:
    """What ``creditbank keys list`` shows of a purpose (never a private part)."""
    keys = key_set(settings, purpose, create=False)
    by_algorithm: dict[str, dict[str, Any]] = {}
    for kid, k in sorted(keys.keys.items(), key=lambda item: item[1].created_at):
        entry = by_algorithm.setdefault(
            k.alg, {"current": keys.current.get(k.alg), "active": [], "retired": []}
        )
        entry["active" if k.status == ACTIVE else "retired"].append(kid)
    return {
        "path": str(purpose.path(settings)),
        "current": keys.current,
        "by_algorithm": by_algorithm,
        "keys": {
            kid: {
                "alg": k.alg,
                "status": k.status,
                "created_at": k.created_at,
                "retired_at": k.retired_at,
            }
            for kid, k in sorted(keys.keys.items())
        },
    }
