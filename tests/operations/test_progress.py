"""Progress bars of the long commands: on stderr with a count, a rate and an ETA when
asked for (``--progress``), never when stderr is not a terminal or with
``--no-progress``; stdout, which scripts parse, is the same either way."""

from __future__ import annotations

import json
import re
from pathlib import Path

from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import cli, cli_env
from tests.portal.helpers_portal import load_story

TINY = ["--statements", "300", "--learners", "30", "--institutions", "2", "--seed", "9"]
BAR = re.compile(r"\d+/\d+ [\d,]+/s \d:\d\d:\d\d ETA")


async def test_bench_dataset_bar_goes_to_stderr(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    shown = cli(["bench", "dataset", *TINY, "--progress"], env)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "数据集 statements" in shown.stderr
    assert "300/300" in shown.stderr
    assert BAR.search(shown.stderr), shown.stderr
    assert re.search(r"^dataset statements: 300 statements ", shown.stdout, re.M), shown.stdout
    assert "ETA" not in shown.stdout


async def test_bench_dataset_without_the_bar(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    quiet = cli(["bench", "dataset", *TINY, "--ingest", "--progress", "--no-progress"], env)
    assert quiet.returncode == 2  # one or the other
    quiet = cli(["bench", "dataset", *TINY, "--no-progress"], env)
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr
    assert "数据集" not in quiet.stderr
    assert re.search(r"^dataset statements: 300 statements ", quiet.stdout, re.M)


async def test_standards_reevaluate_bar_goes_to_stderr(
    settings: Settings, db: Database, tmp_path: Path
) -> None:
    demo = await load_story(db, settings)
    env = cli_env(settings, tmp_path, in_process=False)
    version = demo["standards"]["version"]
    silent = cli(["standards", "reevaluate", version], env)  # stderr is a pipe: no bar
    assert silent.returncode == 0, silent.stderr
    assert "reevaluate" not in silent.stderr
    report = json.loads(silent.stdout)
    assert report["learners_considered"] >= 1
    for args in (["--progress"], ["--progress", "--apply"]):
        shown = cli(["standards", "reevaluate", version, *args], env)
        assert shown.returncode == 0, shown.stderr
        label = "应用 apply" if "--apply" in args else "重新评估 reevaluate"
        assert label in shown.stderr
        learners = report["learners_considered"]
        assert f"{learners}/{learners}" in shown.stderr
        assert BAR.search(shown.stderr), shown.stderr
        assert json.loads(shown.stdout)["learners_considered"] == report["learners_considered"]
