"""Every context that stores learner data takes part in her export, and says what
erasure does to it: erases it (an eraser) or keeps it for a stated reason."""

from __future__ import annotations

from creditbank.bootstrap import KEPT_ON_ERASURE, register_data_rights
from creditbank.db import Base, import_all_models
from creditbank.identity import data_rights
from creditbank.identity.classification import CATALOG, Level

#: Columns that point at a learner: her id, or one of her agents' identifiers.
LEARNER_COLUMNS = {"learner_id", "ifi", "agent_ifi", "actor_ifi", "actor_key"}
#: identity builds the export and the erasure itself; audit entries are in its export.
BUILT_IN = {"identity", "audit"}


def _context(module: str) -> str:
    return module.split(".")[1]


def _contexts_with_learner_data() -> dict[str, list[str]]:
    import_all_models()
    owner = {
        str(getattr(m.local_table, "name", "")): _context(m.class_.__module__)
        for m in Base.registry.mappers
    }
    found: dict[str, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        columns = [
            column.name
            for column in table.columns
            if column.name in LEARNER_COLUMNS
            and CATALOG[f"{table.name}.{column.name}"].level in {Level.PERSONAL, Level.SENSITIVE}
        ]
        if columns:
            found.setdefault(owner[table.name], []).append(table.name)
    return found


def test_the_check_sees_the_contexts_we_know_hold_learner_data():
    assert {"ledger", "rules", "conversions", "lrs", "identity"} <= set(
        _contexts_with_learner_data()
    )


def test_every_context_with_learner_data_exports_it():
    register_data_rights()
    exporting = {_context(fn.__module__) for fn in data_rights.exporters().values()}
    missing = {
        context: tables
        for context, tables in _contexts_with_learner_data().items()
        if context not in BUILT_IN and context not in exporting
    }
    assert not missing, f"learner data with no exporter (creditbank/bootstrap.py): {missing}"


def test_every_context_with_learner_data_erases_it_or_says_why_it_keeps_it():
    register_data_rights()
    erasing = {_context(fn.__module__) for fn in data_rights.erasers().values()}
    undecided = {
        context: tables
        for context, tables in _contexts_with_learner_data().items()
        if context not in BUILT_IN | erasing | set(KEPT_ON_ERASURE)
    }
    assert not undecided, f"no erasure decision (creditbank/bootstrap.py): {undecided}"
