"""A fixed corpus of engine inputs, to pin what the stored trace says.

Every institution and activity mapping of the shipped standards sets, with verbs
and results that pass, fail and miss each kind of leaf, against records that are
empty, already hold the unit or have a cap (nearly) full. ``test_rules_trace_pinned``
checks the engine's JSON for each case against digests taken before the trace was
built without pydantic models (``digests()`` prints them again, for a deliberate
change of the trace).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from creditbank.rules.accumulation import LearnerRecord
from creditbank.rules.facts import StatementFacts, facts_from_statement
from creditbank.standards.loader import load_standards
from creditbank.standards.schemas import StandardsSet

ROOT = Path(__file__).resolve().parents[2]
VERBS = "http://adlnet.gov/expapi/verbs/"

RESULTS: tuple[dict[str, Any] | None, ...] = (
    None,
    {"score": {"scaled": 0.82}, "success": True, "completion": True},
    {"score": {"scaled": 0.5, "raw": 59}, "success": False},
    {"duration": "PT16H", "completion": True},
    {"duration": "PT7H30M", "success": True, "score": {"raw": 88, "scaled": 0.88}},
    {"extensions": {"https://x.example.cn/ext/grade": "A"}, "success": True},
)
VERB_NAMES = ("passed", "completed", "attended", "failed")
TIMESTAMPS = ("2024-03-01T10:00:00+08:00", "2031-12-31T23:59:59.250000Z")


def _records(standards: StandardsSet, unit: str | None) -> list[tuple[str, LearnerRecord]]:
    records = [("empty", LearnerRecord())]
    if unit is not None:
        records.append(("has-unit", LearnerRecord(credited_units=frozenset({unit}))))
    for cap in standards.accumulation.caps:
        records.append(
            (
                f"cap-{cap.group}",
                LearnerRecord().with_credit(
                    "OTHER", cap.max_credits - Decimal("0.50"), group=cap.group, year=2024
                ),
            )
        )
    return records


def _extra(demo: StandardsSet) -> StandardsSet:
    """The demo set with rules that reach every leaf, ``superseded`` and ``no_unit``."""
    document = demo.model_dump(mode="json", by_alias=True)
    rules = document["recognition"]["rules"]
    common = {"title": {"zh": "附加", "en": "extra"}, "requires_review": True}
    rules.append(
        {
            **common,
            "id": "RX1",
            "version": 2,
            "when": {
                "any": [
                    {"verb_in": [VERBS + "passed", VERBS + "completed"]},
                    {"not": {"completion_is": False}},
                ]
            },
            "credits": {"kind": "unit_credits"},
        }
    )
    rules.append(
        {
            **common,
            "id": "RX2",
            "version": 1,
            "when": {
                "all": [
                    {"institution_accredited": True},
                    {"score_raw_gte": "60"},
                    {"duration_gte": "1.5"},
                    {"hours_gte": "8"},
                    {"timestamp_within": {"from": "2024-01-01T00:00:00+08:00"}},
                    {"registration_in": ["6a4b8f2e-0000-4000-8000-000000000001"]},
                    {
                        "extension_equals": {
                            "scope": "result",
                            "key": "https://x.example.cn/ext/grade",
                            "value": "A",
                        }
                    },
                ]
            },
            "credits": {"kind": "per_hours", "hours": "16", "credits": "1", "step": "0.5"},
        }
    )
    return StandardsSet.model_validate(document)


def cases() -> Iterator[tuple[str, StatementFacts, LearnerRecord, StandardsSet]]:
    """``(name, facts, record, standards)`` of every case, in a fixed order."""
    demo = load_standards(ROOT / "standards" / "demo")
    sets = {
        "demo": demo,
        "hubei-provincial": load_standards(ROOT / "standards" / "hubei-provincial"),
        "extra": _extra(demo),
    }
    for set_name, standards in sets.items():
        for institution in standards.institutions.institutions:
            activities = [m.activity.replace("*", "x1") for m in institution.mappings]
            activities.append("https://unmapped.example.cn/activity")
            for a, activity in enumerate(activities):
                unit = m.unit if (m := institution.mapping_for(activity)) is not None else None
                for v, verb in enumerate(VERB_NAMES):
                    for r, result in enumerate(RESULTS):
                        # Not the whole product: every verb with every result, rotating the rest.
                        accredited = (a + v + r) % 5 != 4
                        timestamp = TIMESTAMPS[(a + r) % 2]
                        body: dict[str, Any] = {
                            "id": f"00000000-0000-4000-8000-{a:04d}{v:04d}{r:04d}",
                            "actor": {"mbox": "mailto:lina@example.cn"},
                            "verb": {"id": VERBS + verb},
                            "object": {"objectType": "Activity", "id": activity},
                            "timestamp": timestamp,
                            "context": {"registration": "6A4B8F2E-0000-4000-8000-000000000001"},
                        }
                        if result is not None:
                            body["result"] = result
                        facts = facts_from_statement(
                            body,
                            institution_key=institution.key,
                            institution_type=institution.type.value,
                            accredited=accredited,
                        )
                        records = _records(standards, unit)
                        label, record = records[(a + v + r) % len(records)]
                        yield (
                            f"{set_name}/{institution.key}/{a}/{verb}/{r}/{label}",
                            facts,
                            record,
                            standards,
                        )


def digest(document: Any) -> str:
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def digests() -> dict[str, str]:
    """One digest per standards set and institution, over its cases' evaluation JSON
    (``python -m tests.rules.engine_corpus`` prints them, to re-pin a deliberate change)."""
    from creditbank.rules.engine import evaluate_statement, evaluation_json

    groups: dict[str, list[Any]] = {}
    for name, facts, record, standards in cases():
        group = "/".join(name.split("/")[:2])
        document = evaluation_json(evaluate_statement(facts, record, standards))
        groups.setdefault(group, []).append([name, document])
    return {group: digest(documents) for group, documents in groups.items()}


if __name__ == "__main__":
    print(json.dumps(digests(), indent=4))  # noqa: T201 - the re-pinning tool
