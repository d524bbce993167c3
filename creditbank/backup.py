"""``creditbank backup`` / ``creditbank restore``: the database and, separately, the keys.

- PostgreSQL: ``pg_dump --format=custom`` (a consistent snapshot taken in one
  repeatable-read transaction while the bank keeps running) and ``pg_restore --clean
  --if-exists --single-transaction`` into the configured database (all or nothing).
- SQLite (the embedded default): SQLite's online backup API, page by page, consistent
  while the server keeps writing; restore copies it back the same way.
- Key material (``CREDITBANK_KEY_DIR``: field-encryption keyring, access-token keys,
  ledger checkpoint signing key, ...) never goes into the database dump. ``--keys FILE``
  writes it to its own file, encrypted with a passphrase: scrypt (n=2**15, r=8, p=1)
  derives a 256-bit key, AES-256-GCM seals a JSON bundle of the key files; the header
  (format, salt, nonce, KDF parameters) is bound as associated data, so a wrong
  passphrase or a modified byte fails to decrypt. The passphrase comes from
  ``CREDITBANK_BACKUP_PASSPHRASE`` (scripts) or is asked for on the terminal.
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from creditbank.config import Settings

KEYS_FORMAT = "creditbank-keys/1"
PASSPHRASE_ENV = "CREDITBANK_BACKUP_PASSPHRASE"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSPHRASE = 12


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


# -- the database ------------------------------------------------------------------


def _libpq(url: str) -> tuple[list[str], dict[str, str]]:
    """Connection flags and environment for pg_dump/pg_restore from our URL."""
    from sqlalchemy.engine import make_url  # not at import: the parser is built for every command

    parsed = make_url(url)
    args = ["--host", parsed.host or "127.0.0.1", "--port", str(parsed.port or 5432)]
    args += ["--username", parsed.username or "postgres", "--dbname", parsed.database or ""]
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    return args, env


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for version in ("17", "16", "15"):
        candidate = Path(f"/usr/lib/postgresql/{version}/bin/{name}")
        if candidate.exists():
            return str(candidate)
    raise BackupError(f"{name} not found (install the PostgreSQL client tools)")


def _sqlite_path(url: str) -> Path:
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def backup_database(settings: Settings, out: Path) -> None:
    """Write a consistent copy of the database to ``out``."""
    url = settings.database_url
    if settings.is_sqlite:
        source_path = _sqlite_path(url)
        if not source_path.exists():
            raise BackupError(f"no database at {source_path}")
        out.unlink(missing_ok=True)
        with sqlite3.connect(source_path) as source, sqlite3.connect(out) as target:
            source.backup(target)
        return
    args, env = _libpq(url)
    command = [_pg_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(out), *args]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_dump failed: {result.stderr.strip()}")


def restore_database(settings: Settings, source: Path) -> None:
    """Replace the configured database's contents with the backup ``source``."""
    if not source.exists():
        raise BackupError(f"no backup at {source}")
    url = settings.database_url
    if settings.is_sqlite:
        target_path = _sqlite_path(url)
        target_path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(source) as backup:
            if backup.execute("PRAGMA integrity_check").fetchone() != ("ok",):
                raise BackupError(f"{source} is not an intact SQLite database")
            with sqlite3.connect(target_path) as target:
                backup.backup(target)
        return
    args, env = _libpq(url)
    command = [
        _pg_tool("pg_restore"),
        "--clean",
        "--if-exists",
        "--no-owner",
        "--single-transaction",
        "--exit-on-error",
        *args,
        str(source),
    ]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if result.returncode != 0:
        raise BackupError(f"pg_restore failed: {result.stderr.strip()}")


# -- the keys ----------------------------------------------------------------------


