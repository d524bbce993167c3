"""A throwaway PostgreSQL primary and hot standby for the read-replica tests.

The machine's own cluster allows no replication connections, so the tests make their
own: ``initdb`` a primary on a free port in a temporary folder, ``pg_basebackup -R``
a streaming standby from it, both run by the ``postgres`` OS user when the tests run
as root. Both are stopped and their folder removed when the session ends, even after
a failure. Durability is off (``fsync``, ``full_page_writes``): the clusters are
thrown away.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import free_port

SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
shared_buffers = 16MB
max_connections = 40
fsync = off
synchronous_commit = off
full_page_writes = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
hot_standby_feedback = on
autovacuum = off
log_min_messages = warning
"""


def find_bindir() -> Path | None:
    """PostgreSQL's server programs: ``CREDITBANK_TEST_PG_BINDIR``, else the newest
    Debian ``/usr/lib/postgresql/<version>/bin`` with an ``initdb``, else ``PATH``."""
    named = os.environ.get("CREDITBANK_TEST_PG_BINDIR")
    if named:
        return Path(named) if (Path(named) / "initdb").exists() else None
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


@dataclass
class Cluster:
    name: str
    data: Path
    port: int

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"


@dataclass
class Replication:
    """A primary and its hot standby, in ``root``; ``start()`` then ``stop()``."""

    bindir: Path
    root: Path
    primary: Cluster = field(init=False)
    standby: Cluster = field(init=False)
    started: list[Cluster] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.primary = Cluster("primary", self.root / "primary", free_port())
        self.standby = Cluster("standby", self.root / "standby", free_port())

    # -- running the PostgreSQL programs as the postgres OS user ------------------------

    def run(self, program: str, *args: str, timeout: float = 120) -> str:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if done.returncode != 0:
            raise RuntimeError(
                f"{program} failed ({done.returncode}): {done.stderr or done.stdout}"
            )
        return done.stdout

    def _configure(self, cluster: Cluster) -> None:
        sockets = self.root / "sockets"
        with (cluster.data / "postgresql.conf").open("a") as conf:
            conf.write(SETTINGS.format(port=cluster.port, sockets=sockets))

    def _start(self, cluster: Cluster) -> None:
        log = self.root / f"{cluster.name}.log"
        self.run("pg_ctl", "-D", str(cluster.data), "-l", str(log), "-w", "-t", "60", "start")
        self.started.append(cluster)

    def start(self) -> None:
        (self.root / "sockets").mkdir()
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
            shutil.chown(self.root / "sockets", "postgres", "postgres")
        self.run(
            "initdb", "-D", str(self.primary.data), "-U", "postgres", "-A", "trust",
            "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip
        self._configure(self.primary)
        self._start(self.primary)
        self.run(
            "pg_basebackup", "-D", str(self.standby.data), "-h", "127.0.0.1",
            "-p", str(self.primary.port), "-U", "postgres", "-R", "-X", "stream",
            "-c", "fast", "--no-sync",
        )  # fmt: skip
        # The copied postgresql.conf names the primary's port; the last setting wins.
        self._configure(self.standby)
        self._start(self.standby)

    def stop(self) -> None:
        for cluster in reversed(self.started):
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.run("pg_ctl", "-D", str(cluster.data), "-m", "immediate", "-w", "stop")
        self.started.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-4000:]}"
            for path in sorted(self.root.glob("*.log"))
        )


def make_root() -> Path:
    """A fresh folder in the system temporary directory (pytest's own is private to
    the user running the tests, and the clusters run as ``postgres``)."""
    return Path(tempfile.mkdtemp(prefix="creditbank-replica-"))


def wait_until(predicate: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(predicate) and predicate():
            return
        time.sleep(0.05)
    raise TimeoutError("condition not met in time")
