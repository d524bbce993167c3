"""SM2 signatures with the SM3 digest (GB/T 32918.2, GM/T 0003.2; GM/T 0009 signing with
the default user id), as one more algorithm of :mod:`creditbank.kit.signing`.

Importing this module registers the algorithm ``SM2`` (``creditbank keys rotate --kind
transcript-issuer --algorithm SM2``).

What is signed: for a message ``M`` (bytes) and the signer's public key ``(xA, yA)``::

    Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)   ENTL = 0x0080, ID = "1234567812345678"
    e = SM3(Z || M)

and ``(r, s)`` is the SM2 signature of ``e`` (GB/T 32918.2 section 6.1). The signature is
the 64 bytes ``r || s`` (each 32 bytes, big-endian); as text, 128 lower-case hex digits,
which is what sm-crypto's ``doVerifySignature(msg, sig, pub, {hash: true})`` and GmSSL's
``sm2verify`` take. The public JWK is ``{"kty": "EC", "crv": "SM2", "x", "y"}``
(base64url of the 32-byte coordinates, as for P-256).

Implementation: the curve arithmetic is PyPI ``gmssl`` (the most used pure-Python SM2;
``CryptSM2.sign``/``verify`` over ``e``); the digest is OpenSSL's SM3 through
``cryptography``, because gmssl's pure-Python SM3 takes ~50 ms for an 8 KB transcript.
Around gmssl we supply what it lacks: the nonce ``k`` from :mod:`secrets` (gmssl's own
comes from :mod:`random`), ``1 <= r, s < n`` and on-curve checks of public keys, and the
public key set after construction (gmssl's constructor ``lstrip("04")``s it, which
corrupts keys whose ``x`` starts with the hex digits 0 or 4). ``tests/transcripts``
checks our ``e`` against gmssl's own ``_sm3_z`` and ``tests/interop`` verifies with npm
``sm-crypto``.
"""

from __future__ import annotations

import secrets
from typing import Any

from cryptography.hazmat.primitives import hashes
from gmssl import sm2 as _gmssl

from creditbank.kit import signing

NAME = "SM2"
#: GM/T 0009 default signer identity (ENTL = 128 bits).
DEFAULT_USER_ID = b"1234567812345678"
_TABLE = _gmssl.default_ecc_table
P = int(_TABLE["p"], 16)
N = int(_TABLE["n"], 16)
A = int(_TABLE["a"], 16)
B = int(_TABLE["b"], 16)
_SIZE = 32
_G = bytes.fromhex(_TABLE["g"])


def sm3(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def _be(value: int) -> bytes:
    return value.to_bytes(_SIZE, "big")


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - (x * x * x + A * x + B)) % P == 0


class SM2PublicKey:
    """An SM2 public key: the point ``(x, y)``."""

    __slots__ = ("x", "y")

    def __init__(self, x: int, y: int) -> None:
        if not on_curve(x, y):
            raise ValueError("not a point of the SM2 curve")
        self.x, self.y = x, y

    def raw(self) -> bytes:
        """``xA || yA`` (64 bytes)."""
        return _be(self.x) + _be(self.y)

    def uncompressed_hex(self) -> str:
        """``04 || x || y`` as hex: what sm-crypto and GmSSL take as the public key."""
        return "04" + self.raw().hex()

    def digest(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """``e = SM3(Z || M)`` with ``Z`` of ``user_id`` and this key."""
        entl = (len(user_id) * 8).to_bytes(2, "big")
        z = sm3(entl + user_id + _be(A) + _be(B) + _G + self.raw())
        return sm3(z + message)

    def _crypt(self) -> Any:
        crypt = _gmssl.CryptSM2(private_key="", public_key="00")
        crypt.public_key = self.raw().hex()  # past the constructor's lstrip("04")
        return crypt


class SM2PrivateKey:
    """An SM2 private key ``d`` (``1 <= d < n - 1``) and its public key ``d·G``."""

    __slots__ = ("d", "public")

    def __init__(self, d: int) -> None:
        if not 1 <= d < N - 1:
            raise ValueError("SM2 private key out of range")
        self.d = d
        crypt = _gmssl.CryptSM2(private_key=f"{d:064x}", public_key="00")
        point = crypt._kg(d, _TABLE["g"])
        self.public = SM2PublicKey(int(point[:64], 16), int(point[64:128], 16))

    @classmethod
    def generate(cls) -> SM2PrivateKey:
        return cls(secrets.randbelow(N - 2) + 1)

    def sign(self, message: bytes, user_id: bytes = DEFAULT_USER_ID) -> bytes:
        """``r || s`` (64 bytes) of ``message``."""
        crypt = self.public._crypt()
        crypt.private_key = f"{self.d:064x}"
        e = self.public.digest(message, user_id)
        while True:
            k = secrets.randbelow(N - 1) + 1
            signature = crypt.sign(e, f"{k:064x}")
            if signature is not None:  # r = 0, r + k = n or s = 0: another k
                return bytes.fromhex(signature)


def verify(
    public: SM2PublicKey, message: bytes, signature: bytes, user_id: bytes = DEFAULT_USER_ID
) -> bool:
    if len(signature) != 2 * _SIZE:
        return False
    r = int.from_bytes(signature[:_SIZE], "big")
    s = int.from_bytes(signature[_SIZE:], "big")
    if not (1 <= r < N and 1 <= s < N):
        return False
    try:
        return bool(public._crypt().verify(signature.hex(), public.digest(message, user_id)))
    except (ValueError, TypeError, IndexError):
        return False


class SM2Algorithm(signing.SigningAlgorithm):
    """SM2 with SM3 and the default user id; signatures ``r || s`` (64 bytes)."""

    name = NAME

    def generate(self) -> SM2PrivateKey:
        return SM2PrivateKey.generate()

    def private_bytes(self, private_key: Any) -> bytes:
        return _be(private_key.d)

    def load_private(self, data: bytes) -> SM2PrivateKey:
        if len(data) != _SIZE:
            raise ValueError("an SM2 private key has 32 bytes")
        return SM2PrivateKey(int.from_bytes(data, "big"))

    def public_key(self, private_key: Any) -> SM2PublicKey:
        public: SM2PublicKey = private_key.public
        return public

    def public_jwk(self, public_key: Any) -> dict[str, Any]:
        return {
            "kty": "EC",
            "crv": "SM2",
            "x": signing.b64e(_be(public_key.x)),
            "y": signing.b64e(_be(public_key.y)),
        }

    def load_public_jwk(self, jwk: dict[str, Any]) -> SM2PublicKey:
        if jwk.get("kty") != "EC" or jwk.get("crv") != "SM2":
            raise ValueError("not an SM2 JWK")
        x, y = signing.b64d(str(jwk["x"])), signing.b64d(str(jwk["y"]))
        if len(x) != _SIZE or len(y) != _SIZE:
            raise ValueError("SM2 coordinates have 32 bytes")
        return SM2PublicKey(int.from_bytes(x, "big"), int.from_bytes(y, "big"))

    def sign(self, private_key: Any, data: bytes) -> bytes:
        signature: bytes = private_key.sign(data)
        return signature

    def verify(self, public_key: Any, data: bytes, signature: bytes) -> bool:
        return verify(public_key, data, signature)


signing.register_algorithm(SM2Algorithm())
