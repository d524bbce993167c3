"""The recognition engine (学分认定): pure, deterministic, explained.

:func:`evaluate_statement` runs every recognition rule of a standards set against
the facts of one statement, in file order, and records for each rule — and for
each leaf of its condition — why it matched or not. The first rule that matches
decides the outcome; :func:`creditbank.rules.accumulation.accumulate` then says how
much of it the learner is credited. Nothing here reads a clock, a database or a
global: the same input always gives the same :class:`Evaluation`, trace included.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, DecimalTuple
from functools import lru_cache
from typing import Any, assert_never

import orjson
from pydantic import BaseModel

from creditbank.kit.credits import CONTEXT, ZERO, floor_to_step, from_hundredths, to_hundredths
from creditbank.rules.accumulation import AccumulationResult, LearnerRecord, accumulate
from creditbank.rules.ast import (
    AllOf,
    AnyOf,
    CompletionIs,
    Condition,
    CreditsExpr,
    DurationGte,
    ExtensionEquals,
    ExtensionScope,
    HoursGte,
    InstitutionAccredited,
    InstitutionTypeIn,
    Not,
    ObjectMapped,
    PerHours,
    RegistrationIn,
    ScoreRawGte,
    ScoreScaledGte,
    SuccessIs,
    TimestampWithin,
    UnitCategory,
    UnitCategoryIn,
    UnitCredits,
    VerbIn,
)
from creditbank.rules.facts import StatementFacts
from creditbank.rules.trace import (
    ConditionTrace,
    GateTrace,
    Message,
    RuleStatus,
    RuleTrace,
    decimal_text,
)
from creditbank.standards.schemas import (
    ActivityMapping,
    Bilingual,
    Institution,
    RecognitionRule,
    StandardsRef,
    StandardsSet,
    Unit,
)

__all__ = [
    "ConditionScope",
    "Evaluation",
    "RecognitionDecision",
    "evaluate_condition",
    "evaluate_statement",
    "evaluation_bytes",
    "evaluation_fields",
    "evaluation_json",
    "recorded_hours",
]

# The engine's results are frozen dataclasses (see creditbank.rules.trace): built from
# values already checked (the standards, the facts), so nothing is validated twice on
# the hot path. Their JSON (evaluation_json) is what is stored and explained.


@dataclass(frozen=True, slots=True, kw_only=True)
class RecognitionDecision:
    """A recognised learning outcome (学习成果) and what accumulation made of it."""

    unit_code: str
    unit_title: Bilingual
    category: UnitCategory
    level: int
    credits: Decimal  # recognised, before accumulation; exact to the hundredth
    rule_id: str
    rule_version: int
    standards: StandardsRef
    statement_id: str | None
    institution_key: str
    achieved_at: datetime
    requires_review: bool
    accumulation: AccumulationResult

    @property
    def credited(self) -> Decimal:
        """Credits that count for the learner."""
        return self.accumulation.credited_credits


@dataclass(frozen=True, slots=True)
class EvaluationTrace:
    """Gates and every rule considered, in order."""

    gates: tuple[GateTrace, ...]
    rules: tuple[RuleTrace, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """Everything the engine concluded about one statement, and why."""

    statement_id: str | None
    standards: StandardsRef
    facts: StatementFacts
    unit_code: str | None  # the unit the activity is mapped to, if any
    recognised: bool
    reason: Message
    decisions: tuple[RecognitionDecision, ...]
    trace: EvaluationTrace

    @property
    def credited(self) -> Decimal:
        """Credits that count for the learner from this statement."""
        return sum((d.accumulation.credited_credits for d in self.decisions), ZERO)

    def record_after(self, record: LearnerRecord) -> LearnerRecord:
        """``record`` updated with what this evaluation credited."""
        for decision in self.decisions:
            result = decision.accumulation
            if result.credited_credits > 0:
                record = record.with_credit(
                    decision.unit_code,
                    result.credited_credits,
                    group=result.cap_group,
                    year=result.cap_year,
                )
        return record


#: The JSON of the standards' own models an evaluation names (its ref, unit titles), by
#: the model's id, held with it (so the id stays its): the same few frozen objects of
#: the set in force, in every evaluation. Bounded: cleared when full.
_MODEL_JSON: dict[int, tuple[BaseModel, orjson.Fragment]] = {}
_MODEL_JSON_MAX = 4096
_SHARED_MODELS = (StandardsRef, Bilingual)


def _json_default(value: Any) -> Any:
    # Every Decimal of the engine's dataclasses is credits: two places, as ``Credits``
    # writes them. Models (facts, standards ref, titles) serialise as they always have.
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, _SHARED_MODELS):
        held = _MODEL_JSON.get(id(value))
        if held is not None and held[0] is value:
            return held[1]
        fragment = orjson.Fragment(orjson.dumps(value.model_dump(mode="json")))
        if len(_MODEL_JSON) >= _MODEL_JSON_MAX:
            _MODEL_JSON.clear()
        _MODEL_JSON[id(value)] = (value, fragment)
        return fragment
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def evaluation_bytes(value: Any) -> bytes:
    """JSON of an engine result (or any part of one): dataclass fields in order, enums
    as values, tuples as lists, credits as ``"x.xx"``, times as ISO 8601 (``Z`` for UTC)."""
    return orjson.dumps(value, default=_json_default, option=orjson.OPT_UTC_Z)


def evaluation_json(value: Evaluation) -> dict[str, Any]:
    """The evaluation as the JSON stored in the decision log and shown by explanations."""
    document: dict[str, Any] = orjson.loads(evaluation_bytes(value))
    return document


_EVALUATION_FIELDS = tuple(f.name for f in dataclasses.fields(Evaluation))


def evaluation_fields(value: Evaluation) -> dict[str, Any]:
    """The evaluation's fields in order, not yet serialised (to add keys, then
    :func:`evaluation_bytes` it: the same JSON as :func:`evaluation_json` plus those).
    A trace the engine holds serialised already comes as those bytes."""
    fields = {name: getattr(value, name) for name in _EVALUATION_FIELDS}
    held = _TRACE_JSON.get(id(value.trace))
    if held is not None and held[0] is value.trace:
        fields["trace"] = held[1]
    return fields


class ConditionScope:
    """What a condition can read: the facts, and the activity's mapping and unit."""

    __slots__ = ("facts", "institution", "mapping", "unit")

    def __init__(
        self,
        facts: StatementFacts,
        institution: Institution | None,
        mapping: ActivityMapping | None,
        unit: Unit | None,
    ) -> None:
        self.facts = facts
        self.institution = institution
        self.mapping = mapping
        self.unit = unit


