"""An outcome's trace read through its evaluation row is the trace it used to store.

Since ``rules_0003`` an outcome stores no trace of its own: the explanation takes the
reason, the gates, its rule and its accumulation from the evaluation row's detail
(``outcome_trace``). Over every case of the pinned corpus, that is the document the
outcome row carried before (built here the way ``build_rows`` built it), and an
outcome stored before keeps the trace it has.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from creditbank.rules.engine import evaluate_statement, evaluation_bytes
from creditbank.rules.models import Outcome
from creditbank.rules.outcomes import ToStore, build_rows, outcome_trace
from tests.rules.engine_corpus import cases

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _stored_before(result: Any, decision: Any) -> dict[str, Any]:
    """The trace an outcome row carried before rules_0003."""
    rule = next((t for t in result.trace.rules if t.rule_id == decision.rule_id), None)
    document = {
        "reason": result.reason,
        "gates": result.trace.gates,
        "rule": rule,
        "accumulation": decision.accumulation,
    }
    loaded: dict[str, Any] = orjson.loads(evaluation_bytes(document))
    return loaded


def test_every_credited_case_reads_the_trace_it_stored() -> None:
    credited = 0
    for _name, facts, record, standards in cases():
        result = evaluate_statement(facts, record, standards)
        rows = build_rows(ToStore(uuid.uuid4(), uuid.uuid4(), result, "statement"), NOW)
        decisions = [d for d in result.decisions if d.credited > 0]
        assert len(rows.outcomes) == len(decisions)
        for row, decision in zip(rows.outcomes, decisions, strict=True):
            assert row["trace"] is None
            outcome = Outcome(**row)
            assert outcome_trace(outcome, rows.evaluation["detail"]) == _stored_before(
                result, decision
            )
            credited += 1
    assert credited > 100


def test_an_outcome_stored_with_its_trace_keeps_it() -> None:
    outcome = Outcome(rule_id="R1", unit_code="U1", trace={"reason": {"zh": "旧", "en": "old"}})
    assert outcome_trace(outcome, {"reason": {"zh": "新", "en": "new"}}) == outcome.trace
    assert outcome_trace(Outcome(rule_id="R1", unit_code="U1", trace=None), None) is None
