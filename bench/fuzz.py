"""Long fuzzing run (issue 13, B3; not in CI): the ``tests/fuzz`` harness with many
examples and a fresh seed per round, until a time budget is spent.

    python bench/fuzz.py --minutes 60 --examples 200            # both databases, both roles
    python bench/fuzz.py --minutes 10 --db sqlite --seed 1234   # reproduce one round

``make test`` runs the same harness bounded (3 examples per operation and mode,
``derandomize``); this runner sets ``CREDITBANK_FUZZ_EXAMPLES`` and
``CREDITBANK_FUZZ_SEED`` for each round and runs the two fuzz tests with pytest
(PostgreSQL from ``CREDITBANK_TEST_POSTGRES_URL``, as for the tests). Each round
prints the requests sent and the statuses seen; a failing round prints
schemathesis' report (with a curl line to reproduce) and its seed, and the runner
stops with exit status 1. It stops by itself when the budget is spent (a round
under way finishes first).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ["tests/fuzz/test_fuzz_operator.py", "tests/fuzz/test_fuzz_institution.py"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="time budget (default 30)")
    parser.add_argument("--examples", type=int, default=200, help="per operation and mode")
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--seed", type=int, default=None, help="first round's seed")
    args = parser.parse_args()

    seed = args.seed if args.seed is not None else random.randrange(2**32)
    deadline = time.monotonic() + args.minutes * 60
    selection = [] if args.db == "both" else ["-k", args.db]
    rounds = 0
    while time.monotonic() < deadline:
        rounds += 1
        print(f"round {rounds}: seed {seed}, {args.examples} examples", flush=True)
        env = {
            **os.environ,
            "CREDITBANK_FUZZ_EXAMPLES": str(args.examples),
            "CREDITBANK_FUZZ_SEED": str(seed),
        }
        command = [sys.executable, "-m", "pytest", *TESTS, *selection, "-q", "-s", "-x"]
        command += ["-p", "no:cacheprovider"]
        result = subprocess.run(command, cwd=ROOT, env=env, check=False)  # noqa: S603
        if result.returncode != 0:
            print(f"round {rounds} FAILED; reproduce with --seed {seed}", flush=True)
            return 1
        seed = (seed + 1) % 2**32
    print(f"{rounds} round(s) clean", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
