"""The ledger service: postings, balances and chain verification.

Every posting of a learner runs under the row lock of her chain head
(``ledger_heads``, ``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite write
transactions are serialised by ``BEGIN IMMEDIATE``), so her sequence stays
gapless and each entry links to the one before. Idempotency is a unique
``idempotency_key``: the service checks it after taking the lock, and the unique
constraint (inside a savepoint) catches any race the check could miss; the same
key always returns the entry first posted and never posts twice.

Figures: ``banked = available + converted``. Deposits raise banked and
available; a conversion moves credits from available to converted (banked
unchanged); an expiry moves what is still available to expired (leaving banked);
a reversal (revocation) removes whatever remains of an outcome; an adjustment
(operator only, with a reason) adds to or takes from available.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import NotFound
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.kit.credits import ZERO, parse_amount
from creditbank.kit.time import utc_now
from creditbank.ledger.chain import entry_hash, money
from creditbank.ledger.errors import (
    IdempotencyKeyReused,
    InsufficientCredits,
    InvalidAmount,
    LedgerConflict,
    NonPositiveAmount,
    OperatorOnly,
    OutcomeAlreadyDeposited,
    OutcomeNotInLedger,
    ReasonRequired,
)
from creditbank.ledger.models import (
    GENESIS_HASH,
    EntryKind,
    LedgerEntry,
    LedgerHead,
    LedgerPosition,
)
from creditbank.ledger.repository import LedgerRepository
from creditbank.ledger.schemas import (
    BalancesRead,
    BucketRead,
    ChainProblemRead,
    EntryRead,
    ExemptionRead,
    VerifyRead,
)

FIGURES = ("available", "converted", "expired")
NO_LEVEL = "none"
ADJUSTMENT_CATEGORY = "adjustment"
VERIFY_PAGE = 2000


def _credits(value: Decimal | int | str) -> Decimal:
    """A credit amount as a two-place Decimal; floats and sub-hundredths are refused."""
    try:
        return parse_amount(value)
    except (TypeError, ValueError) as exc:
        raise InvalidAmount(f"not a credit amount: {exc}") from exc


def _level_key(level: int | None) -> str:
    return NO_LEVEL if level is None else str(level)


@dataclass(frozen=True)
class Leg:
    """One outcome's share of an entry and its signed effect on the figures."""

    outcome_id: uuid.UUID | None
    unit_code: str | None
    category: str
    level: int | None
    amount: Decimal
    d_available: Decimal = ZERO
    d_converted: Decimal = ZERO
    d_expired: Decimal = ZERO

    def as_json(self) -> dict[str, Any]:
        return {
            "outcome_id": None if self.outcome_id is None else str(self.outcome_id),
            "unit_code": self.unit_code,
            "category": self.category,
            "level": self.level,
            "amount": money(self.amount),
            "available": money(self.d_available),
            "converted": money(self.d_converted),
            "expired": money(self.d_expired),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Leg:
        outcome = data.get("outcome_id")
        return cls(
            outcome_id=None if outcome is None else uuid.UUID(outcome),
            unit_code=data.get("unit_code"),
            category=data["category"],
            level=data.get("level"),
            amount=Decimal(data["amount"]),
            d_available=Decimal(data["available"]),
            d_converted=Decimal(data["converted"]),
            d_expired=Decimal(data["expired"]),
        )


@dataclass(frozen=True)
class Bucket:
    """Figures of one category or level (banked = available + converted)."""

    banked: Decimal
    available: Decimal
    converted: Decimal
    expired: Decimal


@dataclass(frozen=True)
class Balances:
    """A learner's figures after her last entry at or before ``as_of`` (now if None)."""

    learner_id: uuid.UUID
    as_of: datetime | None
    seq: int
    head_hash: str
    banked: Decimal
    available: Decimal
    converted: Decimal
    expired: Decimal
    by_category: dict[str, Bucket] = field(default_factory=dict)
    by_level: dict[str, Bucket] = field(default_factory=dict)


@dataclass(frozen=True)
class ChainProblem:
    """The first entry (or projection row) of a learner that does not check out."""

    learner_id: uuid.UUID
    seq: int | None
    entry_id: uuid.UUID | None
    reason: str


@dataclass
class VerifyReport:
    learners: int = 0
    entries: int = 0
    problems: list[ChainProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _empty_breakdown() -> dict[str, Any]:
    return {"category": {}, "level": {}}


def _copy_breakdown(breakdown: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``{axis: {key: {figure: text}}}`` to change (what deepcopy did, for this
    shape only, at a fraction of its cost)."""
    return {
        axis: {key: dict(figures) for key, figures in buckets.items()}
        for axis, buckets in breakdown.items()
    }


def _apply_breakdown(breakdown: dict[str, Any], legs: Iterable[Leg]) -> dict[str, Any]:
    result = _copy_breakdown(breakdown)
    for leg in legs:
        for axis, key in (("category", leg.category), ("level", _level_key(leg.level))):
            bucket = result[axis].setdefault(key, {name: money(ZERO) for name in FIGURES})
            bucket["available"] = money(Decimal(bucket["available"]) + leg.d_available)
            bucket["converted"] = money(Decimal(bucket["converted"]) + leg.d_converted)
            bucket["expired"] = money(Decimal(bucket["expired"]) + leg.d_expired)
    return result


def _buckets(axis: dict[str, dict[str, str]]) -> dict[str, Bucket]:
    out: dict[str, Bucket] = {}
    for key, figures in sorted(axis.items()):
        available, converted = Decimal(figures["available"]), Decimal(figures["converted"])
        out[key] = Bucket(
            banked=available + converted,
            available=available,
            converted=converted,
            expired=Decimal(figures["expired"]),
        )
    return out


@dataclass(frozen=True)
class Deposit:
    """One deposit of :meth:`LedgerService.deposit_many` (the fields of ``deposit``)."""

    learner_id: uuid.UUID
    outcome_id: uuid.UUID
    amount: Decimal
    category: str
    level: int | None
    unit_code: str
    rule_id: str
    rule_version: str
    standards_version: str
    statement_ids: list[str]
    actor: str
    idempotency_key: str


class LedgerService:
    """Postings and figures of every learner's credit account."""

    # -- postings ------------------------------------------------------------------------

    async def lock_account(self, session: AsyncSession, learner_id: uuid.UUID) -> None:
        """Hold the learner's posting lock (her chain head) until the transaction ends.

        For a caller whose decision depends on what she already has, e.g. a conversion
        approval checking the programme cap and the units already exempted: taken
        before those reads, it serialises the check-then-post with every other posting
        of hers, so two concurrent approvals cannot both pass a check that only one
        of them may (PostgreSQL, read committed: the reads after the lock see what
        the other committed; SQLite: ``BEGIN IMMEDIATE`` serialises writers anyway).
        """
        await LedgerRepository.from_session(session).lock_head(learner_id)

    async def deposit(
        self,
        session: AsyncSession,
        *,
        learner_id: uuid.UUID,
        outcome_id: uuid.UUID,
        amount: Decimal,
        category: str,
        level: int | None,
        unit_code: str,
        rule_id: str,
        rule_version: str,
        standards_version: str,
        statement_ids: list[str],
        actor: str,
        idempotency_key: str,
    ) -> LedgerEntry:
        """Credit a recognised outcome: banked and available rise by ``amount``."""
        amount = _credits(amount)
        if amount <= 0:
            raise NonPositiveAmount(f"a deposit must be more than zero credits, not {amount}")
        repo = LedgerRepository.from_session(session)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.DEPOSIT)
        if existing is not None:
            return existing
        head = await repo.lock_head(learner_id)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.DEPOSIT)
        if existing is not None:
            return existing
        if await repo.position(outcome_id) is not None:
            raise OutcomeAlreadyDeposited(f"outcome {outcome_id} is already in the ledger")
        leg = Leg(outcome_id, unit_code, category, level, amount, d_available=amount)
        position = LedgerPosition(
            outcome_id=outcome_id,
            learner_id=learner_id,
            unit_code=unit_code,
            category=category,
            level=level,
            deposited=amount,
            available=ZERO,
            converted=ZERO,
            expired=ZERO,
            reversed=ZERO,
        )
        return await self._post(
            session,
            repo,
            head,
            kind=EntryKind.DEPOSIT,
            legs=[leg],
            positions={outcome_id: position},
            new_position=position,
            unit_code=unit_code,
            rule_id=rule_id,
            rule_version=rule_version,
            standards_version=standards_version,
            statement_ids=list(statement_ids),
            actor=actor,
            idempotency_key=idempotency_key,
        )

    async def deposit_many(
        self, session: AsyncSession, deposits: Sequence[Deposit]
    ) -> list[uuid.UUID]:
        """Batch :meth:`deposit` (the rules worker's path): same checks, same chains.

        The learners' heads are locked in learner order, each learner's deposits are
        chained in the order given, and entries and positions are written with
        multi-row INSERTs. An idempotency key seen before returns the entry first
        posted (never posts twice). Returns the entries' ids in the order of ``deposits``.
        """
        if not deposits:
            return []
        amounts = [_credits(d.amount) for d in deposits]
        for deposit, amount in zip(deposits, amounts, strict=True):
            if amount <= 0:
                raise NonPositiveAmount(f"a deposit must be more than zero credits, not {amount}")
            if not deposit.idempotency_key:
                raise LedgerConflict("an idempotency key is required")
        repo = LedgerRepository.from_session(session)
        heads = await repo.lock_heads([d.learner_id for d in deposits])
        existing = await repo.by_idempotency_keys([d.idempotency_key for d in deposits])
        for deposit in deposits:
            found = existing.get(deposit.idempotency_key)
            if found is not None and (
                found.learner_id != deposit.learner_id or found.kind != EntryKind.DEPOSIT.value
            ):
                raise IdempotencyKeyReused(
                    f"idempotency key {deposit.idempotency_key!r} was used for another "
                    f"posting ({found.kind})"
                )
        fresh = [d for d in deposits if d.idempotency_key not in existing]
        taken = await repo.positions_of_outcomes([d.outcome_id for d in fresh])
        if taken or len({d.outcome_id for d in fresh}) != len(fresh):
            raise OutcomeAlreadyDeposited(
                f"outcomes already in the ledger: {sorted(str(o) for o in taken) or 'repeated'}"
            )
        last = await repo.entries_at_heads(list(heads.values()))
        state: dict[uuid.UUID, tuple[dict[str, Decimal], dict[str, Any], datetime | None]] = {}
        for learner_id, head in heads.items():
            prev = last.get(learner_id)
            if head.seq and prev is None:
                raise LedgerConflict(f"the chain head of learner {learner_id} has no entry")
            totals = {
                "available": prev.available if prev else ZERO,
                "converted": prev.converted if prev else ZERO,
                "expired": prev.expired if prev else ZERO,
            }
            state[learner_id] = (
                totals,
                prev.breakdown if prev else _empty_breakdown(),
                prev.posted_at if prev else None,
            )
        now = utc_now()
        entries: list[dict[str, Any]] = []
        position_rows: list[dict[str, Any]] = []
        by_key: dict[str, uuid.UUID] = {}
        # Each chain's last entry so far: (seq, hash, posted_at), the heads' new values.
        tips: dict[uuid.UUID, tuple[int, str, datetime]] = {}
        for deposit, amount in zip(deposits, amounts, strict=True):
            if deposit.idempotency_key in existing:
                continue
            head = heads[deposit.learner_id]
            seq, prev_hash, _ = tips.get(deposit.learner_id) or (head.seq, head.hash, None)
            totals, breakdown, last_posted = state[deposit.learner_id]
            leg = Leg(
                deposit.outcome_id,
                deposit.unit_code,
                deposit.category,
                deposit.level,
                amount,
                d_available=amount,
            )
            posted_at = max(now, last_posted) if last_posted else now
            available = totals["available"] + amount
            breakdown = _apply_breakdown(breakdown, [leg])
            # Column values, hashed and INSERTed as they are: no ORM object per entry.
            entry = SimpleNamespace(
                id=uuid.uuid4(),
                learner_id=deposit.learner_id,
                seq=seq + 1,
                kind=EntryKind.DEPOSIT.value,
                amount=amount,
                delta_available=amount,
                delta_converted=ZERO,
                delta_expired=ZERO,
                banked=available + totals["converted"],
                available=available,
                converted=totals["converted"],
                expired=totals["expired"],
                breakdown=breakdown,
                legs=[leg.as_json()],
                outcome_id=deposit.outcome_id,
                unit_code=deposit.unit_code,
                rule_id=deposit.rule_id,
                rule_version=deposit.rule_version,
                standards_version=deposit.standards_version,
                statement_ids=list(deposit.statement_ids),
                conversion_id=None,
                target=None,
                actor=deposit.actor,
                reason=None,
                idempotency_key=deposit.idempotency_key,
                posted_at=posted_at,
                prev_hash=prev_hash,
            )
            entry.hash = entry_hash(entry, prev_hash)
            entries.append(vars(entry))
            by_key[deposit.idempotency_key] = entry.id
            position_rows.append(
                {
                    "outcome_id": deposit.outcome_id,
                    "learner_id": deposit.learner_id,
                    "unit_code": deposit.unit_code,
                    "category": deposit.category,
                    "level": deposit.level,
                    "deposited": amount,
                    "available": amount,
                    "converted": ZERO,
                    "expired": ZERO,
                    "reversed": ZERO,
                    "updated_at": posted_at,
                }
            )
            totals = {**totals, "available": available}
            state[deposit.learner_id] = (totals, breakdown, posted_at)
            tips[deposit.learner_id] = (entry.seq, entry.hash, posted_at)
        await repo.insert_rows(entries, position_rows)
        await repo.advance_heads(list(heads.values()), tips=tips)
        await session.flush()
        return [by_key.get(d.idempotency_key) or existing[d.idempotency_key].id for d in deposits]

    async def expire_outcome(
        self,
        session: AsyncSession,
        *,
        learner_id: uuid.UUID,
        outcome_id: uuid.UUID,
        actor: str,
        idempotency_key: str,
    ) -> LedgerEntry | None:
        """Move what is still available of an outcome to expired; None if nothing is."""
        repo = LedgerRepository.from_session(session)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.EXPIRY)
        if existing is not None:
            return existing
        head = await repo.lock_head(learner_id)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.EXPIRY)
        if existing is not None:
            return existing
        position = await self._own_position(repo, learner_id, outcome_id)
        if position.available <= 0:
            return None
        rest = position.available
        leg = Leg(
            outcome_id,
            position.unit_code,
            position.category,
            position.level,
            rest,
            d_available=-rest,
            d_expired=rest,
        )
        deposit = await self._deposit_of(repo, outcome_id)
        return await self._post(
            session,
            repo,
            head,
            kind=EntryKind.EXPIRY,
            legs=[leg],
            positions={outcome_id: position},
            unit_code=position.unit_code,
            actor=actor,
            idempotency_key=idempotency_key,
            reason="validity period ended / 有效期已满",
            **self._provenance([deposit]),
        )

    async def reverse_outcome(
        self,
        session: AsyncSession,
        *,
        learner_id: uuid.UUID,
        outcome_id: uuid.UUID,
        reason: str,
        actor: str,
        idempotency_key: str,
    ) -> list[LedgerEntry]:
        """Reverse what remains of an outcome (revocation, a voided statement).

        Available, converted and expired remainders all go; banked falls by the
        available and converted parts. Nothing left (or never deposited): ``[]``.
        """
        if not reason or not reason.strip():
            raise ReasonRequired("a reversal needs a reason")
        repo = LedgerRepository.from_session(session)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.REVERSAL)
        if existing is not None:
            return [existing]
        head = await repo.lock_head(learner_id)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.REVERSAL)
        if existing is not None:
            return [existing]
        position = await repo.position(outcome_id)
        if position is None:
            return []
        if position.learner_id != learner_id:
            raise OutcomeNotInLedger(f"outcome {outcome_id} is not in this learner's ledger")
        rest = position.available + position.converted + position.expired
        if rest <= 0:
            return []
        leg = Leg(
            outcome_id,
            position.unit_code,
            position.category,
            position.level,
            rest,
            d_available=-position.available,
            d_converted=-position.converted,
            d_expired=-position.expired,
        )
        deposit = await self._deposit_of(repo, outcome_id)
        entry = await self._post(
            session,
            repo,
            head,
            kind=EntryKind.REVERSAL,
            legs=[leg],
            positions={outcome_id: position},
            unit_code=position.unit_code,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason.strip(),
            **self._provenance([deposit]),
        )
        return [entry]

    async def convert(
        self,
        session: AsyncSession,
        *,
        learner_id: uuid.UUID,
        conversion_id: uuid.UUID,
        outcome_ids: Sequence[uuid.UUID],
        target: dict[str, Any],
        rule_id: str,
        rule_version: str,
        standards_version: str,
        actor: str,
        idempotency_key: str,
    ) -> LedgerEntry:
        """Spend source outcomes on a conversion: their available credits become converted.

        Each outcome must be in this learner's ledger with all its credits still
        available (not converted, expired or reversed), else ``InsufficientCredits``.
        """
        if not outcome_ids:
            raise NonPositiveAmount("a conversion needs at least one source outcome")
        if len(set(outcome_ids)) != len(outcome_ids):
            raise LedgerConflict("a conversion names the same outcome twice")
        repo = LedgerRepository.from_session(session)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.CONVERSION)
        if existing is not None:
            return existing
        head = await repo.lock_head(learner_id)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.CONVERSION)
        if existing is not None:
            return existing
        positions: dict[uuid.UUID, LedgerPosition] = {}
        legs: list[Leg] = []
        for outcome_id in outcome_ids:
            position = await self._own_position(repo, learner_id, outcome_id)
            if not self.is_unspent(position):
                raise InsufficientCredits(
                    f"outcome {outcome_id} ({position.unit_code}) has no unspent credits: "
                    f"available {position.available} of {position.deposited}"
                )
            positions[outcome_id] = position
            legs.append(
                Leg(
                    outcome_id,
                    position.unit_code,
                    position.category,
                    position.level,
                    position.available,
                    d_available=-position.available,
                    d_converted=position.available,
                )
            )
        deposits = [await self._deposit_of(repo, o) for o in outcome_ids]
        provenance = self._provenance(deposits)
        return await self._post(
            session,
            repo,
            head,
            kind=EntryKind.CONVERSION,
            legs=legs,
            positions=positions,
            unit_code=legs[0].unit_code if len(legs) == 1 else None,
            rule_id=rule_id,
            rule_version=rule_version,
            standards_version=standards_version,
            statement_ids=provenance["statement_ids"],
            conversion_id=conversion_id,
            target=target,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    async def adjust(
        self,
        session: AsyncSession,
        *,
        principal: Principal,
        learner_id: uuid.UUID,
        amount: Decimal,
        reason: str,
        idempotency_key: str,
        category: str | None = None,
        level: int | None = None,
        outcome_id: uuid.UUID | None = None,
    ) -> LedgerEntry:
        """An operator's correction of available (and banked) credits, with a reason.

        ``amount`` is signed (never zero). With ``outcome_id`` the correction lands
        on that outcome's position; otherwise in ``category`` (default "adjustment").
        """
        if not authz.allowed(principal, "ledger.adjust"):
            raise OperatorOnly("only an operator may adjust a ledger / 仅管理员可调整账户")
        if not reason or not reason.strip():
            raise ReasonRequired("an adjustment needs a reason / 调整须说明理由")
        amount = _credits(amount)
        if amount == 0:
            raise NonPositiveAmount("an adjustment of zero credits means nothing")
        actor = f"operator:{principal.label or principal.id}"
        repo = LedgerRepository.from_session(session)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.ADJUSTMENT)
        if existing is not None:
            return existing
        head = await repo.lock_head(learner_id)
        existing = await self._replay(repo, idempotency_key, learner_id, EntryKind.ADJUSTMENT)
        if existing is not None:
            return existing
        positions: dict[uuid.UUID, LedgerPosition] = {}
        unit_code: str | None = None
        if outcome_id is not None:
            position = await self._own_position(repo, learner_id, outcome_id)
            positions[outcome_id] = position
            category, level, unit_code = position.category, position.level, position.unit_code
        elif amount < 0:
            # Credits not tied to an outcome can only take back what earlier adjustments
            # added; otherwise a later expiry or reversal could not be recorded.
            last = await repo.latest(learner_id)
            held = sum((p.available for p in await repo.positions(learner_id)), ZERO)
            loose = (last.available if last else ZERO) - held
            if loose + amount < 0:
                raise InsufficientCredits(
                    f"only {loose} credits are not tied to an outcome; name the outcome to "
                    "take credits from it / 请指明要调整的学习成果"
                )
        leg = Leg(
            outcome_id,
            unit_code,
            category or ADJUSTMENT_CATEGORY,
            level,
            abs(amount),
            d_available=amount,
        )
        return await self._post(
            session,
            repo,
            head,
            kind=EntryKind.ADJUSTMENT,
            legs=[leg],
            positions=positions,
            unit_code=unit_code,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason.strip(),
        )

    # -- reading -------------------------------------------------------------------------

    async def balances(
        self, session: AsyncSession, learner_id: uuid.UUID, *, as_of: datetime | None = None
    ) -> Balances:
        """Figures after the learner's last entry at or before ``as_of`` (one indexed row)."""
        last = await LedgerRepository.from_session(session).latest(learner_id, as_of=as_of)
        if last is None:
            return Balances(learner_id, as_of, 0, GENESIS_HASH, ZERO, ZERO, ZERO, ZERO)
        return Balances(
            learner_id=learner_id,
            as_of=as_of,
            seq=last.seq,
            head_hash=last.hash,
            banked=last.banked,
            available=last.available,
            converted=last.converted,
            expired=last.expired,
            by_category=_buckets(last.breakdown.get("category", {})),
            by_level=_buckets(last.breakdown.get("level", {})),
        )

    async def entries(
        self,
        session: AsyncSession,
        learner_id: uuid.UUID,
        *,
        after_seq: int = 0,
        limit: int = 100,
        kind: str | None = None,
    ) -> list[LedgerEntry]:
        return await LedgerRepository.from_session(session).entries(
            learner_id, after_seq=after_seq, limit=limit, kind=kind
        )

    async def entry(self, session: AsyncSession, entry_id: uuid.UUID) -> LedgerEntry | None:
        return await LedgerRepository.from_session(session).get(entry_id)

    async def positions(
        self,
        session: AsyncSession,
        learner_id: uuid.UUID,
        outcome_ids: Sequence[uuid.UUID] | None = None,
    ) -> list[LedgerPosition]:
        """What remains of each of the learner's outcomes."""
        return await LedgerRepository.from_session(session).positions(learner_id, outcome_ids)

    @staticmethod
    def is_unspent(position: LedgerPosition) -> bool:
        """Whether all of the outcome's deposit is still available (what a conversion uses)."""
        return position.available > 0 and position.available == position.deposited

    async def unspent_outcomes(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> frozenset[uuid.UUID]:
        """The learner's outcomes whose credits are all unspent (see :meth:`is_unspent`)."""
        positions = await self.positions(session, learner_id)
        return frozenset(p.outcome_id for p in positions if self.is_unspent(p))

    async def exemptions(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        """Target units the learner obtained by conversion (from her conversion entries)."""
        entries = await LedgerRepository.from_session(session).entries(
            learner_id, kind=EntryKind.CONVERSION.value
        )
        out: list[dict[str, Any]] = []
        for entry in entries:
            target = entry.target or {}
            for unit in target.get("units", []):
                out.append(
                    {
                        **unit,
                        "institution_key": target.get("institution_key"),
                        "programme": target.get("programme"),
                        "conversion_id": str(entry.conversion_id),
                        "rule_id": entry.rule_id,
                        "entry_id": str(entry.id),
                        "seq": entry.seq,
                    }
                )
        return out

    async def learner_ids(self, session: AsyncSession) -> list[uuid.UUID]:
        return await LedgerRepository.from_session(session).learner_ids()

    # -- a caller's view: the learner herself or the operator ------------------------------

    async def account(
        self,
        session: AsyncSession,
        principal: Principal,
        learner_id: uuid.UUID,
        *,
        as_of: datetime | None = None,
    ) -> BalancesRead:
        """Her figures as of a time, with the target units she obtained by conversion
        (those posted by then) and the credits they carry toward their targets."""
        authz.require_learner_access(principal, learner_id)
        figures = await self.balances(session, learner_id, as_of=as_of)
        exemptions = [
            e
            for e in await self.exemptions(session, learner_id)
            if as_of is None or e["seq"] <= figures.seq
        ]
        target = sum(
            (Decimal(e["credits"]) for e in exemptions if e.get("credits")), Decimal("0.00")
        )
        return BalancesRead(
            learner_id=figures.learner_id,
            as_of=figures.as_of,
            seq=figures.seq,
            head_hash=figures.head_hash,
            banked=figures.banked,
            available=figures.available,
            converted=figures.converted,
            expired=figures.expired,
            by_category={k: BucketRead(**vars(v)) for k, v in figures.by_category.items()},
            by_level={k: BucketRead(**vars(v)) for k, v in figures.by_level.items()},
            exemptions=[ExemptionRead.model_validate(e) for e in exemptions],
            target_credits=target,
        )

    async def exemptions_for(
        self, session: AsyncSession, principal: Principal, learner_id: uuid.UUID
    ) -> list[dict[str, Any]]:
        """:meth:`exemptions` (each target unit as converted, titles included), for her
        or the operator."""
        authz.require_learner_access(principal, learner_id)
        return await self.exemptions(session, learner_id)

    async def read_entries(
        self,
        session: AsyncSession,
        principal: Principal,
        learner_id: uuid.UUID,
        *,
        after_seq: int = 0,
        limit: int = 100,
        kind: str | None = None,
    ) -> list[LedgerEntry]:
        """Her entries in order (the learner herself or the operator)."""
        authz.require_learner_access(principal, learner_id)
        return await self.entries(session, learner_id, after_seq=after_seq, limit=limit, kind=kind)

    async def read_entry(
        self, session: AsyncSession, principal: Principal, entry_id: uuid.UUID
    ) -> LedgerEntry:
        """One entry, for its learner or the operator."""
        found = await self.entry(session, entry_id)
        if found is None:
            raise NotFound("no such ledger entry / 账目不存在", code="entry_not_found")
        authz.require_learner_access(principal, found.learner_id)
        return found

    async def verify_account(
        self, session: AsyncSession, principal: Principal, learner_id: uuid.UUID
    ) -> VerifyRead:
        """Re-compute her hash chain; names the first broken entry."""
        authz.require_learner_access(principal, learner_id)
        report = await self.verify(session, learner_id=learner_id)
        return VerifyRead(
            ok=report.ok,
            learners=report.learners,
            entries=report.entries,
            problems=[ChainProblemRead.model_validate(vars(p)) for p in report.problems],
        )

    # -- verification --------------------------------------------------------------------

    # -- the learner's data rights ---------------------------------------------------------

    async def export_learner_data(
        self, session: AsyncSession, learner_id: uuid.UUID
    ) -> dict[str, Any]:
        """Her section of the learner export: every entry (with its hashes) and position.

        Erasure keeps the ledger: it is append-only and hash-chained, and names only the
        learner id (docs/data-classification.md, "Erasure").
        """
        repo = LedgerRepository.from_session(session)
        entries = [
            EntryRead.model_validate(entry).model_dump(mode="json")
            for entry in await repo.entries(learner_id)
        ]
        positions = [
            {
                "outcome_id": str(position.outcome_id),
                "unit_code": position.unit_code,
                "category": position.category,
                "level": position.level,
                **{
                    name: money(getattr(position, name))
                    for name in ("deposited", "available", "converted", "expired", "reversed")
                },
            }
            for position in await repo.positions(learner_id)
        ]
        return {"entries": entries, "positions": positions}

    async def verify(
        self, session: AsyncSession, *, learner_id: uuid.UUID | None = None
    ) -> VerifyReport:
        """Re-compute every chain (or one learner's) and name the first broken entry of each.

        Checks: sequence gapless from 1; each ``prev_hash`` is the previous entry's
        hash; each hash re-computes; deltas are the sum of the legs; running totals
        and the category/level breakdown follow from the deltas; the head row and
        the outcome positions agree with the entries.
        """
        repo = LedgerRepository.from_session(session)
        learners = [learner_id] if learner_id is not None else await repo.learner_ids()
        report = VerifyReport()
        for learner in learners:
            report.learners += 1
            problem, count = await self._verify_learner(repo, learner)
            report.entries += count
            if problem is not None:
                report.problems.append(problem)
        return report

    async def _verify_learner(
        self, repo: LedgerRepository, learner_id: uuid.UUID
    ) -> tuple[ChainProblem | None, int]:
        prev_hash, expected_seq = GENESIS_HASH, 1
        totals = dict.fromkeys(FIGURES, ZERO)
        breakdown = _empty_breakdown()
        positions: dict[uuid.UUID, dict[str, Decimal]] = {}
        count, after = 0, 0

        def broken(entry: LedgerEntry, reason: str) -> tuple[ChainProblem, int]:
            return ChainProblem(learner_id, entry.seq, entry.id, reason), count

        while True:
            page = await repo.entries(learner_id, after_seq=after, limit=VERIFY_PAGE)
            if not page:
                break
            for entry in page:
                count += 1
                if entry.seq != expected_seq:
                    return broken(
                        entry, f"sequence gap: expected {expected_seq}, found {entry.seq}"
                    )
                if entry.prev_hash != prev_hash:
                    return broken(entry, "prev_hash does not match the previous entry's hash")
                if entry_hash(entry, prev_hash) != entry.hash:
                    return broken(entry, "hash does not match the entry's content")
                try:
                    legs = [Leg.from_json(leg) for leg in entry.legs]
                except (KeyError, ValueError, InvalidOperation, TypeError):
                    return broken(entry, "legs are malformed")
                sums = {
                    "available": sum((leg.d_available for leg in legs), ZERO),
                    "converted": sum((leg.d_converted for leg in legs), ZERO),
                    "expired": sum((leg.d_expired for leg in legs), ZERO),
                }
                if (sums["available"], sums["converted"], sums["expired"]) != (
                    entry.delta_available,
                    entry.delta_converted,
                    entry.delta_expired,
                ):
                    return broken(entry, "deltas are not the sum of the legs")
                if entry.amount != sum((leg.amount for leg in legs), ZERO):
                    return broken(entry, "amount is not the sum of the legs")
                for name in FIGURES:
                    totals[name] += sums[name]
                if (entry.available, entry.converted, entry.expired) != (
                    totals["available"],
                    totals["converted"],
                    totals["expired"],
                ) or entry.banked != totals["available"] + totals["converted"]:
                    return broken(entry, "running totals do not follow from the entries")
                breakdown = _apply_breakdown(breakdown, legs)
                if entry.breakdown != breakdown:
                    return broken(
                        entry, "category/level breakdown does not follow from the entries"
                    )
                for leg in legs:
                    if leg.outcome_id is None:
                        continue
                    pos = positions.setdefault(
                        leg.outcome_id,
                        {"deposited": ZERO, "reversed": ZERO, **dict.fromkeys(FIGURES, ZERO)},
                    )
                    if entry.kind == EntryKind.DEPOSIT:
                        pos["deposited"] += leg.amount
                    if entry.kind == EntryKind.REVERSAL:
                        pos["reversed"] += leg.amount
                    pos["available"] += leg.d_available
                    pos["converted"] += leg.d_converted
                    pos["expired"] += leg.d_expired
                prev_hash, expected_seq, after = entry.hash, entry.seq + 1, entry.seq
        head = await repo.head(learner_id)
        if count and (head is None or head.seq != expected_seq - 1 or head.hash != prev_hash):
            return ChainProblem(
                learner_id, None, None, "chain head row disagrees with the entries"
            ), count
        for position in await repo.positions(learner_id):
            expected = positions.pop(position.outcome_id, None)
            actual = {
                "deposited": position.deposited,
                "reversed": position.reversed,
                "available": position.available,
                "converted": position.converted,
                "expired": position.expired,
            }
            if expected != actual:
                return (
                    ChainProblem(
                        learner_id,
                        None,
                        None,
                        f"position of outcome {position.outcome_id} disagrees with the entries",
                    ),
                    count,
                )
        if positions:
            return ChainProblem(
                learner_id, None, None, "entries name outcomes with no position"
            ), count
        return None, count

    # -- internals -----------------------------------------------------------------------

    async def _replay(
        self, repo: LedgerRepository, key: str, learner_id: uuid.UUID, kind: EntryKind
    ) -> LedgerEntry | None:
        if not key:
            raise LedgerConflict("an idempotency key is required")
        existing = await repo.by_idempotency_key(key)
        if existing is None:
            return None
        if existing.learner_id != learner_id or existing.kind != kind.value:
            raise IdempotencyKeyReused(
                f"idempotency key {key!r} was used for another posting ({existing.kind})"
            )
        return existing

    async def _own_position(
        self, repo: LedgerRepository, learner_id: uuid.UUID, outcome_id: uuid.UUID
    ) -> LedgerPosition:
        position = await repo.position(outcome_id)
        if position is None or position.learner_id != learner_id:
            raise OutcomeNotInLedger(f"outcome {outcome_id} is not in this learner's ledger")
        return position

    async def _deposit_of(
        self, repo: LedgerRepository, outcome_id: uuid.UUID
    ) -> LedgerEntry | None:
        for entry in await repo.entries_for_outcome(outcome_id):
            if entry.kind == EntryKind.DEPOSIT:
                return entry
        return None

    @staticmethod
    def _provenance(deposits: Sequence[LedgerEntry | None]) -> dict[str, Any]:
        statement_ids: list[str] = []
        first = next((d for d in deposits if d is not None), None)
        for deposit in deposits:
            if deposit is not None:
                statement_ids += [s for s in deposit.statement_ids if s not in statement_ids]
        return {
            "rule_id": first.rule_id if first else None,
            "rule_version": first.rule_version if first else None,
            "standards_version": first.standards_version if first else None,
            "statement_ids": statement_ids,
        }

    async def _post(
        self,
        session: AsyncSession,
        repo: LedgerRepository,
        head: LedgerHead,
        *,
        kind: EntryKind,
        legs: list[Leg],
        positions: dict[uuid.UUID, LedgerPosition],
        actor: str,
        idempotency_key: str,
        new_position: LedgerPosition | None = None,
        unit_code: str | None = None,
        rule_id: str | None = None,
        rule_version: str | None = None,
        standards_version: str | None = None,
        statement_ids: list[str] | None = None,
        conversion_id: uuid.UUID | None = None,
        target: dict[str, Any] | None = None,
        reason: str | None = None,
    ) -> LedgerEntry:
        """Append one entry at the locked head and update the projections."""
        prev = await repo.at_seq(head.learner_id, head.seq) if head.seq else None
        totals = {
            "available": prev.available if prev else ZERO,
            "converted": prev.converted if prev else ZERO,
            "expired": prev.expired if prev else ZERO,
        }
        d_available = sum((leg.d_available for leg in legs), ZERO)
        d_converted = sum((leg.d_converted for leg in legs), ZERO)
        d_expired = sum((leg.d_expired for leg in legs), ZERO)
        available = totals["available"] + d_available
        converted = totals["converted"] + d_converted
        expired = totals["expired"] + d_expired
        if min(available, converted, expired) < 0:
            raise InsufficientCredits(
                f"the account has {totals['available']} credits available; "
                f"this {kind.value} would leave {available}"
            )
        for leg in legs:
            if leg.outcome_id is None or leg.outcome_id not in positions:
                continue
            pos = positions[leg.outcome_id]
            if pos.available + leg.d_available < 0:
                raise InsufficientCredits(
                    f"outcome {leg.outcome_id} has {pos.available} credits available"
                )
        now = utc_now()
        posted_at = max(now, prev.posted_at) if prev else now
        entry = LedgerEntry(
            id=uuid.uuid4(),
            learner_id=head.learner_id,
            seq=head.seq + 1,
            kind=kind.value,
            amount=sum((leg.amount for leg in legs), ZERO),
            delta_available=d_available,
            delta_converted=d_converted,
            delta_expired=d_expired,
            banked=available + converted,
            available=available,
            converted=converted,
            expired=expired,
            breakdown=_apply_breakdown(prev.breakdown if prev else _empty_breakdown(), legs),
            legs=[leg.as_json() for leg in legs],
            outcome_id=legs[0].outcome_id if legs else None,
            unit_code=unit_code,
            rule_id=rule_id,
            rule_version=rule_version,
            standards_version=standards_version,
            statement_ids=list(statement_ids or []),
            conversion_id=conversion_id,
            target=target,
            actor=actor,
            reason=reason,
            idempotency_key=idempotency_key,
            posted_at=posted_at,
            prev_hash=head.hash,
        )
        entry.hash = entry_hash(entry, head.hash)
        try:
            async with session.begin_nested():
                session.add(entry)
                if new_position is not None:
                    session.add(new_position)
                await session.flush()
                await repo.count_postings([entry.kind])
        except IntegrityError as exc:
            existing = await repo.by_idempotency_key(idempotency_key)
            if existing is not None and existing.learner_id == head.learner_id:
                return existing
            raise LedgerConflict(
                f"the posting conflicts with another one ({type(exc.orig).__name__})"
            ) from exc
        for leg in legs:
            if leg.outcome_id is None or leg.outcome_id not in positions:
                continue
            pos = positions[leg.outcome_id]
            pos.available = pos.available + leg.d_available
            pos.converted = pos.converted + leg.d_converted
            pos.expired = pos.expired + leg.d_expired
            if kind == EntryKind.REVERSAL:
                pos.reversed = pos.reversed + leg.amount
            pos.updated_at = posted_at
        head.seq, head.hash, head.updated_at = entry.seq, entry.hash, posted_at
        await session.flush()
        return entry


ledger = LedgerService()
