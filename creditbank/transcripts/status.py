"""Bitstring Status List v1.0 (W3C): revocation and suspension of transcripts and shares.

Allocation
    :func:`allocate_entries` gives a holder (a transcript, or a share of one) one
    ``BitstringStatusListEntry`` per purpose, ready for its ``credentialStatus``. It is
    the one call a share needs::

        entries = await status.allocate_entries(
            session, issuer=issuer_id(settings), transcript_id=t.id, share_id=share.id
        )
        credential["credentialStatus"] = entries

    Each index is drawn at random among the free indexes of the purpose's open list
    (so neighbouring indexes say nothing about issue order), is unique per list (a
    unique constraint, not a check-then-insert) and is never reused: entries are never
    deleted. A list holds :data:`LIST_SIZE` (131,072, the spec's minimum) entries; when
    it is full the next allocation opens a new list under a new random id.

Bits
    The bits are the entries whose ``is_set`` is true; a change flips entry rows and
    bumps the list's ``version``. :class:`Publisher` signs the list credential (VC-JWT,
    the transcript issuer key) once per version and serves it from memory until the
    version moves, so ``GET /status/{id}`` and the verifier in the API read one version
    number per request, not the bits. Revocation is final; suspension can be lifted.

Revoking outcomes
    :func:`on_events` listens (``creditbank.bootstrap``) to the rules context's
    ``outcome.revoked`` events (:mod:`creditbank.kit.events`): it runs in the
    transaction that reverses the ledger and, through :func:`outcomes_revoked`, sets
    the revocation bit of every transcript that contained the outcome and of those
    transcripts' shares. A superseded outcome (new standards) revokes nothing.

Checking
    :func:`check` verifies every ``credentialStatus`` entry of a credential against
    status list credentials given as VC-JWT text (fetched by the caller: from the
    database for the API, from ``--status FILE`` offline): each list's own signature,
    issuer, purpose, length and the bit. Never raises on bad input. A list whose own
    signature verified is remembered by its exact VC-JWT text (:class:`VerifiedLists`),
    so each list version's signature is verified once, not once per credential checked:
    a changed bit is a new version and so new text (verified afresh), a tampered list is
    other text (verified, and failing), and a remembered list is trusted only while the
    kid still resolves to the same key, within its own validity window and at most its
    ``ttl`` since it was verified.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import random
import re
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.errors import BadRequest
from creditbank.kit import events, signing
from creditbank.kit.time import utc_now
from creditbank.transcripts import vcjwt
from creditbank.transcripts.credential import VC_V2, issuer_profile
from creditbank.transcripts.models import StatusEntry, StatusList
from creditbank.transcripts.repository import StatusRepository

REVOCATION = "revocation"
SUSPENSION = "suspension"
PURPOSES: tuple[str, ...] = (REVOCATION, SUSPENSION)
#: Entries per list: the spec's minimum (16 KiB of bits), for group privacy.
LIST_SIZE = 131_072
STATUS_PATH = "/status/"
ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusListCredential"
#: Random probes before drawing from the list's free indexes explicitly.
_PROBES = 16
#: A decompressed list larger than this is refused (a GZIP bomb), 16 MiB = 2^27 entries.
MAX_LIST_BYTES = 16 * 1024 * 1024
_random = random.SystemRandom()


def list_url(issuer: str, list_id: str) -> str:
    """The ``statusListCredential`` URL of a list (``issuer`` is the bank's base URL)."""
    return f"{issuer}{STATUS_PATH}{list_id}"


def entry(issuer: str, list_id: str, index: int, purpose: str) -> dict[str, Any]:
    """A ``BitstringStatusListEntry`` (``statusListIndex`` as a string, as the spec says)."""
    url = list_url(issuer, list_id)
    return {
        "id": f"{url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": url,
    }


# -- allocation --------------------------------------------------------------------------


async def _open_list(repo: StatusRepository, purpose: str, now: datetime) -> StatusList:
    found = await repo.open_list(purpose)
    if found is not None:
        return found
    return await repo.add_list(
        StatusList(
            id=uuid.uuid4().hex,
            purpose=purpose,
            size=LIST_SIZE,
            allocated=0,
            version=0,
            created_at=now,
            changed_at=now,
        )
    )


async def _allocate(
    repo: StatusRepository,
    purpose: str,
    *,
    transcript_id: uuid.UUID,
    share_id: uuid.UUID | None,
    now: datetime,
) -> StatusEntry:
    while True:
        status_list = await _open_list(repo, purpose, now)
        candidates: Iterable[int] = (_random.randrange(status_list.size) for _ in range(_PROBES))
        for attempt, index in enumerate(candidates):
            if attempt == _PROBES - 1:
                # Crowded: draw among what is really free (at most one list's indexes).
                free = sorted(
                    set(range(status_list.size)) - await repo.taken_indexes(status_list.id)
                )
                if not free:
                    status_list.allocated = status_list.size
                    break
                index = _random.choice(free)
            elif await repo.index_taken(status_list.id, index):
                continue
            row = StatusEntry(
                list_id=status_list.id,
                index=index,
                purpose=purpose,
                transcript_id=transcript_id,
                share_id=share_id,
                is_set=False,
            )
            if await repo.try_add_entry(row):
                status_list.allocated += 1
                return row
        await repo.session.flush()


async def allocate_entries(
    session: AsyncSession,
    *,
    issuer: str,
    transcript_id: uuid.UUID,
    share_id: uuid.UUID | None = None,
    purposes: Sequence[str] = PURPOSES,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """One new status entry per purpose for a transcript (or for ``share_id``, a share of
    it); returns the ``credentialStatus`` entries, in ``purposes`` order. Never commits."""
    unknown = sorted(set(purposes) - set(PURPOSES))
    if unknown:
        raise ValueError(f"unknown status purposes {unknown}")
    repo = StatusRepository.from_session(session)
    moment = now or utc_now()
    out = []
    for purpose in purposes:
        row = await _allocate(
            repo, purpose, transcript_id=transcript_id, share_id=share_id, now=moment
        )
        out.append(entry(issuer, row.list_id, row.index, purpose))
    return out


# -- the bits ------------------------------------------------------------------------------


def encode(indexes: Iterable[int], size: int = LIST_SIZE) -> str:
    """``encodedList``: multibase base64url (``u``, no padding) of the GZIP of the bits;
    index 0 is the left-most (most significant) bit of the first byte."""
    bits = bytearray(size // 8)
    for index in indexes:
        bits[index // 8] |= 0x80 >> (index % 8)
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).rstrip(b"=").decode("ascii")


class EncodedListError(ValueError):
    """``encodedList`` is not multibase base64url GZIP of a bitstring."""


def decode(encoded: str) -> bytes:
    """The bitstring of an ``encodedList``; raises :class:`EncodedListError`."""
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise EncodedListError("encodedList is not multibase base64url (no 'u' prefix)")
    body = encoded[1:]
    if not re.fullmatch(r"[A-Za-z0-9_-]*", body):
        raise EncodedListError("encodedList is not base64url")
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        bits = inflater.decompress(compressed, MAX_LIST_BYTES + 1)
    except (binascii.Error, zlib.error) as exc:
        raise EncodedListError("encodedList is not GZIP") from exc
    if len(bits) > MAX_LIST_BYTES:
        raise EncodedListError(f"encodedList decompresses to more than {MAX_LIST_BYTES} bytes")
    if not inflater.eof:
        raise EncodedListError("encodedList is a truncated GZIP stream")
    return bits


def bit(bits: bytes, index: int) -> bool:
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


_DECODED: OrderedDict[str, bytes] = OrderedDict()
_DECODED_MAX = 64


def _decoded(encoded: str) -> bytes:
    """:func:`decode`, remembered for the last lists seen (verifying is then a lookup)."""
    found = _DECODED.get(encoded)
    if found is None:
        found = decode(encoded)
        _DECODED[encoded] = found
        if len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    else:
        _DECODED.move_to_end(encoded)
    return found


# -- publishing ----------------------------------------------------------------------------


def list_credential(
    *,
    issuer: str,
    list_id: str,
    purpose: str,
    encoded: str,
    ttl_seconds: int,
    at: datetime,
    issuer_did: str | None = None,
) -> dict[str, Any]:
    """The (unsigned) ``BitstringStatusListCredential`` of a list; its issuer is the
    transcripts' (the ``did:web`` when given, else the base URL)."""
    url = list_url(issuer, list_id)
    return {
        "@context": [VC_V2],
        "id": url,
        "type": ["VerifiableCredential", LIST_TYPE],
        "issuer": issuer_profile(issuer, issuer_did),
        "validFrom": vcjwt_time(at),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": purpose,
            "encodedList": encoded,
            "ttl": ttl_seconds * 1000,
        },
    }


def vcjwt_time(at: datetime) -> str:
    return at.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class SignedList:
    """A status list credential as published: its VC-JWT (``typ: JWT``), the same with
    ``typ: vc+jwt``, and the credential."""

    list_id: str
    version: int
    vc_jwt: str
    vc_jose: str
    credential: dict[str, Any]
    ttl_seconds: int


#: Who signs: () -> (the issuer's current key, its kid URL).
Signer = Callable[[], tuple[signing.SigningKey, str]]


class Publisher:
    """Signed status lists, re-signed only when a list's version moved."""

    def __init__(self) -> None:
        self._signed: dict[tuple[str, str | None, str], SignedList] = {}

    def forget(self) -> None:
        self._signed.clear()

    async def signed(
        self,
        session: AsyncSession,
        list_ids: Sequence[str],
        *,
        issuer: str,
        signer: Signer,
        ttl_seconds: int,
        issuer_did: str | None = None,
    ) -> dict[str, SignedList]:
        """The published form of each of ``list_ids`` that exists (one query when every
        list is signed at its current version already)."""
        repo = StatusRepository.from_session(session)
        versions = await repo.versions(list(list_ids))
        out: dict[str, SignedList] = {}
        for list_id, version in versions.items():
            key = (issuer, issuer_did, list_id)
            cached = self._signed.get(key)
            if cached is None or cached.version != version or cached.ttl_seconds != ttl_seconds:
                cached = await self._sign(repo, list_id, issuer, issuer_did, signer, ttl_seconds)
                if cached is None:
                    continue
                self._signed[key] = cached
            out[list_id] = cached
        return out

    async def _sign(
        self,
        repo: StatusRepository,
        list_id: str,
        issuer: str,
        issuer_did: str | None,
        signer: Signer,
        ttl: int,
    ) -> SignedList | None:
        status_list = await repo.get_list(list_id)
        if status_list is None:
            return None
        await repo.session.refresh(status_list)
        credential = list_credential(
            issuer=issuer,
            list_id=list_id,
            purpose=status_list.purpose,
            encoded=encode(await repo.set_indexes(list_id), status_list.size),
            ttl_seconds=ttl,
            at=status_list.changed_at,
            issuer_did=issuer_did,
        )
        key, kid = signer()
        return SignedList(
            list_id=list_id,
            version=status_list.version,
            vc_jwt=vcjwt.sign(credential, key, kid),
            vc_jose=vcjwt.sign(credential, key, kid, typ="vc+jwt"),
            credential=credential,
            ttl_seconds=ttl,
        )


publisher = Publisher()


def list_id_of(url: str, issuer: str) -> str | None:
    """The list id of one of the bank's own ``statusListCredential`` URLs, else None."""
    prefix = issuer + STATUS_PATH
    if not isinstance(url, str) or not url.startswith(prefix):
        return None
    rest = url[len(prefix) :]
    return rest if re.fullmatch(r"[0-9a-f]{1,32}", rest) else None


def referenced_lists(credential: Mapping[str, Any] | None) -> list[str]:
    """The ``statusListCredential`` URLs a credential names (unverified; for fetching)."""
    return sorted(
        {
            e["statusListCredential"]
            for e in _entries(credential)
            if isinstance(e.get("statusListCredential"), str)
        }
    )


def _entries(credential: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if not isinstance(credential, Mapping):
        return []
    raw = credential.get("credentialStatus")
    items = raw if isinstance(raw, list) else [raw] if raw is not None else []
    return [e if isinstance(e, dict) else {"_invalid": e} for e in items]


# -- changing the bits ---------------------------------------------------------------------


async def _set(
    session: AsyncSession, entries: Sequence[StatusEntry], *, value: bool, now: datetime
) -> list[StatusEntry]:
    changed = [e for e in entries if e.is_set != value]
    if value is False:
        changed = [e for e in changed if e.purpose != REVOCATION]  # revocation is final
    for row in changed:
        row.is_set = value
        row.changed_at = now
    await session.flush()
    await StatusRepository.from_session(session).bump([e.list_id for e in changed], now)
    return changed


async def set_transcript_status(
    session: AsyncSession,
    transcript_ids: Sequence[uuid.UUID],
    purpose: str,
    *,
    value: bool = True,
    now: datetime | None = None,
    except_shares: Collection[uuid.UUID] = (),
) -> int:
    """Set (or clear: suspension only) the ``purpose`` bit of these transcripts and of
    their shares but ``except_shares``; returns how many entries changed."""
    repo = StatusRepository.from_session(session)
    found = await repo.entries(transcript_ids=transcript_ids, purpose=purpose)
    found = [e for e in found if e.share_id is None or e.share_id not in except_shares]
    return len(await _set(session, found, value=value, now=now or utc_now()))


async def set_share_status(
    session: AsyncSession,
    share_id: uuid.UUID,
    purpose: str,
    *,
    value: bool = True,
    now: datetime | None = None,
) -> int:
    """Set (or clear: suspension only) the ``purpose`` bit of one share."""
    repo = StatusRepository.from_session(session)
    found = await repo.entries(share_id=share_id, purpose=purpose)
    return len(await _set(session, found, value=value, now=now or utc_now()))


async def share_statuses(session: AsyncSession, share_id: uuid.UUID) -> dict[str, bool]:
    """A share's own bits, by purpose (a purpose it has no entry for: absent)."""
    found = await StatusRepository.from_session(session).entries(share_id=share_id)
    out: dict[str, bool] = {}
    for row in found:
        out[row.purpose] = out.get(row.purpose, False) or row.is_set
    return out


async def statuses(session: AsyncSession, transcript_id: uuid.UUID) -> dict[str, bool]:
    """The transcript's own bits, by purpose (a purpose it has no entry for: absent)."""
    found = await StatusRepository.from_session(session).entries(
        transcript_ids=[transcript_id], own_only=True
    )
    out: dict[str, bool] = {}
    for row in found:
        out[row.purpose] = out.get(row.purpose, False) or row.is_set
    return out


async def link_outcomes(
    session: AsyncSession, transcript_id: uuid.UUID, outcome_ids: Sequence[uuid.UUID]
) -> None:
    """Record which outcomes a transcript contains (an indexed lookup on revocation)."""
    await StatusRepository.from_session(session).link_outcomes(transcript_id, outcome_ids)


async def outcomes_revoked(
    session: AsyncSession,
    *,
    outcome_ids: Sequence[uuid.UUID],
    reason: str,
    actor: str,
    now: datetime | None = None,
) -> list[uuid.UUID]:
    """Revoke every transcript containing one of ``outcome_ids`` (and its shares), in the
    caller's transaction; each revocation audited. Returns the transcripts revoked."""
    moment = now or utc_now()
    transcript_ids = await StatusRepository.from_session(session).transcripts_with(outcome_ids)
    revoked = []
    for transcript_id in transcript_ids:
        if await set_transcript_status(session, [transcript_id], REVOCATION, now=moment):
            revoked.append(transcript_id)
            await audit_service.record(
                session,
                actor=actor,
                action="transcript.revoke",
                object_type="transcript",
                object_id=transcript_id,
                detail={"reason": reason, "outcome_ids": sorted(str(o) for o in outcome_ids)},
            )
    return revoked


#: The rules context's status of an outcome revoked for good (not "superseded").
_OUTCOME_REVOKED = "revoked"


async def on_events(session: AsyncSession, found: Sequence[events.Event]) -> None:
    """The :mod:`creditbank.kit.events` listener: no query unless an outcome was revoked."""
    for event in found:
        if event.type != events.OUTCOME_REVOKED or event.data.get("status") != _OUTCOME_REVOKED:
            continue
        await outcomes_revoked(
            session,
            outcome_ids=[uuid.UUID(event.data["outcome_id"])],
            reason=str(event.data.get("reason", "outcome revoked")),
            actor="rules",
        )


# -- checking ------------------------------------------------------------------------------


#: A list's ``ttl`` when it states none (the spec's default: 300,000 ms).
DEFAULT_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class _Verified:
    kid: str
    jwk: dict[str, Any]
    payload: dict[str, Any]
    nbf: int
    exp: int | None
    until: float  # clock() time after which the signature is verified again


class VerifiedLists:
    """Status list credentials whose own signature verified, by their exact VC-JWT text
    (the last ``size`` seen; each remembered at most its ``ttl``)."""

    def __init__(self, size: int = 64, clock: Callable[[], float] = time.monotonic) -> None:
        self.size = size
        self.clock = clock
        self.hits = self.misses = 0
        self._lock = threading.Lock()
        self._found: OrderedDict[str, _Verified] = OrderedDict()

    def clear(self) -> None:
        with self._lock:
            self._found.clear()
            self.hits = self.misses = 0

    def lookup(
        self, token: str, resolve: vcjwt.KeyResolver, now: datetime
    ) -> dict[str, Any] | None:
        """The verified payload of ``token`` if it was verified before, its ``ttl`` has not
        run out, its kid still resolves to the key it verified with and ``now`` is within
        its validity window; else None (then verify it in full)."""
        found = self._found.get(token)
        if found is not None:
            moment = int(now.timestamp())
            resolved = resolve(found.kid)
            if (
                self.clock() < found.until
                and resolved is not None
                and resolved[0] == found.jwk
                and found.nbf <= moment + 60
                and (found.exp is None or moment < found.exp)
            ):
                self.hits += 1
                return found.payload
            with self._lock:
                self._found.pop(token, None)
        self.misses += 1
        return None

    def remember(self, token: str, report: dict[str, Any], resolve: vcjwt.KeyResolver) -> None:
        """Remember a list whose report is valid (signature, key, claims and window)."""
        payload = report["credential"]
        kid = report["checks"]["header"]["kid"]
        resolved = resolve(kid)
        if not report["valid"] or payload is None or resolved is None:
            return
        subject = payload.get("credentialSubject")
        ttl = subject.get("ttl") if isinstance(subject, dict) else None
        seconds = (
            ttl / 1000
            if isinstance(ttl, int | Decimal) and not isinstance(ttl, bool) and ttl > 0
            else DEFAULT_TTL_SECONDS
        )
        exp = payload.get("exp")
        entry_ = _Verified(
            kid=kid,
            jwk=resolved[0],
            payload=payload,
            nbf=payload["nbf"],
            exp=exp if isinstance(exp, int) else None,
            until=self.clock() + float(seconds),
        )
        with self._lock:
            self._found[token] = entry_
            self._found.move_to_end(token)
            while len(self._found) > self.size:
                self._found.popitem(last=False)


#: The process's verified status lists (``POST /api/v1/verify``, shares, the CLI).
verified_lists = VerifiedLists()


def _error(errors: list[str], message: str) -> None:
    errors.append(f"status: {message}")


def _check_list(
    token: str,
    entry_: dict[str, Any],
    *,
    issuer: Any,
    resolve: vcjwt.KeyResolver,
    now: datetime,
    errors: list[str],
    cache: VerifiedLists,
) -> tuple[bool, bytes | None]:
    """(the list's signature holds, its bits if the list is usable)."""
    url = entry_["statusListCredential"]
    payload = cache.lookup(token, resolve, now)
    if payload is None:
        try:
            report = vcjwt.verify(token, resolve, now=now)
        except BadRequest:
            _error(errors, f"status list {url} is not a VC-JWT")
            return False, None
        checks = report["checks"]
        if not checks["signature"]["valid"] or not checks["issuer_key"]["valid"]:
            _error(errors, f"status list {url} fails its own signature")
            for reason in report["errors"]:
                _error(errors, f"status list {url}: {reason}")
            return False, None
        if not report["valid"]:
            for reason in report["errors"]:
                _error(errors, f"status list {url}: {reason}")
            return True, None
        cache.remember(token, report, resolve)
        payload = report["credential"] or {}
    subject = payload.get("credentialSubject")
    types = payload.get("type")
    problems = []
    if payload.get("id") != url:
        problems.append(f"its id is {payload.get('id')!r}, not the entry's statusListCredential")
    if not isinstance(types, list) or LIST_TYPE not in types:
        problems.append(f"it is not a {LIST_TYPE}")
    if payload.get("iss") != issuer:
        problems.append(f"its issuer {payload.get('iss')!r} is not the credential's issuer")
    if not isinstance(subject, dict) or subject.get("type") != "BitstringStatusList":
        problems.append("its credentialSubject is not a BitstringStatusList")
        subject = {}
    if subject.get("statusPurpose") != entry_["statusPurpose"]:
        problems.append(
            f"its statusPurpose {subject.get('statusPurpose')!r} is not the entry's "
            f"{entry_['statusPurpose']!r}"
        )
    bits: bytes | None = None
    try:
        bits = _decoded(subject.get("encodedList"))  # type: ignore[arg-type]
    except EncodedListError as exc:
        problems.append(str(exc))
    if bits is not None and len(bits) * 8 < LIST_SIZE:
        problems.append(f"it has {len(bits) * 8} entries, fewer than {LIST_SIZE}")
        bits = None
    for problem in problems:
        _error(errors, f"status list {url}: {problem}")
    return True, bits if not problems else None


def check(
    credential: Mapping[str, Any] | None,
    *,
    lists: Mapping[str, str],
    resolve: vcjwt.KeyResolver,
    now: datetime,
    cache: VerifiedLists | None = None,
) -> dict[str, Any]:
    """The status part of a report: every ``credentialStatus`` entry of ``credential``
    against the status list credentials ``lists`` (URL -> VC-JWT text); ``cache`` (by
    default :data:`verified_lists`) remembers the lists whose signature verified.

    ``status`` is ``revoked`` when a revocation bit is set, else ``suspended`` when a
    suspension bit is, else ``valid``; ``unknown`` when an entry could not be checked.
    ``valid`` only when every entry was checked, every list's own signature holds and
    no bit is set.
    """
    errors: list[str] = []
    entries = _entries(credential)
    results = []
    checked = True
    revoked = suspended = False
    issuer = (credential or {}).get("iss") if isinstance(credential, Mapping) else None
    if issuer is None and isinstance(credential, Mapping):
        raw_issuer = credential.get("issuer")
        issuer = raw_issuer.get("id") if isinstance(raw_issuer, dict) else raw_issuer
    for e in entries:
        purpose, url = e.get("statusPurpose"), e.get("statusListCredential")
        raw_index = e.get("statusListIndex")
        result: dict[str, Any] = {"purpose": purpose, "index": raw_index, "list": url}
        results.append(result)
        if (
            e.get("type") != ENTRY_TYPE
            or purpose not in PURPOSES
            or not isinstance(url, str)
            or not isinstance(raw_index, str)
            or not raw_index.isdigit()
            or e.get("statusSize", 1) != 1
        ):
            _error(errors, f"an entry that is not a {ENTRY_TYPE} this bank understands: {e}")
            checked = False
            result["checked"] = False
            continue
        index = int(raw_index)
        token = lists.get(url)
        if token is None:
            _error(errors, f"status list {url} not available (offline: pass --status FILE)")
            checked = False
            result.update(checked=False, list_signature_valid=None)
            continue
        signature_ok, bits = _check_list(
            token,
            e,
            issuer=issuer,
            resolve=resolve,
            now=now,
            errors=errors,
            cache=verified_lists if cache is None else cache,
        )
        result["list_signature_valid"] = signature_ok
        if bits is None:
            checked = False
            result["checked"] = False
            continue
        if index >= len(bits) * 8:
            _error(errors, f"index {index} is outside status list {url}")
            checked = False
            result["checked"] = False
            continue
        result.update(checked=True, set=bit(bits, index))
        if result["set"]:
            _error(errors, f"the {purpose} bit is set ({url} index {index})")
            revoked = revoked or purpose == REVOCATION
            suspended = suspended or purpose == SUSPENSION
    status = (
        "revoked" if revoked else "suspended" if suspended else "valid" if checked else "unknown"
    )
    return {
        "valid": checked and not revoked and not suspended,
        "status": status,
        "entries": results,
        "errors": errors,
    }


def apply(report: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Fold a :func:`check` result into a verification report (``valid`` and ``errors``)."""
    report["checks"]["status"] = {k: v for k, v in result.items() if k != "errors"}
    report["status"] = result["status"]
    report["errors"] = [*report["errors"], *result["errors"]]
    report["valid"] = bool(report["valid"] and result["valid"])
    return report


def unchecked(report: dict[str, Any]) -> dict[str, Any]:
    """The status part of a report whose credential could not be trusted (bad signature)."""
    report["checks"]["status"] = {"valid": False, "status": "unknown", "entries": []}
    report["status"] = "unknown"
    report["valid"] = False
    return report


def lists_from_texts(texts: Iterable[str]) -> dict[str, str]:
    """URL -> VC-JWT of status list credentials given as text (``--status FILE``), each
    keyed by the ``id`` its payload claims (verified later by :func:`check`)."""
    out: dict[str, str] = {}
    for text in texts:
        token = text.strip()
        try:
            _, payload, _, _ = vcjwt.parse(token)
        except BadRequest:
            continue
        if isinstance(payload.get("id"), str):
            out[payload["id"]] = token
    return out
