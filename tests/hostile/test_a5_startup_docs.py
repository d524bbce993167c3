"""A5: production refuses to start with a one-line reason (no traceback) and keeps
the API map private; X-Forwarded-For is believed only from configured proxies."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from creditbank.config import Settings
from tests.conftest import ROOT

GOOD_SECRET = "x" * 40


def _serve(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "creditbank.cli", "serve", "--port", "1"],
        cwd=ROOT,
        env={
            **os.environ,
            "CREDITBANK_ENV": "prod",
            "CREDITBANK_KEY_DIR": str(tmp_path / "no-keys"),
            "CREDITBANK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/x.db",
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"CREDITBANK_SECRET_KEY": GOOD_SECRET}, "keyring"),
        ({}, "CREDITBANK_SECRET_KEY"),
        ({"CREDITBANK_SECRET_KEY": "short"}, "shorter than 32"),
    ],
)
def test_prod_refuses_to_start_in_one_line(
    tmp_path: Path, env: dict[str, str], reason: str
) -> None:
    result = _serve(tmp_path, **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert reason in lines[0]
    assert lines[0].startswith("creditbank: ")


async def test_docs_off_in_prod_by_default(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    Settings(env="test", key_dir=keys)  # generate the key files a prod app needs
    create_app(Settings(env="test", key_dir=keys))
    for api_docs, expect in ((None, 404), (True, 200)):
        app = create_app(
            Settings(env="prod", secret_key=GOOD_SECRET, key_dir=keys, api_docs=api_docs)
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for path in ("/docs", "/openapi.json", "/redoc"):
                response = await client.get(path)
                assert response.status_code == expect, (api_docs, path)


async def test_docs_on_outside_prod(client: httpx.AsyncClient) -> None:
    assert (await client.get("/openapi.json")).status_code == 200


def test_forwarded_for_trusted_only_from_configured_proxies() -> None:
    import inspect

    from creditbank import cli

    source = inspect.getsource(cli._cmd_serve)
    assert "forwarded_allow_ips" in source
    assert Settings().trusted_proxies == []
