"""The README's webhook example runs as written against a real server and worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import Bank, run_bank

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    yield from run_bank(settings, tmp_path)


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- webhook-example -->\n```python\n(.*?)```", text, re.DOTALL)
    assert match is not None
    return match.group(1)


def test_the_readme_webhook_example_runs(bank: Bank):
    demo = bank.demo
    env = {
        **os.environ,
        "CREDITBANK_URL": bank.url,
        "CREDITBANK_SECRET": demo["institutions"]["fxvs"]["lrs_secret"],
        "CREDITBANK_ADMIN_PASSWORD": demo["users"]["institution_admin"]["password"],
    }
    assert demo["institutions"]["fxvs"]["lrs_key"] == "fxvs-demo"
    result = subprocess.run(
        [sys.executable, "-c", readme_example()],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["statement.recognised CERT-ELEC-4", "delivered 1"]
