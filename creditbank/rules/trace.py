"""Traces: why each rule matched or not, leaf by leaf, in Chinese and English."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from creditbank.rules.types import Credits

__all__ = ["ConditionTrace", "GateTrace", "Message", "RuleStatus", "RuleTrace"]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Frozen):
    """A short explanation in Chinese and English."""

    zh: str
    en: str


class ConditionTrace(_Frozen):
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


class GateTrace(_Frozen):
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


class RuleTrace(_Frozen):
    """One recognition rule considered for a statement."""

    rule_id: str
    rule_version: int
    status: RuleStatus
    condition: ConditionTrace
    credits: Credits | None = None
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
