"""A credential's declared xAPI version: the version stated to its requests that name none.

The header stays required (the answer is still 400); only the version on the refusal
follows the credential. SQLite and PostgreSQL, real HTTP through the ASGI app.
"""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.errors import BadRequest
from creditbank.identity.service import identity
from tests.identity.conftest import PASSWORD, World, client_token, login


async def _issue(session: AsyncSession, version: str | None) -> tuple[str, str]:
    fxvs = await identity.get_institution(session, "fxvs")
    issued = await identity.issue_credential(
        session, fxvs, scopes=["all"], label="lms", xapi_version=version
    )
    await session.commit()
    return issued.credential.key, issued.secret


async def _no_version(client: httpx.AsyncClient, **kwargs: object) -> httpx.Response:
    return await client.get("/xapi/statements", **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("version", ["1.0.3", "2.0.0"])
async def test_refusal_states_the_credentials_version(
    client: httpx.AsyncClient, world: World, session: AsyncSession, version: str
):
    auth = await _issue(session, version)
    response = await _no_version(client, auth=auth)
    assert response.status_code == 400
    assert response.json()["error"] == "xapi_version_missing"
    assert response.headers["x-experience-api-version"] == version
    # Naming a version still wins over the credential's.
    other = "2.0.0" if version == "1.0.3" else "1.0.3"
    named = await client.get(
        "/xapi/statements", headers={"X-Experience-API-Version": other}, auth=auth
    )
    assert named.status_code == 200
    assert named.headers["x-experience-api-version"] == other


async def test_bearer_token_of_the_credential_carries_its_version(
    client: httpx.AsyncClient, world: World, session: AsyncSession
):
    auth = await _issue(session, "1.0.3")
    token = await client_token(client, auth, scope="all")
    assert token.status_code == 200, token.text
    bearer = {"Authorization": f"Bearer {token.json()['access_token']}"}
    response = await _no_version(client, headers=bearer)
    assert response.status_code == 400
    assert response.headers["x-experience-api-version"] == "1.0.3"


async def test_null_follows_the_server_default(
    client: httpx.AsyncClient, world: World, session: AsyncSession, settings: Settings
):
    auth = await _issue(session, None)
    response = await _no_version(client, auth=auth)
    assert response.status_code == 400
    assert response.headers["x-experience-api-version"] == "2.0.0"
    settings.lrs.default_version = "1.0.3"
    response = await _no_version(client, auth=auth)
    assert response.headers["x-experience-api-version"] == "1.0.3"
    # The demo credentials declare nothing.
    assert world.institution("fxvs")["xapi_version"] is None
    demo = await _no_version(client, auth=world.basic("fxvs"))
    assert demo.headers["x-experience-api-version"] == "1.0.3"


async def test_bad_or_no_credentials_still_400_with_the_default(
    client: httpx.AsyncClient, world: World, session: AsyncSession, settings: Settings
):
    settings.lrs.default_version = "1.0.3"
    key, _ = await _issue(session, "2.0.0")
    cases: list[dict[str, object]] = [
        {},
        {"auth": (key, "wrong")},
        {"auth": ("no-such-key", "x")},
        {"headers": {"Authorization": "Basic !!!"}},
        {"headers": {"Authorization": "Bearer not-a-token"}},
        {"headers": {"Authorization": "Digest x"}},
    ]
    for kwargs in cases:
        response = await _no_version(client, **kwargs)
        assert response.status_code == 400, kwargs
        assert response.json()["error"] == "xapi_version_missing"
        assert response.headers["x-experience-api-version"] == "1.0.3", kwargs
    # With the header, bad credentials are 401 as ever.
    refused = await client.get(
        "/xapi/statements", headers={"X-Experience-API-Version": "2.0.0"}, auth=(key, "wrong")
    )
    assert refused.status_code == 401


async def test_unsupported_header_is_not_looked_up(
    client: httpx.AsyncClient, world: World, session: AsyncSession
):
    auth = await _issue(session, "1.0.3")
    response = await client.get(
        "/xapi/statements", headers={"X-Experience-API-Version": "0.95"}, auth=auth
    )
    assert response.status_code == 400
    assert response.json()["error"] == "xapi_version_unsupported"
    assert response.headers["x-experience-api-version"] == "2.0.0"


async def test_institution_admin_creates_a_1_0_3_credential(
    client: httpx.AsyncClient, world: World
):
    headers = await login(client, "fxvs_admin", PASSWORD)
    created = await client.post(
        "/api/v1/institutions/fxvs/credentials",
        json={"scopes": ["statements/write"], "label": "LMS", "xapi_version": "1.0.3"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["xapi_version"] == "1.0.3"
    listed = await client.get("/api/v1/institutions/fxvs/credentials", headers=headers)
    versions = {c["key"]: c["xapi_version"] for c in listed.json()}
    assert versions[created.json()["key"]] == "1.0.3"
    assert versions[world.basic("fxvs")[0]] is None
    response = await _no_version(client, auth=(created.json()["key"], created.json()["secret"]))
    assert response.headers["x-experience-api-version"] == "1.0.3"
    bad = await client.post(
        "/api/v1/institutions/fxvs/credentials",
        json={"scopes": ["statements/write"], "xapi_version": "1.0.2"},
        headers=headers,
    )
    assert bad.status_code == 422


async def test_service_refuses_an_unknown_version(world: World, session: AsyncSession):
    fxvs = await identity.get_institution(session, "fxvs")
    with pytest.raises(BadRequest) as refused:
        await identity.issue_credential(session, fxvs, xapi_version="1.0")
    assert refused.value.code == "invalid_xapi_version"
