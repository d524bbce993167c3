"""Traces: why each rule matched or not, leaf by leaf, in Chinese and English.

Plain frozen dataclasses, not validated models: the engine builds tens of them per
statement, from values it already checked, so validating each cost more than the
evaluation itself. What is stored and shown is their JSON
(:func:`creditbank.rules.engine.evaluation_json`); credits in it are two-decimal
text, as the ``Credits`` type writes them.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

__all__ = ["ConditionTrace", "GateTrace", "Message", "RuleStatus", "RuleTrace"]


@dataclass(frozen=True, slots=True)
class Message:
    """A short explanation in Chinese and English."""

    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class ConditionTrace:
    """The result of one condition, with its children for ``all`` / ``any`` / ``not``."""

    kind: str
    passed: bool
    message: Message
    children: tuple[ConditionTrace, ...] = ()

    def leaves(self) -> list[ConditionTrace]:
        """Every leaf of this trace, depth first."""
        if not self.children:
            return [self]
        return [leaf for child in self.children for leaf in child.leaves()]


@dataclass(frozen=True, slots=True)
class GateTrace:
    """A check the engine makes before any rule can recognise anything."""

    gate: str  # institution_known | institution_accredited | activity_mapped | unit_in_scope
    passed: bool
    message: Message


class RuleStatus(StrEnum):
    """What came of one rule."""

    matched = "matched"  # the rule decided the outcome
    not_matched = "not_matched"  # its condition is false
    superseded = "superseded"  # it matched, but an earlier rule decided
    no_unit = "no_unit"  # it matched, but the activity is mapped to no unit
    zero_credits = "zero_credits"  # it matched, but its credits came to zero
    blocked = "blocked"  # it matched, but a gate (accreditation, scope) failed


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleTrace:
    """One recognition rule considered for a statement."""

    rule_id: str
    rule_version: int
    status: RuleStatus
    condition: ConditionTrace
    credits: Decimal | None = None  # credits, exact to the hundredth
    credits_message: Message | None = None
    message: Message

    @property
    def matched(self) -> bool:
        """Whether the rule's condition held (whatever came of it)."""
        return self.condition.passed


def decimal_text(value: Decimal) -> str:
    """A decimal for messages, as written (``0.60`` stays ``0.60``), never with an exponent."""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and not value else text
