"""``creditbank bench import``: rows per second of a CSV import (check + store).

Against the configured database (use a throwaway one): makes a CSV of ``--rows``
rows (learner, course, result, score, hours, date) for a bench institution
(created when missing), then times ``creditbank import``'s work: read, convert,
validate every row, check against stored statements, store in one transaction
(one ``lrs.statement_stored`` job per statement, as for ``POST /xapi``). A second
run of the same file (every row unchanged, nothing stored) is timed too.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from typing import Any

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.migrate import upgrade

MAPPING = """\
learner: {column: 学号}
activity: {column: 课程代码, base: "https://bench-import.example.edu.cn/courses/"}
verb: {column: 结果, default: completed, values: {通过: passed, 完成: completed, 未通过: failed}}
score: {column: 成绩, min: 0, max: 100, pass: 60}
hours: {column: 学时}
date: {column: 日期}
"""


def make_csv(rows: int, seed: str) -> bytes:
    lines = ["学号,课程代码,结果,成绩,学时,日期"]
    results = ("通过", "完成", "未通过")
    for n in range(rows):
        day = 1 + n % 28
        month = 1 + (n // 28) % 12
        lines.append(
            f"{seed}{n:07d},C{n % 50:03d},{results[n % 3]},{n % 101},{n % 40},"
            f"2024-{month:02d}-{day:02d}"
        )
    return ("\n".join(lines) + "\n").encode("gb18030")


async def run_bench(settings: Settings, rows: int) -> list[str]:
    from creditbank.identity.service import identity as identity_service
    from creditbank.imports.cli import CLI_OPERATOR
    from creditbank.imports.service import imports

    database = Database.from_settings(settings)
    content = make_csv(rows, uuid.uuid4().hex[:6])
    lines = []
    try:
        async with database.session_scope() as session:
            if await identity_service.find_institution(session, "bench-import") is None:
                await identity_service.create_institution(
                    session,
                    key="bench-import",
                    name_zh="导入基准学校",
                    type="vocational",
                    home_pages=["https://bench-import.example.edu.cn"],
                    accredited=True,
                )
        for attempt in ("first import", "re-import (unchanged)"):
            started = time.perf_counter()
            async with database.session_scope() as session:
                analysis, batch = await imports.run(
                    session,
                    CLI_OPERATOR,
                    "bench-import",
                    filename="bench.csv",
                    content=content,
                    mapping_text=MAPPING,
                    dry_run=False,
                )
            elapsed = time.perf_counter() - started
            result: dict[str, Any] = (batch.result if batch else None) or {}
            lines.append(
                f"{attempt}: {analysis.rows} rows in {elapsed:.1f} s "
                f"({analysis.rows / elapsed:.0f} rows/s), created {result.get('created', 0)}, "
                f"unchanged {result.get('unchanged', 0)}, errors {len(analysis.errors)} "
                f"[{database.dialect}]"
            )
    finally:
        await database.dispose()
    return lines


def _cmd_bench_import(args: argparse.Namespace, settings: Settings) -> int:
    if settings.is_sqlite and settings.auto_migrate:
        upgrade(settings.database_url)
    for line in asyncio.run(run_bench(settings, args.rows)):
        sys.stdout.write(line + "\n")
    return 0
