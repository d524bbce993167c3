"""Ledger errors: each names the invariant a posting would break."""

from __future__ import annotations

from creditbank.errors import BadRequest, Conflict, Forbidden, NotFound


class NonPositiveAmount(BadRequest):
    """Credits posted must be more than zero (the direction is the entry's kind)."""

    code = "non_positive_credits"


class InvalidAmount(BadRequest):
    code = "invalid_credits"


class OutcomeAlreadyDeposited(Conflict):
    code = "outcome_already_deposited"


class IdempotencyKeyReused(Conflict):
    code = "idempotency_key_reused"


class InsufficientCredits(Conflict):
    """A posting would take more than remains (an outcome's or the account's)."""

    code = "insufficient_credits"


class OutcomeNotInLedger(NotFound):
    code = "outcome_not_in_ledger"


class LedgerConflict(Conflict):
    code = "ledger_conflict"


class OperatorOnly(Forbidden):
    code = "operator_only"


class ReasonRequired(BadRequest):
    code = "reason_required"
