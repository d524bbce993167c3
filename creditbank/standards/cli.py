"""``creditbank standards validate|publish|list|reevaluate``.

``validate DIR`` checks a set directory and prints every problem as
``file:line:column: field: message`` (exit 1 if any). ``publish DIR`` stores it
as an immutable version (publishing identical content again is a no-op; other
content under a published version is refused, exit 1). ``reevaluate VERSION``
prints what the version would change for which learners; ``--apply`` writes the
compensating ledger entries; a bar of the learners done (rate, ETA) goes to stderr
when it is a terminal (``--progress`` / ``--no-progress``).
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
from creditbank.kit.commands import add_progress_arguments

# What the commands run is imported when one runs: building the parser stays cheap.


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _migrate_embedded(settings: Settings) -> None:
    from creditbank.migrate import upgrade

    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)


def _cmd_validate(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.standards.errors import InvalidStandards
    from creditbank.standards.service import standards as standards_service

    try:
        loaded = standards_service.validate(Path(args.directory))
    except InvalidStandards as exc:
        for issue in exc.issues:
            _out(str(issue), err=True)
        _out(f"{len(exc.issues)} problem(s) / 发现 {len(exc.issues)} 个问题", err=True)
        return 1
    meta = loaded.meta
    _out(
        f"ok: {meta.id} {meta.version} (effective {meta.effective_from.isoformat()}), "
        f"{len(loaded.units.units)} units, {len(loaded.recognition.rules)} recognition rules, "
        f"hash {loaded.content_hash}"
    )
    return 0


def _cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.standards.errors import InvalidStandards
    from creditbank.standards.service import standards as standards_service

    try:
        loaded = standards_service.validate(Path(args.directory))
    except InvalidStandards as exc:
        for issue in exc.issues:
            _out(str(issue), err=True)
        return 1
    _migrate_embedded(settings)

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                published = await standards_service.publish(session, loaded, actor=args.actor)
                return {
                    "id": published.row.set_id,
                    "version": published.row.version,
                    "effective_from": published.row.effective_from.isoformat(),
                    "hash": published.row.content_hash,
                    "created": published.created,
                }
        finally:
            await database.dispose()

    try:
        result = asyncio.run(run())
    except DomainError as exc:
        _out(f"creditbank standards publish: {exc.detail}", err=True)
        return 1
    _out(json.dumps(result, ensure_ascii=False))
    return 0


def _cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.standards.service import standards as standards_service

    _migrate_embedded(settings)

    async def run() -> list[dict[str, Any]]:
        database = Database.from_settings(settings)
        try:
            async with database.read_scope() as session:
                rows = await standards_service.list_versions(session)
                return [
                    {
                        "id": r.set_id,
                        "version": r.version,
                        "effective_from": r.effective_from.isoformat(),
                        "hash": r.content_hash,
                        "published_at": r.published_at.isoformat(),
                    }
                    for r in rows
                ]
        finally:
            await database.dispose()

    _out(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))
    return 0


def _cmd_reevaluate(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.kit.progress import progress_bar
    from creditbank.rules.service import rules as rules_service
    from creditbank.standards.service import standards as standards_service

    _migrate_embedded(settings)
    bar = progress_bar(args.progress)
    label = "应用 apply" if args.apply else "重新评估 reevaluate"
    task = bar.add_task(f"{label} (learners)", total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                published = await standards_service.find(session, args.version, set_id=args.set)
                report = await rules_service.reevaluate(
                    session, published, apply=args.apply, actor=args.actor, progress=progress
                )
                return report.as_json()
        finally:
            await database.dispose()

    try:
        with bar:
            result = asyncio.run(run())
    except DomainError as exc:
        _out(f"creditbank standards reevaluate: {exc.detail}", err=True)
        return 1
    _out(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("standards", help="validate, publish and apply standards sets")
    sub = parser.add_subparsers(dest="standards_command", required=True)

    validate = sub.add_parser("validate", help="check a standards set directory")
    validate.add_argument("directory")
    validate.set_defaults(run=_cmd_validate)

    publish = sub.add_parser("publish", help="publish a set directory as an immutable version")
    publish.add_argument("directory")
    publish.add_argument("--actor", default="operator:cli")
    publish.set_defaults(run=_cmd_publish)

    listing = sub.add_parser("list", help="published versions")
    listing.set_defaults(run=_cmd_list)

    reevaluate = sub.add_parser(
        "reevaluate", help="what a version changes for every learner (--apply to write it)"
    )
    reevaluate.add_argument("version")
    reevaluate.add_argument("--set", default=None, help="set id, when versions share a name")
    reevaluate.add_argument("--apply", action="store_true", help="write compensating entries")
    reevaluate.add_argument("--actor", default="operator:cli")
    add_progress_arguments(reevaluate)
    reevaluate.set_defaults(run=_cmd_reevaluate)
