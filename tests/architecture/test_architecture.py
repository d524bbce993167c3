"""Architecture rules as code: dependencies point inward, services never commit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "creditbank"
# The command line is an outer layer beside api/ and workers/ (it starts both).
COMMAND_LINE = CORE / "cli"
# Entry points that own a transaction's end: the session scopes and the CLI.
MAY_COMMIT = {"creditbank/db.py", "creditbank/cli/__init__.py"}


def _python_files(base: Path) -> list[Path]:
    return sorted(p for p in base.rglob("*.py") if "__pycache__" not in p.parts)


def _core_files() -> list[Path]:
    return [p for p in _python_files(CORE) if COMMAND_LINE not in p.parents]


def _imports(tree: ast.AST) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_core_never_imports_http_or_entry_points(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    forbidden = [
        name
        for name in _imports(tree)
        if name.split(".")[0] in {"fastapi", "starlette", "api", "workers"}
    ]
    assert not forbidden, f"{path.relative_to(ROOT)} imports {forbidden}"


@pytest.mark.parametrize("path", _python_files(CORE), ids=lambda p: str(p.relative_to(ROOT)))
def test_services_and_repositories_never_commit(path: Path):
    relative = str(path.relative_to(ROOT))
    if relative in MAY_COMMIT or "/bench/" in relative:
        return
    tree = ast.parse(path.read_text(encoding="utf-8"))
    commits = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "commit"
    ]
    assert not commits, f"{relative} calls commit() at lines {commits}"


def test_routers_contain_no_sql():
    offenders = []
    for path in _python_files(ROOT / "api"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(name == "sqlalchemy" or name.startswith("sqlalchemy.") for name in _imports(tree)):
            relative = str(path.relative_to(ROOT))
            # deps/health need engine types and SELECT 1; nothing else may.
            if relative not in {"api/deps.py", "api/health.py"}:
                for node in ast.walk(tree):
                    if (
                        isinstance(node, ast.ImportFrom)
                        and node.module
                        and (node.module.startswith("sqlalchemy"))
                        # Exception types are not SQL (api/errors.py maps database errors).
                        and node.module != "sqlalchemy.exc"
                    ):
                        names = {alias.name for alias in node.names}
                        if names - {"AsyncSession"}:
                            offenders.append(f"{relative}: {sorted(names)}")
    assert not offenders, offenders
