"""The committed JSON Schema is the one the models export."""

from __future__ import annotations

import json
from pathlib import Path

from creditbank.standards.schema import export_json_schema, schema_text

COMMITTED = Path(__file__).resolve().parents[2] / "standards" / "schema" / "standards.schema.json"


def test_committed_schema_is_up_to_date():
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "standards/schema/standards.schema.json is stale: "
        "run `.venv/bin/python -m creditbank.standards.schema`"
    )


def test_schema_describes_every_file_and_condition():
    schema = export_json_schema()
    assert sorted(schema["properties"]) == sorted(
        ["set.yaml", "framework.yaml", "units.yaml", "institutions.yaml", "recognition.yaml",
         "accumulation.yaml", "conversion.yaml"]
    )  # fmt: skip
    text = json.dumps(schema)
    for kind in ("verb_in", "score_scaled_gte", "per_hours", "any_n_of", "extension_equals"):
        assert kind in text
    assert {fact["name"] for fact in schema["x-creditbank-facts"]} >= {"verb_id", "scaled"}