def _derive(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def export_keys(key_dir: Path, passphrase: str) -> bytes:
    """The key files of ``key_dir``, sealed with the passphrase (see module docstring)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise BackupError(f"the passphrase needs at least {MIN_PASSPHRASE} characters")
    files = {}
    if key_dir.is_dir():
        for path in sorted(key_dir.rglob("*")):
            if path.is_file():
                rel = path.relative_to(key_dir).as_posix()
                files[rel] = base64.b64encode(path.read_bytes()).decode()
    if not files:
        raise BackupError(f"no key files in {key_dir}")
    salt, nonce = os.urandom(16), os.urandom(12)
    header = {
        "format": KEYS_FORMAT,
        "kdf": {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P},
        "salt": base64.b64encode(salt).decode(),
        "nonce": base64.b64encode(nonce).decode(),
    }
    aad = json.dumps(header, sort_keys=True).encode()
    sealed = AESGCM(_derive(passphrase, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)).encrypt(
        nonce, json.dumps({"files": files}).encode(), aad
    )
    return json.dumps({**header, "ciphertext": base64.b64encode(sealed).decode()}).encode()


def import_keys(bundle: bytes, passphrase: str, key_dir: Path, *, force: bool = False) -> list[str]:
    """Decrypt ``bundle`` into ``key_dir``; refuses to replace different existing keys
    unless ``force``. Returns the files written."""
    try:
        data: dict[str, Any] = json.loads(bundle)
        header = {k: data[k] for k in ("format", "kdf", "salt", "nonce")}
        if header["format"] != KEYS_FORMAT or header["kdf"].get("name") != "scrypt":
            raise BackupError("not a creditbank key export")
        kdf = header["kdf"]
        key = _derive(
            passphrase,
            base64.b64decode(header["salt"]),
            int(kdf["n"]),
            int(kdf["r"]),
            int(kdf["p"]),
        )
        plain = AESGCM(key).decrypt(
            base64.b64decode(header["nonce"]),
            base64.b64decode(data["ciphertext"]),
            json.dumps(header, sort_keys=True).encode(),
        )
    except InvalidTag:
        raise BackupError("wrong passphrase, or the key export was modified") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"not a creditbank key export: {exc}") from None
    files: dict[str, str] = json.loads(plain)["files"]
    root = key_dir.resolve()
    planned: list[tuple[Path, bytes]] = []
    for rel, encoded in files.items():
        target = (key_dir / rel).resolve()
        if root not in target.parents:
            raise BackupError(f"key export names a path outside the key directory: {rel}")
        content = base64.b64decode(encoded)
        if target.exists() and target.read_bytes() != content and not force:
            raise BackupError(f"{target} exists with other content (use --force to replace)")
        planned.append((target, content))
    for target, content in planned:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        target.chmod(0o600)
    return sorted(files)


def _passphrase(confirm: bool) -> str:
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not sys.stdin.isatty():
        raise BackupError(f"set {PASSPHRASE_ENV} or run on a terminal to give the passphrase")
    first = getpass.getpass("passphrase for the key export: ")
    if confirm and getpass.getpass("again: ") != first:
        raise BackupError("the passphrases differ")
    return first


# -- the command line --------------------------------------------------------------


def _cmd_backup(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.keys:
            sealed = export_keys(settings.key_dir, _passphrase(confirm=True))
        backup_database(settings, Path(args.out))
        if args.keys:
            Path(args.keys).write_bytes(sealed)
            Path(args.keys).chmod(0o600)
    except BackupError as exc:
        print(f"creditbank backup: {exc}", file=sys.stderr)
        return 1
    print(f"database backed up to {args.out}" + (f", keys to {args.keys}" if args.keys else ""))
    return 0


def _cmd_restore(args: argparse.Namespace, settings: Settings) -> int:
    try:
        if args.keys:
            written = import_keys(
                Path(args.keys).read_bytes(),
                _passphrase(confirm=False),
                settings.key_dir,
                force=args.force,
            )
        restore_database(settings, Path(args.source))
    except (BackupError, OSError) as exc:
        print(f"creditbank restore: {exc}", file=sys.stderr)
        return 1
    keys = f", {len(written)} key files into {settings.key_dir}" if args.keys else ""
    print(f"database restored from {args.source}{keys}")
    return 0


def register(subparsers: Any) -> None:
    backup = subparsers.add_parser("backup", help="back up the database (and, encrypted, the keys)")
    backup.add_argument("out", help="the database backup file to write")
    backup.add_argument("--keys", help="also write the key material, passphrase-encrypted")
    backup.set_defaults(run=_cmd_backup)
    restore = subparsers.add_parser("restore", help="restore a backup into the configured database")
    restore.add_argument("source", help="a file written by creditbank backup")
    restore.add_argument("--keys", help="a key export written by creditbank backup --keys")
    restore.add_argument("--force", action="store_true", help="replace different existing keys")
    restore.set_defaults(run=_cmd_restore)
