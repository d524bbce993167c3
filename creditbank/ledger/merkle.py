"""Merkle trees over chain heads (RFC 6962 shape: 0x00 leaf / 0x01 node prefixes).

The tree of ``n`` leaves splits at the largest power of two below ``n``, so
inclusion proofs are the RFC 6962 audit paths and anyone can check them with a
few lines of code and SHA-256.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence


def leaf_bytes(learner_id: str, seq: int, head_hash: str) -> bytes:
    """The bytes of one leaf: a learner's chain head."""
    return f"{learner_id}:{seq}:{head_hash}".encode()


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _root(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_root(hashes[:k]), _root(hashes[k:]))


def root(leaves: Sequence[bytes]) -> str:
    """Hex root of the tree over ``leaves`` (raw leaf bytes); the empty tree is sha256("")."""
    if not leaves:
        return hashlib.sha256(b"").hexdigest()
    return _root([leaf_hash(leaf) for leaf in leaves]).hex()


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n == 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(index, hashes[:k]), _root(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _root(hashes[:k])]


def inclusion_proof(index: int, leaves: Sequence[bytes]) -> list[str]:
    """The audit path (hex, leaf to root) proving leaf ``index`` is in the tree."""
    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    return [h.hex() for h in _path(index, [leaf_hash(leaf) for leaf in leaves])]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[str], root_hex: str
) -> bool:
    """True when ``proof`` shows ``leaf`` at ``index`` of a tree of ``size`` with ``root_hex``."""
    if not 0 <= index < size:
        return False
    path = [bytes.fromhex(h) for h in proof]

    def walk(i: int, n: int, node: bytes, rest: list[bytes]) -> bytes | None:
        if n == 1:
            return node if not rest else None
        k = _split(n)
        if not rest:
            return None
        sibling = rest[-1]
        if i < k:
            sub = walk(i, k, node, rest[:-1])
            return None if sub is None else node_hash(sub, sibling)
        sub = walk(i - k, n - k, node, rest[:-1])
        return None if sub is None else node_hash(sibling, sub)

    computed = walk(index, size, leaf_hash(leaf), path)
    return computed is not None and computed.hex() == root_hex
