"""``creditbank backup`` / ``restore`` round-trip a bank (issue 13, B6), on both databases.

The li-na demo with its story (statements, outcomes, ledger deposits, conversions), a
signed ledger checkpoint, a State document and a statement with an attachment; then
backup (database + passphrase-encrypted keys), restore into a fresh database and an
empty key directory, and compare: every statement, document, attachment and ledger
entry back, ``ledger verify`` clean, the last signed checkpoint still audits.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from creditbank.backup import BackupError, export_keys, import_keys
from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import XAPI, cli, cli_env, stop
from tests.conftest import _create_pg_database, _pg_admin, _pg_url
from tests.lrs.attachment_helpers import Part, attachment_meta, multipart, multipart_type
from tests.reliability.harness import query, start_server

pytestmark = pytest.mark.server

PASSPHRASE = "correct horse battery staple"
TABLES = {
    "lrs_statements": "SELECT id, body FROM lrs_statements ORDER BY seq",
    "lrs_documents": "SELECT * FROM lrs_documents",
    "lrs_attachments": "SELECT sha2, content FROM lrs_attachments ORDER BY sha2",
    "ledger_entries": "SELECT id, learner_id, seq, hash, prev_hash FROM ledger_entries ORDER BY id",
    "ledger_checkpoints": "SELECT * FROM ledger_checkpoints",
    "rule_outcomes": "SELECT * FROM rule_outcomes",
    "learners": "SELECT * FROM learners ORDER BY id",
    "jobs": "SELECT count(*) FROM jobs",
}


def _snapshot(url: str) -> dict[str, str]:
    out = {}
    for name, sql in TABLES.items():
        rows = query(url, sql)
        digest = hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()
        out[name] = f"{len(rows)}:{digest}"
    return out


def _counts(url: str) -> dict[str, int]:
    return {
        name: query(url, f"SELECT count(*) FROM {name}")[0][0]
        for name in ("lrs_statements", "lrs_documents", "lrs_attachments", "ledger_entries")
    }


def _fill(env: dict[str, str], tmp_path: Path, demo: dict[str, Any]) -> None:
    server, url = start_server(env, tmp_path / "server.log")
    fxvs = demo["institutions"]["fxvs"]
    auth = (fxvs["lrs_key"], fxvs["lrs_secret"])
    try:
        with httpx.Client(base_url=url, auth=auth, headers=XAPI, timeout=30) as client:
            agent = {"account": {"homePage": fxvs["home_page"], "name": "FX2019001"}}
            state = client.put(
                "/xapi/activities/state",
                params={
                    "activityId": f"{fxvs['home_page']}/xapi/activities/cert-elec-4",
                    "agent": json.dumps(agent),
                    "stateId": "progress",
                },
                content=orjson.dumps({"page": 7, "note": "第七页"}),
                headers={"Content-Type": "application/json"},
            )
            assert state.status_code == 204, state.text
            content = "证书扫描件 scan".encode()
            statement = {
                "actor": agent,
                "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en": "a"}},
                "object": {"id": f"{fxvs['home_page']}/xapi/activities/evidence"},
                "attachments": [attachment_meta(content)],
            }
            posted = client.post(
                "/xapi/statements",
                content=multipart(statement, [Part(content=content)]),
                headers={"Content-Type": multipart_type()},
            )
            assert posted.status_code == 200, posted.text
    finally:
        stop(server)


def test_backup_and_restore_round_trip(settings: Settings, db: Database, tmp_path: Path) -> None:
    env = cli_env(settings, tmp_path, in_process=False)
    demo_run = cli(["demo", "--json"], env)
    assert demo_run.returncode == 0, demo_run.stderr
    demo = json.loads(demo_run.stdout)
    _fill(env, tmp_path, demo)
    checkpoint = tmp_path / "checkpoint.json"
    assert cli(["ledger", "checkpoint", "--out", str(checkpoint)], env).returncode == 0

    before = _snapshot(settings.database_url)
    counts = _counts(settings.database_url)
    assert counts["lrs_documents"] >= 1
    assert counts["lrs_attachments"] >= 1
    assert counts["ledger_entries"] >= 4
    assert counts["lrs_statements"] >= 8

    dump, keys = tmp_path / "bank.backup", tmp_path / "keys.enc"
    with_pass = {**env, "CREDITBANK_BACKUP_PASSPHRASE": PASSPHRASE}
    made = cli(["backup", str(dump), "--keys", str(keys)], with_pass)
    assert made.returncode == 0, made.stderr
    assert PASSPHRASE.encode() not in keys.read_bytes()
    key_files = sorted(p.name for p in (tmp_path / "keys").iterdir())
    for name in key_files:  # no key file's content in the export in the clear
        assert (tmp_path / "keys" / name).read_bytes()[:40] not in keys.read_bytes()

    # A fresh, empty database (migrations not even run) and an empty key directory.
    if settings.is_sqlite:
        target_url = f"sqlite+aiosqlite:///{tmp_path / 'restored.db'}"
        fresh_name = None
    else:
        fresh_name = _create_pg_database()
        target_url = _pg_url(fresh_name)
    restored_env = {
        **with_pass,
        "CREDITBANK_DATABASE_URL": target_url,
        "CREDITBANK_KEY_DIR": str(tmp_path / "restored-keys"),
    }
    try:
        done = cli(["restore", str(dump), "--keys", str(keys)], restored_env)
        assert done.returncode == 0, done.stderr
        assert _snapshot(target_url) == before
        assert sorted(p.name for p in (tmp_path / "restored-keys").iterdir()) == key_files
        for name in key_files:
            original = (tmp_path / "keys" / name).read_bytes()
            assert (tmp_path / "restored-keys" / name).read_bytes() == original

        verify = cli(["ledger", "verify", "--json"], restored_env)
        assert verify.returncode == 0, verify.stdout + verify.stderr
        assert json.loads(verify.stdout)["ok"] is True
        audit = cli(["ledger", "audit", str(checkpoint), "--json"], restored_env)
        assert audit.returncode == 0, audit.stdout + audit.stderr
        assert json.loads(audit.stdout)["ok"] is True

        # The restored bank serves: the demo credentials and the state document work.
        server, url = start_server(restored_env, tmp_path / "restored-server.log")
        try:
            fxvs = demo["institutions"]["fxvs"]
            got = httpx.get(
                f"{url}/xapi/statements",
                headers=XAPI,
                auth=(fxvs["lrs_key"], fxvs["lrs_secret"]),
                timeout=30,
            )
            assert got.status_code == 200
            assert got.json()["statements"]
        finally:
            stop(server)

        # A wrong passphrase restores nothing.
        wrong = cli(
            ["restore", str(dump), "--keys", str(keys)],
            {**restored_env, "CREDITBANK_BACKUP_PASSPHRASE": "not the passphrase"},
        )
        assert wrong.returncode == 1
        assert "wrong passphrase" in wrong.stderr
    finally:
        if fresh_name is not None:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{fresh_name}" WITH (FORCE)'))


def test_key_export_refuses_tampering_short_passphrases_and_escapes(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "keyring.json").write_text('{"k": "secret"}')
    with pytest.raises(BackupError, match="at least"):
        export_keys(keys, "short")
    sealed = export_keys(keys, PASSPHRASE)
    bundle = json.loads(sealed)
    bundle["kdf"]["n"] = 2**14  # header is bound to the ciphertext
    with pytest.raises(BackupError):
        import_keys(json.dumps(bundle).encode(), PASSPHRASE, tmp_path / "a")
    target = tmp_path / "b"
    assert import_keys(sealed, PASSPHRASE, target) == ["keyring.json"]
    assert (target / "keyring.json").stat().st_mode & 0o777 == 0o600
    (target / "keyring.json").write_text("other")
    with pytest.raises(BackupError, match="exists with other content"):
        import_keys(sealed, PASSPHRASE, target)
    assert import_keys(sealed, PASSPHRASE, target, force=True) == ["keyring.json"]
