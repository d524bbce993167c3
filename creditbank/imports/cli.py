"""``creditbank import FILE --institution KEY --mapping FILE [--dry-run]``.

Reads the file, checks every row (errors are listed with row, column, value and
what is wrong, in Chinese and English) and, unless ``--dry-run`` or a row is wrong,
stores the new statements in one transaction. A progress bar (rows, rate, ETA; rich)
goes to stderr when it is a terminal, the summary to stdout (``--json`` for scripts).
Exit 0 imported (or dry run clean), 1 row errors or a refused file (nothing stored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from creditbank.config import Settings
from creditbank.errors import DomainError
from creditbank.identity.principal import Principal
from creditbank.kit.commands import add_progress_arguments

# What the command runs is imported when it runs: building the parser stays cheap.

#: The command line acts as the operator (it has the database's credentials anyway).
CLI_OPERATOR = Principal(kind="user", roles=frozenset({"operator"}), label="cli")
SHOWN_ERRORS = 50


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.imports.service import imports
    from creditbank.kit.progress import progress_bar
    from creditbank.migrate import upgrade

    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)
    path = Path(args.file)
    try:
        content = path.read_bytes()
        mapping_text = Path(args.mapping).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        _out(f"creditbank import: {exc}", err=True)
        return 1
    # --json is for scripts: no bar unless asked for.
    bar = progress_bar(False if args.json and args.progress is None else args.progress)
    tasks: dict[str, Any] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            label = {"check": "检查 check", "store": "导入 store"}.get(stage, stage)
            tasks[stage] = bar.add_task(label, total=total)
        bar.update(tasks[stage], completed=done)

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                analysis, batch = await imports.run(
                    session,
                    CLI_OPERATOR,
                    args.institution,
                    filename=path.name,
                    content=content,
                    mapping_text=mapping_text,
                    dry_run=args.dry_run,
                    progress=progress,
                )
        finally:
            await database.dispose()
        return {
            "file": path.name,
            "institution": args.institution,
            "dry_run": args.dry_run,
            "rows": analysis.rows,
            "valid": len(analysis.statements),
            "errors": [e.as_dict() for e in analysis.errors],
            "duplicate_rows": analysis.duplicate_rows,
            "new": analysis.count("new"),
            "unchanged": analysis.count("same"),
            "conflicts": analysis.count("conflict"),
            "conflict_rows": analysis.conflict_rows(),
            "import_id": str(batch.id) if batch is not None else None,
            "created": (batch.result or {}).get("created", 0) if batch is not None else 0,
        }

    try:
        with bar:
            summary = asyncio.run(run())
    except DomainError as exc:
        if args.json:
            _out(json.dumps({"error": exc.code, "detail": exc.detail}, ensure_ascii=False))
        else:
            _out(f"creditbank import: {exc.detail} [{exc.code}]", err=True)
            _out("nothing stored / 未导入任何记录", err=True)
        return 1
    if args.json:
        _out(json.dumps(summary, ensure_ascii=False))
    else:
        _print_summary(summary)
    return 1 if summary["errors"] else 0


def _print_summary(summary: dict[str, Any]) -> None:
    errors = summary["errors"]
    for error in errors[:SHOWN_ERRORS]:
        column = f" [{error['column']}]" if error["column"] else ""
        value = f" {error['value']!r}" if error["value"] is not None else ""
        _out(
            f"row {error['row']}{column}{value}: {error['message']['en']} / "
            f"第 {error['row']} 行{column}{value}：{error['message']['zh-CN']}",
            err=True,
        )
    if len(errors) > SHOWN_ERRORS:
        _out(f"... {len(errors) - SHOWN_ERRORS} more error(s)", err=True)
    for row in summary["conflict_rows"][:SHOWN_ERRORS]:
        _out(f"row {row['row']}: conflict / 冲突: {row['message']['en']}", err=True)
    if errors:
        verdict = f"{len(errors)} row error(s), nothing stored / {len(errors)} 处错误，未导入"
    elif summary["dry_run"]:
        verdict = "dry run, nothing stored / 试运行，未写入"
    else:
        verdict = f"imported {summary['created']} new statement(s) / 已导入 {summary['created']} 条"
    _out(
        f"{summary['file']}: {summary['rows']} rows, {summary['valid']} valid, "
        f"{summary['new']} new, {summary['unchanged']} unchanged, "
        f"{summary['conflicts']} conflicting, {summary['duplicate_rows']} duplicate rows; "
        + verdict
    )


def register(subparsers: Any) -> None:
    command = subparsers.add_parser(
        "import", help="import a CSV or .xlsx file of learning records as xAPI statements"
    )
    command.add_argument("file", help="the CSV or .xlsx file")
    command.add_argument("--institution", required=True, help="the institution's key")
    command.add_argument("--mapping", required=True, help="the column-mapping YAML file")
    command.add_argument("--dry-run", action="store_true", help="check only, store nothing")
    command.add_argument("--json", action="store_true", help="print the summary as JSON")
    add_progress_arguments(command)
    command.set_defaults(run=_cmd_import)
