"""Fixtures of the rules tests: the shipped standards sets and a statement builder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from creditbank.rules.facts import StatementFacts, facts_from_statement
from creditbank.standards.loader import load_standards
from creditbank.standards.schemas import StandardsSet

ROOT = Path(__file__).resolve().parents[2]
VERBS = "http://adlnet.gov/expapi/verbs/"
TYPES = {
    "fxvs": "vocational",
    "syu3a": "senior",
    "fxcc": "community",
    "mooc1": "mooc",
    "hbou": "degree",
    "shady": "training",
}

MakeFacts = Callable[..., StatementFacts]


@pytest.fixture(scope="session")
def demo() -> StandardsSet:
    return load_standards(ROOT / "standards" / "demo")


@pytest.fixture(scope="session")
def provincial() -> StandardsSet:
    return load_standards(ROOT / "standards" / "hubei-provincial")


def build_statement(
    verb: str,
    activity: str,
    result: dict[str, Any] | None = None,
    *,
    timestamp: str = "2024-03-01T10:00:00+08:00",
    statement_id: str = "00000000-0000-4000-8000-000000000001",
    context: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": statement_id,
        "actor": {"account": {"homePage": "https://x.example.cn", "name": "lina"}},
        "verb": {"id": VERBS + verb},
        "object": {"objectType": "Activity", "id": activity},
        "timestamp": timestamp,
    }
    if result is not None:
        body["result"] = result
    if context is not None:
        body["context"] = context
    return body


@pytest.fixture
def make_facts() -> MakeFacts:
    """``make_facts(institution, verb, activity, result, **statement options)``."""

    def make(
        institution: str,
        verb: str,
        activity: str,
        result: dict[str, Any] | None = None,
        *,
        accredited: bool | None = None,
        institution_type: str | None = None,
        **options: Any,
    ) -> StatementFacts:
        return facts_from_statement(
            build_statement(verb, activity, result, **options),
            institution_key=institution,
            institution_type=institution_type or TYPES.get(institution, "training"),
            accredited=(institution != "shady") if accredited is None else accredited,
        )

    return make
