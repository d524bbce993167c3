"""``creditbank bench ...``: every benchmark's flags, and which module runs it.

The benchmarks drive every context (the transcripts' signers, the rules worker, the
dataset loader), so their modules are heavy; each is imported only when its command
runs (:func:`creditbank.kit.commands.lazy`), not whenever the parser is built.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from creditbank.bench.statements import INSTITUTIONS
from creditbank.kit.commands import add_progress_arguments, lazy


def _connection_flags(
    parser: argparse.ArgumentParser, *, credentials_required: bool = True
) -> None:
    parser.add_argument("--url", required=True, help="base URL of the server")
    parser.add_argument("--key", required=credentials_required, help="LRS credential key")
    parser.add_argument("--secret", required=credentials_required, help="LRS credential secret")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)


def register(subparsers: Any) -> None:
    """Adds ``bench ingest|query|rules|import|transcripts|dataset|balance|dashboard``."""
    bench = subparsers.add_parser("bench", help="load a running server and report latencies")
    sub = bench.add_subparsers(dest="bench_command", required=True)
    _register_http(sub)
    _register_rules(sub)
    _register_import(sub)
    _register_transcripts(sub)
    _register_dataset(sub)


def _register_http(sub: Any) -> None:
    ingest = sub.add_parser("ingest", help="POST batches of statements concurrently")
    _connection_flags(ingest)
    ingest.add_argument("--statements", type=int, default=20000)
    ingest.add_argument("--batch", type=int, default=100)
    ingest.add_argument(
        "--home-page",
        default=INSTITUTIONS[0][0],
        help="the actors' account homePage: the credential's institution's own "
        f"(default {INSTITUTIONS[0][0]}, the demo fxvs)",
    )
    ingest.set_defaults(run=lazy("creditbank.bench.runner:_cmd_ingest"))
    query = sub.add_parser("query", help="GET queries by agent, verb, activity, ...")
    _connection_flags(query, credentials_required=False)
    query.add_argument("--queries", type=int, default=100, help="queries per kind")
    query.add_argument(
        "--dataset",
        type=Path,
        help="the file `bench dataset --credentials` wrote: draw every probe from that "
        "dataset (and read with its reader credential unless --key is given)",
    )
    query.set_defaults(run=lazy("creditbank.bench.runner:_cmd_query"))


def _register_rules(sub: Any) -> None:
    rules = sub.add_parser(
        "rules", help="statements/s through recognition and accumulation, 1 and 2 workers"
    )
    rules.add_argument("--statements", type=int, default=2000)
    rules.add_argument("--learners", type=int, default=100)
    rules.add_argument("--batch", type=int, default=200)
    rules.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2,4")
    rules.add_argument(
        "--unlinked",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="share of the statements (0-1) sent from accounts linked to no learner (held)",
    )
    rules.add_argument("--seed", type=int, default=7)
    rules.add_argument("--timeout", type=float, default=600)
    rules.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    rules.add_argument("--allow-sqlite", action="store_true")
    rules.set_defaults(run=lazy("creditbank.bench.rules:_cmd_rules"))


def _register_import(sub: Any) -> None:
    command = sub.add_parser("import", help="time a CSV import of --rows rows (direct to the DB)")
    command.add_argument("--rows", type=int, default=100_000)
    command.set_defaults(run=lazy("creditbank.imports.bench:_cmd_bench_import"))


def _register_transcripts(sub: Any) -> None:
    parser = sub.add_parser(
        "transcripts", help="issue and verify throughput of transcripts, verify latency"
    )
    parser.add_argument("--transcripts", type=int, default=200, help="distinct credentials")
    parser.add_argument("--verifications", type=int, default=10000)
    parser.add_argument("--outcomes", type=int, default=4, help="outcomes per transcript")
    parser.add_argument("--algorithms", default="RS256,ES256,EdDSA", help="comma-separated")
    parser.add_argument("--sm2", action="store_true", help="also the parallel SM2 proof")
    parser.add_argument("--url", default=None, help="also POST to this server's verify")
    parser.add_argument("--requests", type=int, default=2000, help="with --url")
    parser.add_argument("--concurrency", type=int, default=4, help="with --url")
    parser.set_defaults(run=lazy("creditbank.bench.transcripts:_cmd_transcripts"))


def _register_dataset(sub: Any) -> None:
    dataset = sub.add_parser(
        "dataset", help="load a seeded, reproducible dataset (statements, learners, outcomes)"
    )
    dataset.add_argument("--statements", type=int, default=1_000_000)
    dataset.add_argument("--learners", type=int, default=100_000)
    dataset.add_argument("--institutions", type=int, default=200)
    dataset.add_argument("--seed", type=int, default=14)
    dataset.add_argument(
        "--outcomes", type=float, default=0.2, help="share of passed/completed statements credited"
    )
    dataset.add_argument("--days", type=int, default=365, help="spread stored over these days")
    dataset.add_argument(
        "--credit-attended",
        action="store_true",
        help="credit attended statements too (1M with --outcomes 0.9: ~500k ledger entries)",
    )
    dataset.add_argument(
        "--ingest", action="store_true", help="through the LRS service instead of bulk rows"
    )
    dataset.add_argument("--batch", type=int, default=100, help="statements per --ingest batch")
    dataset.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    dataset.add_argument(
        "--credentials",
        type=Path,
        help="write the LRS keys and secrets (and a statements/read one) to this file",
    )
    add_progress_arguments(dataset)
    dataset.set_defaults(run=lazy("creditbank.bench.dataset:_cmd_dataset"))
    balance = sub.add_parser("balance", help="p50/p95 of a learner's balance with E ledger entries")
    balance.add_argument("--entries", type=int, default=5000)
    balance.add_argument("--reads", type=int, default=500)
    balance.add_argument("--migrate", action="store_true", help="upgrade the schema first")
    balance.set_defaults(run=lazy("creditbank.bench.dataset:_cmd_balance"))
    dashboard = sub.add_parser(
        "dashboard", help="time the operator dashboard's aggregates on the database"
    )
    dashboard.add_argument("--runs", type=int, default=20)
    dashboard.set_defaults(run=lazy("creditbank.bench.dataset:_cmd_dashboard"))
