"""Building the command line's parser loads no command's modules.

Every ``creditbank`` process builds the whole parser first (``serve``, ``worker``,
each CLI call of the tests and of ``make run``), so what a ``register`` imports is
paid by all of them: the benchmarks' transcript signers once cost ``creditbank
--help`` 2.7 s. Commands in heavy modules are named by ``lazy("module:function")``
(:mod:`creditbank.kit.commands`) or import what they run inside their bodies.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

from creditbank.cli import build_parser
from creditbank.kit.commands import LazyCommand

#: Not one of these may be imported by building the parser: the database stack and the
#: migrations, the HTTP client and server, the outer layers, and what the contexts run.
FORBIDDEN_PACKAGES = ("sqlalchemy", "alembic", "httpx", "api", "workers", "fastapi", "uvicorn")
FORBIDDEN_MODULES = ("creditbank.db", "creditbank.migrate", "creditbank.bootstrap")
FORBIDDEN_LEAVES = ("service", "repository", "models", "tasks")
#: Of the benchmarks and the transcripts (the heaviest), only what registers commands.
LIGHT = {
    "creditbank.bench.cli",
    "creditbank.bench.statements",
    "creditbank.transcripts.cli",
    "creditbank.transcripts.keys",  # the transcript-issuer key purpose: `keys --kind`
}


def _heavy(name: str) -> bool:
    if name.split(".")[0] in FORBIDDEN_PACKAGES or name in FORBIDDEN_MODULES:
        return True
    if not name.startswith("creditbank.") or name in LIGHT:
        return False
    if name.startswith(("creditbank.bench.", "creditbank.transcripts.")):
        return True
    return name.rsplit(".", 1)[-1] in FORBIDDEN_LEAVES


def _modules_after_building_the_parser() -> list[str]:
    # A fresh interpreter: this one has imported everything the other tests use.
    code = (
        "import json, sys\n"
        "from creditbank.cli import build_parser\n"
        "build_parser()\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    modules: list[str] = json.loads(result.stdout)
    return modules


def test_building_the_parser_loads_no_command_modules() -> None:
    modules = _modules_after_building_the_parser()
    assert "creditbank.cli" in modules
    heavy = [name for name in modules if _heavy(name)]
    assert not heavy, f"building the parser imports {heavy}"


def _commands(
    parser: argparse.ArgumentParser, path: str = "creditbank"
) -> Iterator[tuple[str, Any]]:
    run = parser.get_default("run")
    if run is not None:
        yield path, run
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{path} {name}")


def test_every_lazy_command_names_a_function_that_exists() -> None:
    commands = dict(_commands(build_parser()))
    lazy = {path: run for path, run in commands.items() if isinstance(run, LazyCommand)}
    assert "creditbank bench transcripts" in lazy
    for path, run in lazy.items():
        assert callable(run.resolve()), f"{path}: {run.target} is not a function"
    assert all(callable(run) for run in commands.values())
