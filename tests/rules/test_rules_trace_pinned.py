"""The stored trace does not change when the engine is made faster.

``fixtures/engine_trace_digests.json`` holds the digests of the evaluation JSON of
every case of :mod:`tests.rules.engine_corpus` (2,568 statements over the shipped
standards sets and an extra set reaching every leaf and rule status), taken from the
pydantic-model engine before its results became dataclasses serialised by orjson.
A deliberate change of what the trace says re-pins them:
``python -m tests.rules.engine_corpus > tests/rules/fixtures/engine_trace_digests.json``.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.rules.engine_corpus import digests

PINNED = Path(__file__).parent / "fixtures" / "engine_trace_digests.json"


def test_every_case_serialises_as_pinned() -> None:
    assert digests() == json.loads(PINNED.read_text())
