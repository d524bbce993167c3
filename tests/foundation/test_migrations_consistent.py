"""The Alembic revisions build exactly the schema the models declare, on both dialects."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from creditbank.db import Base, Database, import_all_models
from creditbank.kit.partitions import schema_comparison_filter


async def test_no_model_change_without_a_migration(db: Database):
    import_all_models()

    def diff(connection: Any) -> list[Any]:
        opts = {
            "compare_type": True,
            "include_object": schema_comparison_filter(connection.dialect.name),
        }
        context = MigrationContext.configure(connection, opts=opts)
        return list(compare_metadata(context, Base.metadata))

    async with db.write_engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == [], f"models and migrations differ: {differences}"
