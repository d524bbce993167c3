"""The verify hot path (``POST /api/v1/verify``, ``creditbank bench transcripts``): the
issuer's public keys looked up by kid without re-reading the key set per request, and
the report as JSON without walking it in Python.

:class:`IssuerKeyCache` holds ``kid -> (public JWK, status)`` of one key file and looks
at the file again at most every ``ttl`` seconds (``signing.key_set`` re-reads it only
when its mtime changed), at once after this process changed a key file, and at once for
a kid it does not know, so a key created by another process (``creditbank keys
rotate``) verifies its first transcript. The loaded
public key objects are cached by :func:`creditbank.kit.signing.verify_with_jwk`.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from creditbank.config import Settings
from creditbank.kit import signing

#: How long a key set read stays trusted for known kids (a retirement shows after this).
TTL_SECONDS = 1.0


class IssuerKeyCache:
    def __init__(self, purpose: signing.Purpose, ttl: float = TTL_SECONDS) -> None:
        self.purpose = purpose
        self.ttl = ttl
        self._lock = threading.Lock()
        #: key file -> (monotonic time read, signing.generation() then,
        #:             kid -> (JWK, status) of the keys that verify)
        self._sets: dict[Path, tuple[float, int, dict[str, tuple[dict[str, Any], str]]]] = {}
        #: id(settings) -> (settings, its key_dir, the key file): a Path built and hashed
        #: once per settings object, not per lookup.
        self._paths: dict[int, tuple[Settings, Path, Path]] = {}

    def _path(self, settings: Settings) -> Path:
        key_dir = settings.key_dir
        found = self._paths.get(id(settings))
        if found is not None and found[0] is settings and found[1] is key_dir:
            return found[2]
        path = self.purpose.path(settings)
        with self._lock:
            if len(self._paths) >= 32:
                self._paths.clear()
            self._paths[id(settings)] = (settings, key_dir, path)
        return path

    def _load(self, settings: Settings, path: Path) -> dict[str, tuple[dict[str, Any], str]]:
        generation = signing.generation()
        keys = signing.key_set(settings, self.purpose)
        found = {kid: (k.jwk(), k.status) for kid, k in keys.keys.items() if keys.verifies(k)}
        with self._lock:
            self._sets[path] = (time.monotonic(), generation, found)
        return found

    def lookup(self, settings: Settings, kid: str) -> tuple[dict[str, Any], str] | None:
        """The public JWK (its ``kid`` the facility's, not the URL) and status of ``kid``."""
        path = self._path(settings)
        cached = self._sets.get(path)
        if (
            cached is None
            or cached[1] != signing.generation()  # this process rotated or retired
            or time.monotonic() - cached[0] > self.ttl  # another one may have
        ):
            return self._load(settings, path).get(kid)
        found = cached[2].get(kid)
        if found is None:  # perhaps created since: look once more, now
            found = self._load(settings, path).get(kid)
        return found

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self._paths.clear()


def _exact(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(format(value, "f"))
    raise TypeError(f"{type(value).__name__} is not JSON")


def report_json(report: dict[str, Any]) -> bytes:
    """The verification report as compact JSON, keys sorted, numbers of the credential
    exact (what ``canonical_json`` gives for it, in C)."""
    try:
        return orjson.dumps(report, default=_exact, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, lone surrogates: the slow, general way
        from creditbank.transcripts.vcjwt import canonical_json

        return canonical_json(report).encode()
