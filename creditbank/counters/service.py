"""Counting what the contexts decide, and reading the totals (``/metrics``)."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.counters.repository import CountRepository
from creditbank.identity import authz
from creditbank.identity.principal import Principal

#: The rules' evaluation log by decision: label ``<kind>:<decision>``, kind one of
#: statement / reevaluation / held / voided, decision recognised / not_recognised /
#: held / voided.
RULES_DECISIONS = "rules.decisions"
#: Ledger entries by kind (deposit, expiry, reversal, conversion, adjustment).
LEDGER_POSTINGS = "ledger.postings"
#: Labels shown at 0 before the first one is counted (so a rate has a start).
KNOWN: dict[str, tuple[str, ...]] = {
    RULES_DECISIONS: (
        "statement:recognised",
        "statement:not_recognised",
        "reevaluation:recognised",
        "reevaluation:not_recognised",
        "held:held",
        "voided:voided",
    ),
    LEDGER_POSTINGS: ("deposit", "expiry", "reversal", "conversion", "adjustment"),
}


class CounterService:
    async def add(self, session: AsyncSession, name: str, counts: Mapping[str, int]) -> None:
        """Count ``counts`` (label -> how many) of ``name`` in the caller's transaction."""
        await CountRepository.from_session(session).add(
            {(name, label): n for label, n in counts.items()}
        )

    async def totals(
        self, session: AsyncSession, principal: Principal
    ) -> dict[str, dict[str, int]]:
        """Every counter's total by label (``/metrics``)."""
        authz.authorize(principal, "metrics.read")
        out: dict[str, dict[str, int]] = {
            name: dict.fromkeys(labels, 0) for name, labels in KNOWN.items()
        }
        for (name, label), n in (await CountRepository.from_session(session).totals()).items():
            out.setdefault(name, {})[label] = n
        return out

    async def fold(self, session: AsyncSession) -> int:
        """Fold the deltas into one row per counter (the ``counters.fold`` job)."""
        return await CountRepository.from_session(session).fold()


counters = CounterService()
