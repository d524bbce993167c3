"""A5: failed secrets are throttled on xAPI Basic and ``/oauth/token``; the password
lockout is per (address, user name), answers unknown names the same, and cannot
be used to lock someone else out from another address."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from creditbank.config import Settings
from tests.hostile.conftest import V1, Demo


async def _xapi(client: httpx.AsyncClient, auth: tuple[str, str]) -> httpx.Response:
    return await client.get("/xapi/statements", headers=V1, auth=auth)


def _client(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_basic_auth_wrong_secrets_then_wait(
    app: FastAPI, demo: Demo, settings: Settings
) -> None:
    key, secret = demo.basic("fxvs")
    per_key = settings.identity.credential_failures_per_key
    async with _client(app, "203.0.113.7") as attacker, _client(app, "198.51.100.2") as school:
        for _ in range(per_key):
            assert (await _xapi(attacker, (key, "wrong"))).status_code == 401
        # The right secret from the attacker's address now waits too...
        blocked = await _xapi(attacker, (key, secret))
        assert blocked.status_code == 429
        assert int(blocked.headers["Retry-After"]) >= 1
        assert blocked.headers["X-Experience-API-Version"]
        # ...but the institution's own systems elsewhere are not locked out.
        assert (await _xapi(school, (key, secret))).status_code == 200
        # An unknown key is counted exactly like a known one.
        for _ in range(per_key):
            assert (await _xapi(attacker, ("no-such-key", "x"))).status_code in (401, 429)
        assert (await _xapi(attacker, ("no-such-key", "x"))).status_code == 429


async def test_oauth_token_wrong_secrets_then_wait(
    app: FastAPI, demo: Demo, settings: Settings
) -> None:
    key, secret = demo.basic("mooc1")
    data = {"grant_type": "client_credentials", "client_id": key}
    async with _client(app, "203.0.113.8") as attacker:
        for _ in range(settings.identity.credential_failures_per_key):
            wrong = await attacker.post("/oauth/token", data={**data, "client_secret": "bad"})
            assert wrong.status_code == 401
        right = await attacker.post("/oauth/token", data={**data, "client_secret": secret})
        assert right.status_code == 429
        assert "Retry-After" in right.headers


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def test_lockout_does_not_reveal_names_or_lock_others_out(
    app: FastAPI, demo: Demo, settings: Settings
) -> None:
    username, password = demo.user("operator")
    tries = settings.identity.max_failed_logins
    async with _client(app, "203.0.113.9") as attacker, _client(app, "198.51.100.3") as owner:
        known = [
            (await _login(attacker, username, "wrong-pass-1")).status_code for _ in range(tries)
        ]
        unknown = [
            (await _login(attacker, "nobody-here", "wrong-pass-1")).status_code
            for _ in range(tries)
        ]
        assert known == unknown == [401] * tries
        after_known = await _login(attacker, username, password)
        after_unknown = await _login(attacker, "nobody-here", "wrong-pass-1")
        # The same answer whether the name exists or not.
        assert after_known.status_code == after_unknown.status_code == 429
        assert after_known.json()["error"] == after_unknown.json()["error"]
        assert "Retry-After" in after_known.headers
        # The owner, from her own address, signs in as usual.
        assert (await _login(owner, username, password)).status_code == 200


async def test_forwarded_for_ignored_without_trusted_proxies(
    app: FastAPI, demo: Demo, settings: Settings
) -> None:
    """The app itself never reads X-Forwarded-For; only uvicorn may, and only from
    CREDITBANK_TRUSTED_PROXIES (empty by default)."""
    key, _ = demo.basic("fxvs")
    async with _client(app, "127.0.0.1") as local:
        for i in range(settings.identity.credential_failures_per_key):
            headers = {**V1, "X-Forwarded-For": f"10.0.0.{i}"}
            await local.get("/xapi/statements", headers=headers, auth=(key, "wrong"))
        blocked = await local.get(
            "/xapi/statements", headers={**V1, "X-Forwarded-For": "10.9.9.9"}, auth=(key, "x")
        )
        assert blocked.status_code == 429
    assert settings.trusted_proxies == []
