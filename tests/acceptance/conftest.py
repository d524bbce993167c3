"""The ``bank`` fixture of the li-na acceptance tests (helpers in ``li_na.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import Bank, run_bank


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    yield from run_bank(settings, tmp_path)
