"""The ``creditbank`` command line: an outer layer, like ``api`` and ``workers``.

It starts the HTTP server and the worker, so it imports ``api`` and ``workers``;
the core never imports it (``tests/architecture`` and the import-linter contracts in
``pyproject.toml`` check both). Contexts contribute sub-commands through their own
``cli`` modules (``EXTENSIONS``), which are core and must not import ``api``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from creditbank.config import Settings, get_settings

#: What a sub-command runs. What it needs (``api``, ``workers``, the database, the
#: migrations, a context's services) is imported when it runs, so building the parser
#: stays cheap: ``creditbank worker`` loads neither the web stack nor the benchmarks'
#: transcript signers (``tests/architecture/test_command_line.py`` checks it).
Command = Callable[[argparse.Namespace, Settings], int]


def _cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.migrate import upgrade

    upgrade(settings.database_url)
    print("migrated to head", file=sys.stderr)
    return 0


def _cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from creditbank.identity.tokens import ensure_keys
    from creditbank.kit.crypto import KeyringError
    from creditbank.kit.logging import configure_logging
    from creditbank.migrate import upgrade

    try:
        # Here rather than inside uvicorn: a refusal is one line, not a traceback.
        ensure_keys(settings)
    except (KeyringError, OSError, ValueError) as exc:
        print(f"creditbank: refusing to start: {exc}", file=sys.stderr)
        return 2
    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)
    configure_logging(settings.log_level)
    from api.app import create_production_app

    uvicorn.run(
        create_production_app,
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        log_config=None,
        access_log=False,
        # X-Forwarded-For only from the configured proxies: anyone else could name
        # any address and walk around the per-address limits.
        proxy_headers=bool(settings.trusted_proxies),
        forwarded_allow_ips=",".join(settings.trusted_proxies) or "",
    )
    return 0


def _cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from workers import runner

    result: int = runner.main(settings, once=args.once)
    return result


def _cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    from creditbank.db import Database
    from creditbank.demo import load_demo
    from creditbank.migrate import upgrade

    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)

    async def run() -> dict[str, Any]:
        database = Database.from_settings(settings)
        try:
            async with database.session_scope() as session:
                if args.alliance:
                    from creditbank.demo_alliance import load_alliance_demo

                    return await load_alliance_demo(session, settings)
                data = await load_demo(session, settings)
            if args.story:
                from creditbank.demo import tell_the_story

                # The worker's own job bodies, run to completion in this process.
                from workers import runner

                worker = runner.Worker(database, settings)
                data["story"] = await tell_the_story(database, settings, data, worker.drain)
            return data
        finally:
            await database.dispose()

    data = asyncio.run(run())
    if args.json or args.alliance:
        print(json.dumps(data, ensure_ascii=False, indent=None if args.json else 2))
        return 0
    base = f"http://{settings.host}:{settings.port}"
    print("Demo institutions (李娜 scenario) and their LRS credentials:\n")
    for key, item in data["institutions"].items():
        print(
            f"  {key:6} {item['name']:<12} {item['type']:<10} "
            f"{item['lrs_key']} / {item['lrs_secret']}"
        )
    print(
        "  (scopes: statements/write, statements/read/mine, state, profile, define: each "
        "reads back only its own institution's statements)"
    )
    conformance = data.get("conformance")
    if conformance:
        print(
            f"\n  {conformance['lrs_key']} / {conformance['lrs_secret']}\n"
            f"    {conformance['label']}"
        )
    users = data.get("users", {})
    if users:
        print("\nDemo users (POST /api/v1/auth/login):\n")
        for role in ("learner", "certifier", "operator", "institution_admin"):
            if role in users:
                print(f"  {role:17} {users[role]['username']:<11} {users[role]['password']}")
        if "learner" in users:
            print(f"  李娜's bank id: {users['learner']['bank_id']}")
    if "story" in data and users:
        print(f"\nThe portal: open {base}/ in a browser (简体中文; English at the top right).\n")
        learner, certifier = users["learner"], users["certifier"]
        print(
            f"  1. Sign in as {learner['username']} / {learner['password']} (李娜): "
            "我的学分 shows banked 10.0, available 4.0;\n"
            "     学分账目 → 说明 explains each entry (rule, outcome, statements)."
        )
        print(
            f"  2. Sign in as {certifier['username']} / {certifier['password']} (王老师): "
            "审核队列 has 李娜's C2 waiting; open it, approve or reject with a reason."
        )
        for role, what in (
            ("institution_admin", "机构管理: fxvs's LRS credentials (the secret shown once)"),
            ("operator", "机构与认证: institutions and their accreditation"),
        ):
            if role in users:
                print(f"  -  {users[role]['username']} / {users[role]['password']}: {what}")
    fxvs = data["institutions"]["fxvs"]
    print("\nTry it:\n")
    print(
        f"  curl -u {fxvs['lrs_key']}:{fxvs['lrs_secret']} \\\n"
        "       -H 'X-Experience-API-Version: 1.0.3' \\\n"
        f"       -H 'Content-Type: application/json' {base}/xapi/statements \\\n"
        '       -d \'{"actor":{"account":{"homePage":"https://fxvs.example.edu.cn",'
        '"name":"20230001"}},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed",'
        '"display":{"zh-CN":"通过"}},"object":{"id":'
        '"https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"},'
        '"result":{"score":{"scaled":0.82}}}\''
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="creditbank", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the HTTP API (migrates the embedded default)")
    serve.add_argument("--host", default=None)
    serve.add_argument("--port", type=int, default=None)
    serve.set_defaults(run=_cmd_serve)

    migrate = sub.add_parser("migrate", help="upgrade the database to the latest schema")
    migrate.set_defaults(run=_cmd_migrate)

    worker = sub.add_parser("worker", help="process background jobs")
    worker.add_argument("--once", action="store_true", help="drain due jobs, then exit")
    worker.set_defaults(run=_cmd_worker)

    demo = sub.add_parser("demo", help="load the li-na demo institutions and credentials")
    demo.add_argument("--json", action="store_true", help="print only JSON for scripts")
    demo.add_argument(
        "--no-story",
        dest="story",
        action="store_false",
        help="only institutions, users and standards: do not replay 李娜's statements",
    )
    demo.add_argument(
        "--alliance",
        action="store_true",
        help="load the university alliance story instead (standards/hubei-alliance)",
    )
    demo.set_defaults(run=_cmd_demo)

    for module_name in EXTENSIONS:
        importlib.import_module(module_name).register(sub)
    return parser


#: Modules with ``register(subparsers)`` adding more commands (bench, standards, ledger...).
EXTENSIONS: tuple[str, ...] = (
    "creditbank.bench.cli",
    "creditbank.ledger.cli",
    "creditbank.standards.cli",
    # before identity: its `keys --kind` choices list the transcript-issuer purpose
    "creditbank.transcripts.cli",
    "creditbank.identity.cli",
    "creditbank.imports.cli",
    "creditbank.backup",
)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = get_settings()
    except ValueError as exc:
        # One line: pydantic's message spans several.
        reasons = [str(e.get("msg", e)) for e in getattr(exc, "errors", lambda: [])()] or [str(exc)]
        print(f"creditbank: {'; '.join(reasons)}".replace("\n", " "), file=sys.stderr)
        return 2
    from creditbank.bootstrap import register_data_rights

    register_data_rights()
    code: int = args.run(args, settings)
    return code
