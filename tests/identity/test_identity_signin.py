"""Sign-in over HTTP: passwords, lockout, rate limit, refresh cookies, logout, OAuth clients."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from creditbank.audit.models import AuditEntry
from creditbank.config import Settings
from creditbank.db import Database
from tests.identity.conftest import PASSWORD, World, client_token, login

XAPI = {"X-Experience-API-Version": "1.0.3"}


async def _login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )


async def _audit_outcomes(db: Database, action: str) -> list[tuple[str, str | None]]:
    async with db.read_scope() as session:
        rows = await session.execute(
            select(AuditEntry.outcome, AuditEntry.detail).where(AuditEntry.action == action)
        )
        return [(outcome, (detail or {}).get("reason")) for outcome, detail in rows]


class TestPasswordLogin:
    async def test_login_sets_refresh_cookie(self, client: httpx.AsyncClient, world: World):
        response = await _login(client, "lina", world.password("lina"))
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert body["expires_in"] == 900
        assert body["user"]["roles"] == [
            {"role": "learner", "institution": None, "programme": None}
        ]
        cookie = response.headers["set-cookie"]
        assert "creditbank_refresh=" in cookie
        assert "HttpOnly" in cookie
        assert "Path=/api/v1/auth" in cookie
        assert "SameSite=strict" in cookie
        assert "Secure" not in cookie  # env=test; production sets Secure
        assert response.headers["cache-control"] == "no-store"

    async def test_wrong_password_is_401_and_audited(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        response = await _login(client, "lina", "wrong-password-1")
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_credentials"
        unknown = await _login(client, "nobody", "wrong-password-1")
        assert unknown.status_code == 401
        assert await _audit_outcomes(db, "auth.login") == [
            ("denied", "bad_credentials"),
            ("denied", "bad_credentials"),
        ]

    async def test_lockout_after_repeated_failures(
        self, client: httpx.AsyncClient, world: World, db: Database, settings: Settings
    ):
        for _ in range(settings.identity.max_failed_logins):
            assert (await _login(client, "zhang", "wrong-password-1")).status_code == 401
        locked = await _login(client, "zhang", PASSWORD)
        assert locked.status_code == 429
        assert locked.json()["error"] == "account_locked"
        assert ("denied", "locked") in await _audit_outcomes(db, "auth.login")
        # Other users are not affected.
        assert (await _login(client, "lina", world.password("lina"))).status_code == 200

    async def test_rate_limit_per_address(
        self, client: httpx.AsyncClient, world: World, settings: Settings
    ):
        for _ in range(settings.identity.login_rate_limit):
            await _login(client, "nobody", "wrong-password-1")
        response = await _login(client, "lina", world.password("lina"))
        assert response.status_code == 429
        assert response.json()["error"] == "too_many_attempts"

    async def test_password_rules(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "operator", world.password("operator"))
        for weak in ("short1", "onlyletterslong", "12345678901", "newuser123456"):
            response = await client.post(
                "/api/v1/users", json={"username": "newuser", "password": weak}, headers=headers
            )
            assert response.status_code == 400, weak
            assert response.json()["error"] == "weak_password"
        ok = await client.post(
            "/api/v1/users",
            json={"username": "newuser", "password": "Good-pass-2024"},
            headers=headers,
        )
        assert ok.status_code == 201

    async def test_change_password_revokes_refresh(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "zhang", PASSWORD)
        response = await client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "Another-pass-2025"},
            headers=headers,
        )
        assert response.status_code == 204
        assert (await client.post("/api/v1/auth/refresh")).status_code == 401
        assert (await _login(client, "zhang", "Another-pass-2025")).status_code == 200


class TestRefreshAndLogout:
    async def test_refresh_rotates_and_reuse_revokes_family(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        await _login(client, "lina", world.password("lina"))
        first = client.cookies.get("creditbank_refresh")
        refreshed = await client.post("/api/v1/auth/refresh")
        assert refreshed.status_code == 200
        second = client.cookies.get("creditbank_refresh")
        assert second
        assert second != first
        # Presenting the rotated (old) token: refused, and the whole family is revoked.
        client.cookies.set("creditbank_refresh", first or "", path="/api/v1/auth")
        assert (await client.post("/api/v1/auth/refresh")).status_code == 401
        client.cookies.set("creditbank_refresh", second, path="/api/v1/auth")
        assert (await client.post("/api/v1/auth/refresh")).status_code == 401
        assert ("denied", "reused_token_family_revoked") in await _audit_outcomes(
            db, "auth.refresh"
        )

    async def test_logout_revokes(self, client: httpx.AsyncClient, world: World):
        response = await _login(client, "lina", world.password("lina"))
        headers = {"Authorization": f"Bearer {response.json()['access_token']}"}
        token = client.cookies.get("creditbank_refresh")
        out = await client.post("/api/v1/auth/logout", headers=headers)
        assert out.status_code == 204
        client.cookies.set("creditbank_refresh", token or "", path="/api/v1/auth")
        assert (await client.post("/api/v1/auth/refresh")).status_code == 401

    async def test_refresh_without_cookie(self, client: httpx.AsyncClient, world: World):
        assert (await client.post("/api/v1/auth/refresh")).status_code == 401


class TestClientCredentials:
    async def test_token_works_on_xapi_beside_basic(self, client: httpx.AsyncClient, world: World):
        auth = world.basic("fxvs")
        response = await client_token(client, auth)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert "statements/write" in body["scope"].split()
        bearer = {"Authorization": f"Bearer {body['access_token']}", **XAPI}
        statement = {
            "actor": {"account": {"homePage": "https://fxvs.example.edu.cn", "name": "FX2019001"}},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": "https://fxvs.example.edu.cn/xapi/activities/a1"},
        }
        posted = await client.post("/xapi/statements", json=statement, headers=bearer)
        assert posted.status_code == 200, posted.text
        read = await client.get("/xapi/statements", headers=bearer)
        assert read.status_code == 200
        basic = await client.get("/xapi/statements", headers=XAPI, auth=auth)
        assert basic.status_code == 200
        assert read.json()["statements"] == basic.json()["statements"]

    async def test_form_credentials_and_narrower_scope(
        self, client: httpx.AsyncClient, world: World
    ):
        key, secret = world.basic("fxvs")
        response = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": key,
                "client_secret": secret,
                "scope": "statements/read/mine",
            },
        )
        assert response.status_code == 200
        bearer = {"Authorization": f"Bearer {response.json()['access_token']}", **XAPI}
        statement = {
            "actor": {"mbox": "mailto:a@example.cn"},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": "https://fxvs.example.edu.cn/xapi/activities/a1"},
        }
        assert (
            await client.post("/xapi/statements", json=statement, headers=bearer)
        ).status_code == 403

    async def test_scope_escalation_refused_and_audited(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        headers = await login(client, "fxvs_admin", PASSWORD)
        created = await client.post(
            "/api/v1/institutions/fxvs/credentials",
            json={"scopes": ["statements/write", "statements/read/mine"]},
            headers=headers,
        )
        assert created.status_code == 201
        narrow = (created.json()["key"], created.json()["secret"])
        wide = await client.post(
            "/api/v1/institutions/fxvs/credentials", json={"scopes": ["all"]}, headers=headers
        )
        assert wide.status_code == 403
        response = await client_token(client, narrow, scope="statements/write all")
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert (await client_token(client, narrow, scope="statements/read")).status_code == 400
        assert [o for o, _ in await _audit_outcomes(db, "oauth.token")] == ["denied", "denied"]
        refused = await _audit_outcomes(db, "credential.create")
        assert ("denied", None) in refused

    async def test_bad_client_and_grant(self, client: httpx.AsyncClient, world: World):
        key, _ = world.basic("fxvs")
        assert (await client_token(client, (key, "wrong"))).status_code == 401
        response = await client.post(
            "/oauth/token", data={"grant_type": "password"}, auth=world.basic("fxvs")
        )
        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"

    async def test_revocation_takes_effect_at_once(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "fxvs_admin", PASSWORD)
        created = (
            await client.post("/api/v1/institutions/fxvs/credentials", json={}, headers=headers)
        ).json()
        auth = (created["key"], created["secret"])
        token = (await client_token(client, auth)).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}", **XAPI}
        assert (await client.get("/xapi/statements", headers=XAPI, auth=auth)).status_code == 200
        assert (await client.get("/xapi/statements", headers=bearer)).status_code == 200
        listed = await client.get("/api/v1/institutions/fxvs/credentials", headers=headers)
        assert created["id"] in [c["id"] for c in listed.json()]
        assert "secret" not in listed.json()[0]
        assert "secret_hash" not in listed.json()[0]
        revoked = await client.delete(
            f"/api/v1/institutions/fxvs/credentials/{created['id']}", headers=headers
        )
        assert revoked.status_code == 200
        assert revoked.json()["revoked_at"]
        assert (await client.get("/xapi/statements", headers=XAPI, auth=auth)).status_code == 401
        assert (await client.get("/xapi/statements", headers=bearer)).status_code == 401

    async def test_rotation_replaces_secret(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "fxvs_admin", PASSWORD)
        created = (
            await client.post("/api/v1/institutions/fxvs/credentials", json={}, headers=headers)
        ).json()
        rotated = await client.post(
            f"/api/v1/institutions/fxvs/credentials/{created['id']}/rotate", headers=headers
        )
        assert rotated.status_code == 200
        assert rotated.json()["key"] == created["key"]
        old = (created["key"], created["secret"])
        new = (created["key"], rotated.json()["secret"])
        assert (await client.get("/xapi/statements", headers=XAPI, auth=old)).status_code == 401
        assert (await client.get("/xapi/statements", headers=XAPI, auth=new)).status_code == 200


async def test_production_cookie_is_secure(settings: Settings, world: World, tmp_path):
    from api.app import create_app
    from creditbank.identity.tokens import ensure_keys, keyring_path, token_keys_path

    prod = settings.model_copy(
        update={
            "env": "prod",
            "secret_key": settings.secret_key.__class__("p" * 40),
        }
    )
    ensure_keys(settings)  # generated under key_dir (env=test); production only loads them
    assert keyring_path(prod).exists()
    assert token_keys_path(prod).exists()
    app = create_app(prod)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://bank") as client:
            response = await _login(client, "zhang", PASSWORD)
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