# Messages and leaf traces are frozen and repeat across statements (same verb, same
# threshold, same score): shared from a bounded cache instead of rebuilt and
# re-validated each time, the evaluator's main cost at thousands of statements/s.
@lru_cache(maxsize=8192)
def _msg(zh: str, en: str) -> Message:
    return Message(zh=zh, en=en)


@lru_cache(maxsize=8192)
def _leaf(kind: str, passed: bool, zh: str, en: str) -> ConditionTrace:
    return ConditionTrace(kind=kind, passed=passed, message=_msg(zh, en))


@lru_cache(maxsize=1024)
def _listed(values: tuple[Any, ...]) -> str:
    """``[a, b]`` of a condition's list (the same few lists, from the standards in force)."""
    return "[" + ", ".join(str(getattr(v, "value", v)) for v in values) + "]"


def _gte(kind: str, label: str, value: Decimal | None, threshold: Decimal) -> ConditionTrace:
    limit = decimal_text(threshold)
    if value is None:
        return _leaf(kind, False, f"无{label}（需 ≥ {limit}）", f"no {label} (needs ≥ {limit})")
    shown = decimal_text(value)
    if value >= threshold:
        return _leaf(kind, True, f"{label} {shown} ≥ {limit}", f"{label} {shown} ≥ {limit}")
    return _leaf(kind, False, f"{label} {shown} < {limit}", f"{label} {shown} < {limit}")


