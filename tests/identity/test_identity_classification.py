"""Every column of every table is classified (docs/data-classification.md mirrors the code)."""

from __future__ import annotations

from pathlib import Path

from creditbank.db import Base, import_all_models
from creditbank.identity.classification import CATALOG, Level, render_catalog

ROOT = Path(__file__).resolve().parents[2]


def _columns() -> list[str]:
    import_all_models()
    return [
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
    ]


def test_every_column_is_classified():
    missing = [name for name in _columns() if name not in CATALOG]
    assert not missing, (
        "unclassified columns: add each to creditbank/identity/classification.py CATALOG "
        "and docs/data-classification.md:\n  " + "\n  ".join(missing)
    )


def test_sensitive_columns_are_encrypted_or_indexed():
    for name, item in CATALOG.items():
        if item.level is Level.SENSITIVE:
            assert name.endswith(("_enc", "_index")), name


def test_document_lists_every_catalogued_column():
    text = (ROOT / "docs" / "data-classification.md").read_text(encoding="utf-8")
    missing = [name for name in CATALOG if f"`{name}`" not in text]
    assert not missing, f"docs/data-classification.md lacks: {missing}"


def test_document_catalog_is_generated_from_the_code():
    text = (ROOT / "docs" / "data-classification.md").read_text(encoding="utf-8")
    assert text.endswith(render_catalog()), (
        "run `python -m creditbank.identity.classification` to regenerate the catalog"
    )
