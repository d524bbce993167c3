"""The hash chain: canonical content of an entry and its SHA-256 link to the previous one.

``hash = sha256(prev_hash_hex || "\\n" || canonical_json(content))``. The content is
every field that gives the entry its meaning (amounts as fixed two-decimal
strings, times as RFC 3339 with microseconds, UUIDs lower-case), serialised with
sorted keys and no whitespace, so the same entry always hashes the same on any
database and any machine.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import orjson

from creditbank.kit.credits import HUNDREDTH
from creditbank.ledger.models import LedgerEntry


def money(value: Decimal) -> str:
    """A credit amount as a fixed two-decimal string (``"6.00"``)."""
    return str(Decimal(value).quantize(HUNDREDTH))


def timestamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8: byte for byte what ``json.dumps(value,
    sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()`` gives for the
    content's strings, integers, nulls, lists and objects (tested), in C (a
    deposit hashes its entry on the rules worker's hot path)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def entry_content(entry: LedgerEntry | SimpleNamespace) -> dict[str, Any]:
    """The hashed content of an entry (everything but its own hash)."""
    return {
        "id": str(entry.id),
        "learner_id": str(entry.learner_id),
        "seq": entry.seq,
        "kind": entry.kind,
        "amount": money(entry.amount),
        "delta_available": money(entry.delta_available),
        "delta_converted": money(entry.delta_converted),
        "delta_expired": money(entry.delta_expired),
        "banked": money(entry.banked),
        "available": money(entry.available),
        "converted": money(entry.converted),
        "expired": money(entry.expired),
        "breakdown": entry.breakdown,
        "legs": entry.legs,
        "outcome_id": None if entry.outcome_id is None else str(entry.outcome_id),
        "unit_code": entry.unit_code,
        "rule_id": entry.rule_id,
        "rule_version": entry.rule_version,
        "standards_version": entry.standards_version,
        "statement_ids": list(entry.statement_ids),
        "conversion_id": None if entry.conversion_id is None else str(entry.conversion_id),
        "target": entry.target,
        "actor": entry.actor,
        "reason": entry.reason,
        "idempotency_key": entry.idempotency_key,
        "posted_at": timestamp(entry.posted_at),
    }


def entry_hash(entry: LedgerEntry | SimpleNamespace, prev_hash: str) -> str:
    """The entry's link: an ORM entry, or the column values of one about to be INSERTed."""
    digest = hashlib.sha256()
    digest.update(prev_hash.encode())
    digest.update(b"\n")
    digest.update(canonical_json(entry_content(entry)))
    return digest.hexdigest()
