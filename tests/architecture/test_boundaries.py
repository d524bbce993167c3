"""Boundaries as code, the parts import-linter cannot see (its contract is in pyproject.toml):

- the core names no ``api``/``workers`` module by string either (``import_module``);
- nothing but the entry point imports the command line (``creditbank/cli``);
- a context imports only another context's ``service`` and ``schemas`` modules, or
  a module that context publishes (``PUBLISHED``);
- SQL only in ``repository.py`` files.

Known exceptions are listed with the reason; the lists only shrink.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "creditbank"
COMMAND_LINE = CORE / "cli"
OUTER = ("api", "workers", "fastapi", "starlette", "uvicorn")


def _python_files(*bases: Path) -> list[Path]:
    return sorted(p for base in bases for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _core_files() -> list[Path]:
    return [p for p in _python_files(CORE) if COMMAND_LINE not in p.parents]


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _imported(tree: ast.AST) -> list[str]:
    """Absolute module names imported, ``from a.b import c`` counted as ``a.b.c`` too."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


# -- the core and the outer layers ----------------------------------------------------

#: A string naming a module of ours in an outer layer (``"workers.runner"``,
#: ``"api.app:create_app"``); framework names appear as logger names ("uvicorn.error").
_MODULE_PATH = re.compile(r"^(api|workers)(\.[A-Za-z_]\w*)*(:[A-Za-z_]\w*)?$")
#: Dynamic imports whose target is computed, with what they can reach.
DYNAMIC_IMPORTS = {
    "creditbank/db.py": "import_all_models walks creditbank's own packages",
    "creditbank/kit/commands.py": "lazy commands: creditbank modules only, named by literals",
}


@pytest.mark.parametrize("path", _core_files(), ids=_relative)
def test_core_names_no_outer_module_by_string(path: Path) -> None:
    relative = _relative(path)
    problems = []
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _MODULE_PATH.match(node.value)
            and "." in node.value + ":"
        ):
            problems.append(f"line {node.lineno}: {node.value!r}")
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in {"import_module", "__import__"}:
                argument = node.args[0] if node.args else None
                literal = isinstance(argument, ast.Constant)
                if not literal and relative not in DYNAMIC_IMPORTS:
                    problems.append(f"line {node.lineno}: {name} of a computed name")
    assert not problems, f"{relative} names an outer module: {problems}"


def test_nothing_but_the_entry_point_imports_the_command_line() -> None:
    offenders = [
        _relative(path)
        for path in _python_files(CORE, ROOT / "api", ROOT / "workers")
        if COMMAND_LINE not in path.parents
        and any(
            name == "creditbank.cli" or name.startswith("creditbank.cli.")
            for name in _imported(_tree(path))
        )
    ]
    assert not offenders, offenders


# -- contexts -------------------------------------------------------------------------

#: Modules a context offers the others besides ``service`` and ``schemas``.
PUBLISHED: dict[str, set[str]] = {
    # Who is calling, and the one rules table every context asks.
    "identity": {"principal", "authz"},
    # What a job body receives.
    "jobs": {"context"},
    # The xAPI data model: validation, IFIs, formats (pure functions).
    "lrs": {"xapi"},
    # The pure rule language and engine the standards compile to and conversions use.
    "rules": {"ast", "types", "facts", "conversion"},
}
#: Not contexts: the shared kit, and tools that drive every context from outside.
NOT_CONTEXTS = {"kit", "cli", "bench"}
#: Known crossings, to remove (each names who should offer what instead).
ALLOWED_CROSSINGS: set[tuple[str, str]] = set()


def _contexts() -> set[str]:
    return {
        p.name
        for p in CORE.iterdir()
        if p.is_dir() and (p / "__init__.py").exists() and p.name not in NOT_CONTEXTS
    }


def _crossings() -> set[tuple[str, str]]:
    contexts = _contexts()
    found: set[tuple[str, str]] = set()
    for path in _python_files(CORE):
        owner = path.relative_to(CORE).parts[0]
        if owner not in contexts:
            continue
        for name in _imported(_tree(path)):
            parts = name.split(".")
            if parts[0] != "creditbank" or len(parts) < 3:
                continue
            other, module = parts[1], parts[2]
            if other == owner or other not in contexts:
                continue
            if module in {"service", "schemas"} or module in PUBLISHED.get(other, set()):
                continue
            found.add((owner, ".".join(parts[:3])))
    return found


def test_contexts_import_only_each_others_service_schemas_and_published_modules() -> None:
    crossings = _crossings()
    assert crossings <= ALLOWED_CROSSINGS, sorted(crossings - ALLOWED_CROSSINGS)


def test_the_allowed_crossings_are_still_needed() -> None:
    assert _crossings() >= ALLOWED_CROSSINGS, "remove the fixed ones from ALLOWED_CROSSINGS"


# -- SQL ------------------------------------------------------------------------------

#: What builds or runs SQL: query constructs and the calls that execute them.
SQL_CONSTRUCTS = {
    "select", "insert", "update", "delete", "text", "func", "and_", "or_", "not_",
    "exists", "union", "union_all", "case", "literal", "literal_column", "bindparam",
    "true", "false", "null", "tuple_", "values",
}  # fmt: skip
EXECUTE = {"execute", "exec_driver_sql", "scalars", "scalar", "stream", "stream_scalars"}
#: The engines and migrations themselves.
INFRASTRUCTURE = {"creditbank/db.py", "creditbank/migrate.py", "creditbank/backup.py"}
#: Known SQL outside repositories, to move into the context's repository.py.
SQL_ALLOWED = {
    # The rules benchmark counts rows to report its figures.
    "creditbank/bench/rules.py",
}


def _sql_in(path: Path) -> list[str]:
    found = []
    for node in ast.walk(_tree(path)):
        if (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.startswith("sqlalchemy")
        ):
            found += [
                f"line {node.lineno}: {a.name}" for a in node.names if a.name in SQL_CONSTRUCTS
            ]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in EXECUTE
        ):
            found.append(f"line {node.lineno}: .{node.func.attr}()")
    return found


def _sql_files() -> set[str]:
    out = set()
    for path in _core_files():
        relative = _relative(path)
        if path.name in {"repository.py", "models.py"} or relative in INFRASTRUCTURE:
            continue  # models may use text()/func for server defaults
        if _sql_in(path):
            out.add(relative)
    return out


def test_sql_only_in_repositories() -> None:
    offenders = _sql_files() - SQL_ALLOWED
    assert not offenders, {path: _sql_in(ROOT / path) for path in sorted(offenders)}


def test_the_sql_allow_list_only_shrinks() -> None:
    assert _sql_files() >= SQL_ALLOWED, "remove the moved ones from SQL_ALLOWED"
