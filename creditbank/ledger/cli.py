"""``creditbank ledger verify|audit|checkpoint``: the ledger's command line.

``verify`` re-computes every hash chain (or one learner's) and names the first
broken entry; exit code 1 if any. ``checkpoint`` signs a checkpoint now and can
write its document to a file. ``audit CHECKPOINT_FILE`` proves that the current
ledger extends a checkpoint without rewriting it; the signature is checked
against the bank's keys (or ``--jwks FILE`` for an outside auditor).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path
from typing import Any

from creditbank.config import Settings

# What the commands run is imported when one runs: building the parser stays cheap.


def _out(text: str, *, err: bool = False) -> None:
    (sys.stderr if err else sys.stdout).write(text + "\n")


def _migrate_embedded(settings: Settings) -> None:
    from creditbank.migrate import upgrade

    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)


def _cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.ledger.service import ledger

    _migrate_embedded(settings)
    try:
        learner = uuid.UUID(args.learner) if args.learner else None
    except ValueError:
        _out(f"creditbank ledger verify: not a learner id: {args.learner!r}", err=True)
        return 2

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.read_scope() as session:
                report = await ledger.verify(session, learner_id=learner)
        finally:
            await database.dispose()
        return {
            "ok": report.ok,
            "learners": report.learners,
            "entries": report.entries,
            "problems": [
                {
                    "learner_id": str(p.learner_id),
                    "seq": p.seq,
                    "entry_id": None if p.entry_id is None else str(p.entry_id),
                    "reason": p.reason,
                }
                for p in report.problems
            ],
        }

    result = asyncio.run(run())
    if args.json:
        _out(json.dumps(result, ensure_ascii=False))
    else:
        _out(f"checked {result['entries']} entries of {result['learners']} learners")
        for p in result["problems"]:
            _out(
                f"BROKEN learner {p['learner_id']} entry seq={p['seq']} id={p['entry_id']}: "
                f"{p['reason']}"
            )
        _out(
            "ledger verifies / 账本校验通过" if result["ok"] else "ledger is BROKEN / 账本校验失败"
        )
    return 0 if result["ok"] else 1


def _cmd_checkpoint(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.ledger.checkpoints import checkpoints

    _migrate_embedded(settings)

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                checkpoint = await checkpoints.create(session, settings)
                if checkpoint is None:  # only the hourly job skips unchanged roots
                    raise RuntimeError("no checkpoint was created")
                return checkpoints.document(checkpoint, settings)
        finally:
            await database.dispose()

    document = asyncio.run(run())
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
        _out(f"checkpoint {document['statement']['id']} written to {args.out}", err=True)
    else:
        _out(text)
    return 0


def _cmd_audit(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.ledger.checkpoints import checkpoints
    from creditbank.ledger.keys import load_keys

    try:
        document = json.loads(Path(args.checkpoint_file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        _out(f"creditbank ledger audit: cannot read {args.checkpoint_file}: {exc}", err=True)
        return 2
    if args.jwks:
        data = json.loads(Path(args.jwks).read_text(encoding="utf-8"))
        trusted = list(data.get("keys", data if isinstance(data, list) else []))
    else:
        trusted = load_keys(settings).jwks()

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.read_scope() as session:
                report = await checkpoints.audit(session, document, trusted_keys=trusted)
        finally:
            await database.dispose()
        return {
            "ok": report.ok,
            "checkpoint_id": report.checkpoint_id,
            "learners": report.learners,
            "entries_at_checkpoint": report.entries_at_checkpoint,
            "entries_now": report.entries_now,
            "problems": report.problems,
        }

    result = asyncio.run(run())
    if args.json:
        _out(json.dumps(result, ensure_ascii=False))
    else:
        _out(
            f"checkpoint {result['checkpoint_id']}: {result['learners']} chains, "
            f"{result['entries_at_checkpoint']} entries then, {result['entries_now']} now"
        )
        for problem in result["problems"]:
            _out(f"PROBLEM {problem}")
        _out(
            "history extends the checkpoint / 账本历史与检查点一致"
            if result["ok"]
            else "audit FAILED / 审计未通过"
        )
    return 0 if result["ok"] else 1


def _cmd_rotate_key(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.ledger.keys import rotate

    kid = rotate(settings)
    _out(f"new checkpoint signing key {kid}; older keys stay for verification")
    return 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ledger", help="verify and audit the credit ledger")
    sub = parser.add_subparsers(dest="ledger_command", required=True)

    verify = sub.add_parser(
        "verify", help="re-compute the hash chains; name the first broken entry"
    )
    verify.add_argument("--learner", default=None, help="only this learner's chain (uuid)")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(run=_cmd_verify)

    checkpoint = sub.add_parser("checkpoint", help="sign a checkpoint of every chain head now")
    checkpoint.add_argument("--out", default=None, help="write the checkpoint document here")
    checkpoint.set_defaults(run=_cmd_checkpoint)

    audit = sub.add_parser("audit", help="prove the ledger extends a checkpoint document")
    audit.add_argument("checkpoint_file")
    audit.add_argument("--jwks", default=None, help="trusted public keys (JWKS JSON)")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(run=_cmd_audit)

    rotate_key = sub.add_parser(
        "rotate-key",
        help="new checkpoint signing key, old ones kept (= keys rotate --kind ledger-checkpoints)",
    )
    rotate_key.set_defaults(run=_cmd_rotate_key)
