"""Conversion (学分转换): which conversion rules a learner's outcomes satisfy.

Pure: the caller passes the learner's outcomes (:class:`OutcomeFacts`), the moment
to judge recency at, what was already converted into each programme and which
target units are already exempted. :func:`conversion_options` is the dry run
("what could my record convert to?"); :func:`check_conversion` re-checks one rule
at approval time with the same logic, and says why when it fails.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from creditbank.kit.credits import ZERO
from creditbank.rules.accumulation import add_years
from creditbank.rules.trace import Message, decimal_text
from creditbank.rules.types import Credits, DecimalText
from creditbank.standards.schemas import (
    Bilingual,
    ConversionRule,
    Exemption,
    StandardsRef,
    StandardsSet,
)

__all__ = [
    "ConversionCheck",
    "ConversionOption",
    "OutcomeFacts",
    "check_conversion",
    "conversion_options",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutcomeFacts(_Frozen):
    """A learner's recognised outcome as conversion needs it.

    ``available`` is false once the outcome is used in an approved conversion or
    revoked; such an outcome is never offered again.
    """

    outcome_id: str
    unit_code: str
    credits: Credits
    scaled: DecimalText | None = None
    achieved_at: AwareDatetime
    expires_at: AwareDatetime | None = None
    available: bool = True


class ConversionOption(_Frozen):
    """A conversion the outcomes satisfy, and the outcomes it would use."""

    rule_id: str
    rule_version: int
    title: Bilingual
    programme: str
    target_kind: Literal["exemption", "programme_credits"]
    target_unit: str | None
    credits: Credits
    outcome_ids: tuple[str, ...]
    source_units: tuple[str, ...]
    requires_approval: bool
    standards: StandardsRef


class ConversionCheck(_Frozen):
    """Whether one conversion rule is satisfied now, with the option or the reasons why not."""

    rule_id: str
    rule_version: int
    satisfied: bool
    option: ConversionOption | None
    reasons: tuple[Message, ...]


def _msg(zh: str, en: str) -> Message:
    return Message(zh=zh, en=en)


def _refusal(
    outcome: OutcomeFacts, rule: ConversionRule, standards: StandardsSet, as_of: datetime
) -> Message | None:
    """Why ``outcome`` cannot serve ``rule`` (``None`` when it can)."""
    oid = outcome.outcome_id
    if not outcome.available:
        return _msg(f"成果 {oid} 已用于转换或已撤销", f"outcome {oid} is used or revoked")
    if outcome.expires_at is not None and outcome.expires_at <= as_of:
        return _msg(f"成果 {oid} 已过期", f"outcome {oid} has expired")
    if rule.min_scaled is not None:
        need = decimal_text(rule.min_scaled)
        if outcome.scaled is None:
            return _msg(
                f"成果 {oid} 无 scaled 得分（需 ≥ {need}）",
                f"outcome {oid} has no scaled score (needs ≥ {need})",
            )
        if outcome.scaled < rule.min_scaled:
            have = decimal_text(outcome.scaled)
            return _msg(f"成果 {oid} 得分 {have} < {need}", f"outcome {oid} scored {have} < {need}")
    if rule.min_level is not None:
        unit = standards.unit(outcome.unit_code)
        if unit is None or unit.level < rule.min_level:
            level = unit.level if unit is not None else "?"
            return _msg(
                f"成果 {oid} 等级 {level} 低于 {rule.min_level}",
                f"outcome {oid} is at level {level}, below {rule.min_level}",
            )
    if rule.within_years is not None and outcome.achieved_at < add_years(as_of, -rule.within_years):
        return _msg(
            f"成果 {oid} 取得已超过 {rule.within_years} 年",
            f"outcome {oid} is older than {rule.within_years} years",
        )
    return None


def _best(outcomes: Iterable[OutcomeFacts]) -> OutcomeFacts | None:
    """The outcome to use: highest scaled score, then most recent, then smallest id."""
    ranked = sorted(
        outcomes,
        key=lambda o: (
            o.scaled is None,
            -(o.scaled if o.scaled is not None else ZERO),
            -o.achieved_at.timestamp(),
            o.outcome_id,
        ),
    )
    return ranked[0] if ranked else None


def check_conversion(
    rule: ConversionRule,
    outcomes: Iterable[OutcomeFacts],
    standards: StandardsSet,
    *,
    as_of: datetime,
    converted_credits: Mapping[str, Decimal] | None = None,
    exempted_units: frozenset[str] = frozenset(),
) -> ConversionCheck:
    """Whether ``rule`` is satisfied by ``outcomes`` at ``as_of``.

    ``converted_credits``: credits already converted into each programme (by key),
    for the programme's ``max_conversion_credits``. ``exempted_units``: target units
    the learner already has, which are not offered again. An exemption is all or
    nothing; credits toward a programme are reduced to what the programme cap allows.
    """
    outcomes = list(outcomes)
    reasons: list[Message] = []
    chosen: list[OutcomeFacts] = []
    for code in rule.sources.units:
        candidates = [o for o in outcomes if o.unit_code == code]
        usable = []
        for outcome in candidates:
            refusal = _refusal(outcome, rule, standards, as_of)
            if refusal is None:
                usable.append(outcome)
            else:
                reasons.append(refusal)
        best = _best(usable)
        if best is None:
            if not candidates:
                reasons.append(_msg(f"无单元 {code} 的成果", f"no outcome of unit {code}"))
            continue
        reasons.append(
            _msg(
                f"单元 {code} 使用成果 {best.outcome_id}", f"unit {code}: outcome {best.outcome_id}"
            )
        )
        chosen.append(best)

    needed = len(rule.sources.all_of) if rule.sources.any_n_of is None else rule.sources.any_n_of.n
    satisfied = len(chosen) >= needed
    if not satisfied:
        reasons.append(
            _msg(
                f"需要 {needed} 个单元的成果，只有 {len(chosen)} 个可用",
                f"needs outcomes of {needed} unit(s), {len(chosen)} usable",
            )
        )
    chosen = chosen[:needed]

    target = rule.target
    target_unit = target.unit if isinstance(target, Exemption) else None
    if isinstance(target, Exemption):
        unit = standards.unit(target.unit)
        credits = unit.credits if unit is not None else ZERO
        if target.unit in exempted_units:
            satisfied = False
            reasons.append(
                _msg(f"单元 {target.unit} 已免修", f"unit {target.unit} is already exempted")
            )
    else:
        # A fixed number, or (alliance credit scales) the used outcomes' credits × ratio.
        credits = target.credits_for(sum((o.credits for o in chosen), ZERO))
        if credits <= 0 and satisfied:
            satisfied = False
            reasons.append(_msg("折算后学分为 0", "the credit ratio gives 0 credits"))

    programme = standards.conversion.programme(rule.programme)
    if programme is not None and programme.max_conversion_credits is not None:
        used = (converted_credits or {}).get(programme.key, ZERO)
        room = max(programme.max_conversion_credits - used, ZERO)
        if credits > room:
            if target_unit is not None or room <= 0:
                satisfied = False
                reasons.append(
                    _msg(
                        f"专业 {programme.key} 转换学分余量 {decimal_text(room)} 不足",
                        f"programme {programme.key} has {decimal_text(room)} credits of room left",
                    )
                )
            else:
                credits = room
                reasons.append(
                    _msg(
                        f"受专业转换上限限制，计 {decimal_text(room)} 学分",
                        f"limited by the programme cap to {decimal_text(room)} credits",
                    )
                )

    option = None
    if satisfied:
        option = ConversionOption(
            rule_id=rule.id,
            rule_version=rule.version,
            title=rule.title,
            programme=rule.programme,
            target_kind=target.kind,
            target_unit=target_unit,
            credits=credits,
            outcome_ids=tuple(o.outcome_id for o in chosen),
            source_units=tuple(o.unit_code for o in chosen),
            requires_approval=rule.requires_approval,
            standards=standards.ref,
        )
    return ConversionCheck(
        rule_id=rule.id,
        rule_version=rule.version,
        satisfied=satisfied,
        option=option,
        reasons=tuple(reasons),
    )


def conversion_options(
    outcomes: Iterable[OutcomeFacts],
    standards: StandardsSet,
    *,
    as_of: datetime,
    converted_credits: Mapping[str, Decimal] | None = None,
    exempted_units: frozenset[str] = frozenset(),
) -> list[ConversionOption]:
    """Every conversion rule the outcomes satisfy at ``as_of``, in file order (dry run).

    Options are independent: two may name the same outcome; approving one makes the
    outcome unavailable, and :func:`check_conversion` then refuses the other.
    """
    outcomes = list(outcomes)
    options: list[ConversionOption] = []
    for rule in standards.conversion.rules:
        check = check_conversion(
            rule,
            outcomes,
            standards,
            as_of=as_of,
            converted_credits=converted_credits,
            exempted_units=exempted_units,
        )
        if check.option is not None:
            options.append(check.option)
    return options