def _json_equal(left: Any, right: Any) -> bool:
    """JSON equality where numbers compare by value (``1.50`` equals ``1.5``), bools apart."""
    if isinstance(left, bool) or isinstance(right, bool):
        return type(left) is type(right) and left == right
    if isinstance(left, int | float | Decimal) and isinstance(right, int | float | Decimal):
        as_decimal = [
            Decimal(repr(v)) if isinstance(v, float) else Decimal(v) for v in (left, right)
        ]
        return as_decimal[0] == as_decimal[1]
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(_json_equal(left[k], right[k]) for k in left)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(
            _json_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    return type(left) is type(right) and bool(left == right)


def recorded_hours(facts: StatementFacts, mapping: ActivityMapping | None) -> Decimal | None:
    """Hours of learning: ``result.duration``, else the mapping's hours, else ``None``."""
    hours = facts.duration_hours
    if hours is None and mapping is not None:
        hours = mapping.hours
    return hours


def evaluate_condition(condition: Condition, scope: ConditionScope) -> ConditionTrace:
    """Evaluate a condition; every child is evaluated (no short cut) so the trace is whole."""
    facts = scope.facts
    match condition:
        case AllOf():
            children = tuple(evaluate_condition(c, scope) for c in condition.all)
            passed = all(c.passed for c in children)
            n, ok = len(children), sum(c.passed for c in children)
            return ConditionTrace(
                kind="all",
                passed=passed,
                message=_msg(f"全部满足：{ok}/{n} 项满足", f"all of {n}: {ok} hold"),
                children=children,
            )
        case AnyOf():
            children = tuple(evaluate_condition(c, scope) for c in condition.any)
            passed = any(c.passed for c in children)
            n, ok = len(children), sum(c.passed for c in children)
            return ConditionTrace(
                kind="any",
                passed=passed,
                message=_msg(f"任一满足：{ok}/{n} 项满足", f"any of {n}: {ok} hold"),
                children=children,
            )
        case Not():
            child = evaluate_condition(condition.not_, scope)
            return ConditionTrace(
                kind="not",
                passed=not child.passed,
                message=_msg(
                    "取反：子条件" + ("成立" if child.passed else "不成立"),
                    "not: the condition " + ("holds" if child.passed else "does not hold"),
                ),
                children=(child,),
            )
        case VerbIn():
            ok = facts.verb_id in condition.verb_in
            allowed = _listed(condition.verb_in)
            return _leaf(
                "verb_in",
                ok,
                f"动词 {facts.verb_id} {'属于' if ok else '不属于'} {allowed}",
                f"verb {facts.verb_id} is {'' if ok else 'not '}one of {allowed}",
            )
        case InstitutionTypeIn():
            ok = facts.institution_type in condition.institution_type_in
            allowed = _listed(condition.institution_type_in)
            kind = facts.institution_type.value
            return _leaf(
                "institution_type_in",
                ok,
                f"机构类型 {kind} {'属于' if ok else '不属于'} {allowed}",
                f"institution type {kind} is {'' if ok else 'not '}one of {allowed}",
            )
        case InstitutionAccredited():
            accredited = _accredited(scope)
            ok = accredited == condition.institution_accredited
            return _leaf(
                "institution_accredited",
                ok,
                f"机构 {facts.institution_key} {'已' if accredited else '未'}认证",
                f"institution {facts.institution_key} is {'' if accredited else 'not '}accredited",
            )
        case ObjectMapped():
            mapped = scope.mapping is not None
            ok = mapped == condition.object_mapped
            target = scope.mapping.unit if scope.mapping is not None else None
            return _leaf(
                "object_mapped",
                ok,
                f"活动已映射到单元 {target}" if mapped else "活动未映射到任何单元",
                f"activity is mapped to unit {target}" if mapped else "activity is not mapped",
            )
        case UnitCategoryIn():
            allowed = _listed(condition.unit_category_in)
            if scope.unit is None:
                return _leaf(
                    "unit_category_in", False, "无映射单元，无类别", "no mapped unit, no category"
                )
            category = scope.unit.category.value
            ok = scope.unit.category in condition.unit_category_in
            return _leaf(
                "unit_category_in",
                ok,
                f"单元类别 {category} {'属于' if ok else '不属于'} {allowed}",
                f"unit category {category} is {'' if ok else 'not '}one of {allowed}",
            )
        case SuccessIs():
            return _boolean("success_is", "result.success", facts.success, condition.success_is)
        case CompletionIs():
            return _boolean(
                "completion_is", "result.completion", facts.completion, condition.completion_is
            )
        case ScoreScaledGte():
            return _gte(
                "score_scaled_gte", "score.scaled", facts.scaled, condition.score_scaled_gte
            )
        case ScoreRawGte():
            return _gte("score_raw_gte", "score.raw", facts.raw, condition.score_raw_gte)
        case DurationGte():
            return _gte(
                "duration_gte", "result.duration (h)", facts.duration_hours, condition.duration_gte
            )
        case HoursGte():
            hours = recorded_hours(facts, scope.mapping)
            return _gte("hours_gte", "hours", hours, condition.hours_gte)
        case TimestampWithin():
            window = condition.timestamp_within
            ok = window.contains(facts.timestamp)
            bounds = (
                f"[{window.from_.isoformat() if window.from_ else '…'}, "
                f"{window.until.isoformat() if window.until else '…'})"
            )
            moment = facts.timestamp.isoformat()
            return _leaf(
                "timestamp_within",
                ok,
                f"时间 {moment} {'在' if ok else '不在'} {bounds} 内",
                f"timestamp {moment} is {'' if ok else 'not '}within {bounds}",
            )
        case RegistrationIn():
            registration = facts.registration
            ok = registration is not None and registration in condition.registration_in
            allowed = _listed(condition.registration_in)
            return _leaf(
                "registration_in",
                ok,
                f"registration {registration} {'属于' if ok else '不属于'} {allowed}",
                f"registration {registration} is {'' if ok else 'not '}one of {allowed}",
            )
        case ExtensionEquals():
            test = condition.extension_equals
            source = (
                facts.context_extensions
                if test.scope is ExtensionScope.context
                else facts.result_extensions
            )
            where = f"{test.scope.value}.extensions[{test.key}]"
            if test.key not in source:
                return _leaf("extension_equals", False, f"无 {where}", f"no {where}")
            ok = _json_equal(source[test.key], test.value)
            return _leaf(
                "extension_equals",
                ok,
                f"{where} {'等于' if ok else '不等于'} {test.value!r}",
                f"{where} {'equals' if ok else 'does not equal'} {test.value!r}",
            )
        case _:  # pragma: no cover - the union is closed
            assert_never(condition)


def _boolean(kind: str, label: str, value: bool | None, expected: bool) -> ConditionTrace:
    want = str(expected).lower()
    if value is None:
        return _leaf(kind, False, f"无 {label}（需为 {want}）", f"no {label} (needs {want})")
    ok = value is expected
    have = str(value).lower()
    op = "=" if ok else "≠"
    return _leaf(kind, ok, f"{label} {have} {op} {want}", f"{label} {have} {op} {want}")


def _accredited(scope: ConditionScope) -> bool:
    """Accredited by the bank (the facts) and in the standards' institution catalog."""
    return scope.facts.accredited and scope.institution is not None and scope.institution.accredited


def _credits(expr: CreditsExpr, scope: ConditionScope, unit: Unit) -> tuple[Decimal, Message]:
    """Credits a matching rule gives, with the working shown."""
    if isinstance(expr, UnitCredits):
        shown = decimal_text(unit.credits)
        return unit.credits, _msg(f"单元学分 {shown}", f"unit credits {shown}")
    if isinstance(expr, PerHours):
        hours = recorded_hours(scope.facts, scope.mapping)
        if hours is None:
            return ZERO, _msg(
                "无学时：陈述无 result.duration，映射也无学时",
                "no hours: no result.duration and no hours in the mapping",
            )
        source = "result.duration" if scope.facts.duration_hours is not None else "mapping"
        raw = CONTEXT.multiply(CONTEXT.divide(hours, expr.hours), expr.credits)
        floored = floor_to_step(raw, expr.step)
        amount = from_hundredths(to_hundredths(min(floored, unit.credits)))
        working = (
            f"{decimal_text(hours)} h ({source}) / {decimal_text(expr.hours)} h × "
            f"{decimal_text(expr.credits)} = {decimal_text(raw)}; "
            f"↓{decimal_text(expr.step)} → {decimal_text(floored)}; "
            f"≤ {decimal_text(unit.credits)} → {decimal_text(amount)}"
        )
        return amount, _msg(f"按学时计：{working}", f"per hours: {working}")
    assert_never(expr)


def _gates(scope: ConditionScope) -> tuple[GateTrace, ...]:
    facts = scope.facts
    key = facts.institution_key
    gates: list[GateTrace] = []
    known = scope.institution is not None
    gates.append(
        GateTrace(
            gate="institution_known",
            passed=known,
            message=_msg(
                f"机构 {key} {'在' if known else '不在'}机构目录中",
                f"institution {key} is {'' if known else 'not '}in the institution catalog",
            ),
        )
    )
    if not facts.accredited:
        why = _msg(f"机构 {key} 未获学分银行认证", f"institution {key} is not accredited")
    elif scope.institution is not None and not scope.institution.accredited:
        why = _msg(
            f"机构 {key} 在本标准中未获认证",
            f"institution {key} is not accredited in these standards",
        )
    elif scope.institution is None:
        why = _msg(f"机构 {key} 不在目录中，无法认证", f"institution {key} is not in the catalog")
    else:
        why = _msg(f"机构 {key} 已认证", f"institution {key} is accredited")
    gates.append(GateTrace(gate="institution_accredited", passed=_accredited(scope), message=why))

    activity = facts.activity_id or "(none)"
    if scope.mapping is not None and scope.unit is not None:
        mapped = _msg(
            f"活动 {activity} 映射到单元 {scope.unit.code}",
            f"activity {activity} is mapped to unit {scope.unit.code}",
        )
    else:
        mapped = _msg(
            f"活动 {activity} 未在机构 {key} 的目录中映射",
            f"activity {activity} is not mapped in {key}'s catalog",
        )
    gates.append(GateTrace(gate="activity_mapped", passed=scope.unit is not None, message=mapped))

    if scope.unit is not None and scope.institution is not None:
        covered = scope.institution.scope.covers(scope.unit)
        code = scope.unit.code
        gates.append(
            GateTrace(
                gate="unit_in_scope",
                passed=covered,
                message=_msg(
                    f"单元 {code} {'在' if covered else '不在'}机构 {key} 的认证范围内",
                    f"unit {code} is {'' if covered else 'not '}within {key}'s accredited scope",
                ),
            )
        )
    return tuple(gates)


def _rule_message(rule: RecognitionRule, status: RuleStatus, detail: Message | None) -> Message:
    texts = {
        RuleStatus.matched: ("匹配，认定成果", "matched: outcome recognised"),
        RuleStatus.not_matched: ("条件不成立", "condition does not hold"),
        RuleStatus.superseded: (
            "条件成立，但已由前面的规则认定",
            "matched, but an earlier rule decided",
        ),
        RuleStatus.no_unit: (
            "条件成立，但活动未映射到单元",
            "matched, but the activity maps to no unit",
        ),
        RuleStatus.zero_credits: ("条件成立，但学分为 0，不认定", "matched, but credits come to 0"),
        RuleStatus.blocked: ("条件成立，但未通过前置检查", "matched, but a gate failed"),
    }
    zh, en = texts[status]
    if detail is not None:
        zh, en = f"{zh}（{detail.zh}）", f"{en} ({detail.en})"
    return _msg(f"{rule.id} v{rule.version}：{zh}", f"{rule.id} v{rule.version}: {en}")


def _no_match_reason(traces: list[RuleTrace]) -> Message:
    """ "No rule matched", naming the nearest miss: the rule with fewest failing leaves."""
    misses = [
        (sum(not leaf.passed for leaf in t.condition.leaves()), i, t)
        for i, t in enumerate(traces)
        if t.status is RuleStatus.not_matched
    ]
    if not misses:
        return _msg("不认定：没有认定规则", "not recognised: there are no rules")
    _, _, nearest = min(misses, key=lambda m: (m[0], m[1]))
    failed = [leaf.message for leaf in nearest.condition.leaves() if not leaf.passed]
    zh = "；".join(m.zh for m in failed) or nearest.condition.message.zh
    en = "; ".join(m.en for m in failed) or nearest.condition.message.en
    return _msg(
        f"不认定：没有规则匹配（最接近的 {nearest.rule_id}：{zh}）",
        f"not recognised: no rule matched (nearest {nearest.rule_id}: {en})",
    )


@dataclass(frozen=True, slots=True)
class _Verdict:
    """What the rules make of a statement's facts, before the learner's record: the
    gates and rule traces, the winning rule and its credits, the reason, and the
    trace as JSON (an ``orjson.Fragment``: the same bytes, serialised once)."""

    unit: Unit | None
    winner: tuple[RecognitionRule, Decimal] | None
    reason: Message
    trace: EvaluationTrace
    trace_json: orjson.Fragment


def _verdict(statement: StatementFacts, standards: StandardsSet) -> _Verdict:
    institution = standards.institution(statement.institution_key)
    mapping = (
        institution.mapping_for(statement.activity_id)
        if institution is not None and statement.activity_id is not None
        else None
    )
    unit = standards.unit(mapping.unit) if mapping is not None else None
    scope = ConditionScope(statement, institution, mapping, unit)
    gates = _gates(scope)
    failed_gate = next((gate for gate in gates if not gate.passed), None)

    traces: list[RuleTrace] = []
    winner: tuple[RecognitionRule, Decimal] | None = None
    for rule in standards.recognition.rules:
        condition = evaluate_condition(rule.when, scope)
        credits: Decimal | None = None
        credits_message: Message | None = None
        detail: Message | None = None
        if not condition.passed:
            status = RuleStatus.not_matched
        elif winner is not None:
            status = RuleStatus.superseded
        elif unit is None:
            status = RuleStatus.no_unit
        else:
            credits, credits_message = _credits(rule.credits, scope, unit)
            if credits <= 0:
                status = RuleStatus.zero_credits
            elif failed_gate is not None:
                status, detail = RuleStatus.blocked, failed_gate.message
            else:
                status = RuleStatus.matched
                winner = (rule, credits)
        traces.append(
            RuleTrace(
                rule_id=rule.id,
                rule_version=rule.version,
                status=status,
                condition=condition,
                credits=credits,
                credits_message=credits_message,
                message=_rule_message(rule, status, detail),
            )
        )

    if winner is not None and unit is not None:
        rule, credits = winner
        reason = _msg(
            f"按规则 {rule.id} v{rule.version} 认定单元 {unit.code}，{decimal_text(credits)} 学分",
            f"unit {unit.code} recognised by rule {rule.id} v{rule.version}, "
            f"{decimal_text(credits)} credits",
        )
    elif failed_gate is not None:
        reason = _msg(
            f"不认定：{failed_gate.message.zh}", f"not recognised: {failed_gate.message.en}"
        )
    elif any(t.status is RuleStatus.zero_credits for t in traces):
        reason = _msg("不认定：学分为 0", "not recognised: credits come to 0")
    else:
        reason = _no_match_reason(traces)
    trace = EvaluationTrace(gates=gates, rules=tuple(traces))
    return _Verdict(unit, winner, reason, trace, orjson.Fragment(evaluation_bytes(trace)))


def _condition_kinds(condition: Condition) -> set[type[Condition]]:
    match condition:
        case AllOf():
            return {AllOf}.union(*(_condition_kinds(c) for c in condition.all))
        case AnyOf():
            return {AnyOf}.union(*(_condition_kinds(c) for c in condition.any))
        case Not():
            return {Not} | _condition_kinds(condition.not_)
        case _:
            return {type(condition)}


@dataclass(frozen=True, slots=True)
class _Reads:
    """Which of the facts that vary from statement to statement a standards set's
    rules read (the others, verb to duration, are always part of a verdict's key)."""

    timestamp: bool
    registration: bool
    extensions: bool


def _reads(standards: StandardsSet) -> _Reads:
    kinds: set[type[Condition]] = set()
    for rule in standards.recognition.rules:
        kinds |= _condition_kinds(rule.when)
    return _Reads(
        timestamp=TimestampWithin in kinds,
        registration=RegistrationIn in kinds,
        extensions=ExtensionEquals in kinds,
    )


def _exact(value: Decimal | None) -> DecimalTuple | None:
    """A decimal as written (``0.6`` and ``0.60`` apart: messages show them apart)."""
    return None if value is None else value.as_tuple()


def _verdict_key(
    statement: StatementFacts, standards: StandardsSet, reads: _Reads
) -> tuple[Any, ...]:
    """Everything :func:`_verdict` reads of the facts, exactly (a finer key only misses),
    and which standards object: not its content hash, which reads ``0.6`` and ``0.60``
    alike where the messages show them apart."""
    return (
        id(standards),
        statement.verb_id,
        statement.activity_id,
        statement.institution_key,
        statement.institution_type,
        statement.accredited,
        _exact(statement.scaled),
        _exact(statement.raw),
        statement.success,
        statement.completion,
        _exact(statement.duration_seconds),
        statement.timestamp.isoformat() if reads.timestamp else None,
        statement.registration if reads.registration else None,
        orjson.dumps(
            [statement.context_extensions, statement.result_extensions],
            option=orjson.OPT_SORT_KEYS,
        )
        if reads.extensions
        else None,
    )


#: Verdicts by :func:`_verdict_key`, each with the standards it is of (held, so their id
#: stays theirs): a burst of statements repeats the same few activities, verbs and
#: scores, and the rules' verdict (their traces, the engine's main cost, and its JSON,
#: the next) depends on nothing else. The worker evaluates against the one parsed set in
#: force. Bounded, first in first out; the traces are frozen, so sharing one is safe.
_VERDICTS: dict[tuple[Any, ...], tuple[StandardsSet, _Verdict]] = {}
_VERDICTS_MAX = 1024
#: The trace JSON of the verdicts held, by the trace's id (held with it: the id stays its).
_TRACE_JSON: dict[int, tuple[EvaluationTrace, orjson.Fragment]] = {}
_READS: dict[int, tuple[StandardsSet, _Reads]] = {}


def _verdict_for(statement: StatementFacts, standards: StandardsSet) -> _Verdict:
    known = _READS.get(id(standards))
    if known is None or known[0] is not standards:
        if len(_READS) >= 16:
            _READS.clear()
        known = _READS[id(standards)] = (standards, _reads(standards))
    key = _verdict_key(statement, standards, known[1])
    held = _VERDICTS.get(key)
    if held is not None and held[0] is standards:
        return held[1]
    verdict = _verdict(statement, standards)
    if held is None and len(_VERDICTS) >= _VERDICTS_MAX:
        _, evicted = _VERDICTS.pop(next(iter(_VERDICTS)))
        _TRACE_JSON.pop(id(evicted.trace), None)
    elif held is not None:
        _TRACE_JSON.pop(id(held[1].trace), None)
    _VERDICTS[key] = (standards, verdict)
    _TRACE_JSON[id(verdict.trace)] = (verdict.trace, verdict.trace_json)
    return verdict


def evaluate_statement(
    statement: StatementFacts, record: LearnerRecord, standards: StandardsSet
) -> Evaluation:
    """Recognise (or not) one statement against a standards set, and accumulate the result.

    Gates (all must pass for anything to be recognised): the institution is in the
    catalog; it is accredited both by the bank (``statement.accredited``) and in the
    catalog; the activity is mapped to a unit; the unit is within the institution's
    scope. Every rule is evaluated regardless, so the trace shows what each would do.
    """
    verdict = _verdict_for(statement, standards)
    unit, winner = verdict.unit, verdict.winner
    decisions: tuple[RecognitionDecision, ...] = ()
    if winner is not None and unit is not None:
        rule, credits = winner
        result = accumulate(
            unit_code=unit.code,
            category=unit.category,
            credits=credits,
            achieved_at=statement.timestamp,
            record=record,
            policy=standards.accumulation,
        )
        decisions = (
            RecognitionDecision(
                unit_code=unit.code,
                unit_title=unit.title,
                category=unit.category,
                level=unit.level,
                credits=credits,
                rule_id=rule.id,
                rule_version=rule.version,
                standards=standards.ref,
                statement_id=statement.statement_id,
                institution_key=statement.institution_key,
                achieved_at=statement.timestamp,
                requires_review=rule.requires_review,
                accumulation=result,
            ),
        )
    return Evaluation(
        statement_id=statement.statement_id,
        standards=standards.ref,
        facts=statement,
        unit_code=unit.code if unit is not None else None,
        recognised=bool(decisions),
        reason=verdict.reason,
        decisions=decisions,
        trace=verdict.trace,
    )
