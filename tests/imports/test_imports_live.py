"""The command line and a real ``creditbank serve`` on the same database (both dialects)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx
import pytest

from tests.conftest import ROOT
from tests.imports.conftest import XAPI, basic
from tests.imports.files import MAPPING, ROWS, csv_bytes, xlsx_bytes, zip_bomb_xlsx

pytestmark = pytest.mark.server


def cli(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "creditbank.cli", "import", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def statements(server, demo):
    response = httpx.get(
        f"{server.url}/xapi/statements", headers=XAPI, auth=basic(demo, "fxvs"), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["statements"]


def test_cli_import_dry_run_then_import_then_reimport(live_server, demo, tmp_path):
    grades = tmp_path / "成绩.xlsx"
    grades.write_bytes(xlsx_bytes())
    mapping = tmp_path / "fxvs.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    args = (str(grades), "--institution", "fxvs", "--mapping", str(mapping))

    dry = cli(live_server.env, *args, "--dry-run", "--json")
    assert dry.returncode == 0, dry.stderr
    assert json.loads(dry.stdout)["new"] == 3
    assert statements(live_server, demo) == []

    run = cli(live_server.env, *args, "--progress")
    assert run.returncode == 0, run.stderr
    assert "imported 3 new statement(s)" in run.stdout
    assert "导入 store" in run.stderr  # the progress bar: rows, a rate and an ETA
    assert re.search(r"3/3 [\d,]+/s \d:\d\d:\d\d ETA", run.stderr), run.stderr
    assert "ETA" not in run.stdout
    assert len(statements(live_server, demo)) == 3

    again = cli(live_server.env, *args, "--json")
    assert "ETA" not in again.stderr  # not a terminal: no bar
    summary = json.loads(again.stdout)
    quiet = cli(live_server.env, *args, "--dry-run", "--no-progress")
    assert "ETA" not in quiet.stderr
    assert "dry run, nothing stored" in quiet.stdout
    assert (summary["new"], summary["unchanged"], summary["created"]) == (0, 3, 0)

    changed = tmp_path / "changed.csv"
    changed.write_bytes(csv_bytes([[*ROWS[0][:3], "61", *ROWS[0][4:]]], encoding="gb18030"))
    conflict = cli(live_server.env, str(changed), *args[1:], "--json")
    assert json.loads(conflict.stdout)["conflicts"] == 1
    assert len(statements(live_server, demo)) == 3


def test_cli_refuses_malformed_files_and_stores_nothing(live_server, demo, tmp_path):
    mapping = tmp_path / "fxvs.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    bomb = tmp_path / "bomb.xlsx"
    bomb.write_bytes(zip_bomb_xlsx())
    result = cli(live_server.env, str(bomb), "--institution", "fxvs", "--mapping", str(mapping))
    assert result.returncode == 1
    assert "zip_bomb" in result.stderr
    assert "nothing stored" in result.stderr
    bad_rows = tmp_path / "bad.csv"
    bad_rows.write_bytes(csv_bytes([ROWS[0], ["x", "ELEC4", "通过", "200", "1", "2024-01-01"]]))
    result = cli(live_server.env, str(bad_rows), "--institution", "fxvs", "--mapping", str(mapping))
    assert result.returncode == 1
    assert "row 3 [成绩] '200'" in result.stderr
    assert statements(live_server, demo) == []


def test_preview_and_commit_over_real_http(live_server, demo):
    auth = basic(demo, "fxvs")
    base = f"{live_server.url}/api/v1/institutions/fxvs/imports"
    files = {
        "file": ("成绩.csv", csv_bytes(encoding="gb18030"), "text/csv"),
        "mapping": ("fxvs.yaml", MAPPING.encode(), "application/yaml"),
    }
    preview = httpx.post(base, files=files, auth=auth, timeout=30)
    assert preview.status_code == 201, preview.text
    assert preview.json()["new"] == 3
    commit = httpx.post(f"{base}/{preview.json()['id']}/commit", auth=auth, timeout=30)
    assert commit.status_code == 200, commit.text
    assert len(statements(live_server, demo)) == 3
    listed = httpx.get(base, auth=auth, timeout=10).json()
    assert [item["status"] for item in listed] == ["committed"]
