"""JSON Schema of the standards format, for editors and CI.

``standards/schema/standards.schema.json`` is :func:`export_json_schema`'s output,
committed; a test checks they agree. Each file of a set is described under
``properties`` by its file name, e.g. ``standards.schema.json#/properties/units.yaml``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from creditbank.rules.facts import describe_facts
from creditbank.standards.loader import MODELS
from creditbank.standards.schemas import FILES

__all__ = ["SCHEMA_ID", "export_json_schema", "schema_text", "write_json_schema"]

SCHEMA_ID = "https://creditbank.example.cn/schemas/standards.schema.json"


def export_json_schema() -> dict[str, Any]:
    """One JSON Schema (draft 2020-12) with a property per file of a standards set."""
    refs, top = models_json_schema(
        [(model, "validation") for model in MODELS.values()],
        ref_template="#/$defs/{model}",
    )
    properties = {FILES[part]: refs[(model, "validation")] for part, model in MODELS.items()}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "creditbank standards set (学分银行标准集)",
        "description": (
            "Each property is one YAML file of a standards set directory; validate a file "
            "against #/properties/<file name>."
        ),
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        "$defs": top.get("$defs", {}),
        "x-creditbank-facts": describe_facts(),
    }


def schema_text() -> str:
    """The schema as committed: indented, sorted keys, UTF-8, trailing newline."""
    return json.dumps(export_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_json_schema(path: Path) -> None:
    """Write :func:`schema_text` to ``path`` (``python -m creditbank.standards.schema``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(schema_text(), encoding="utf-8")


if __name__ == "__main__":  # pragma: no cover
    write_json_schema(
        Path(__file__).resolve().parents[2] / "standards/schema/standards.schema.json"
    )
