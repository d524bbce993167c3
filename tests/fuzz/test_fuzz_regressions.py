"""The 5xx and nonconforming answers the fuzzer found, each pinned by example (both databases)."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo


async def _operator(client: httpx.AsyncClient, session: AsyncSession, settings: Settings):
    data = await load_demo(session, settings)
    await session.commit()
    user = data["users"]["operator"]
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("field", ["name_zh", "home_pages"])
async def test_patching_a_required_institution_field_to_null_is_422(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings, field: str
) -> None:
    # Was 500: ``list(None)`` for home_pages, a NOT NULL violation for name_zh.
    headers = await _operator(client, session, settings)
    response = await client.patch("/api/v1/institutions/fxvs", json={field: None}, headers=headers)
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", field]
    kept = await client.get("/api/v1/institutions/fxvs", headers=headers)
    assert kept.json()[field]


async def test_clearing_the_english_name_still_works(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    headers = await _operator(client, session, settings)
    response = await client.patch(
        "/api/v1/institutions/fxvs", json={"name_en": None}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["name_en"] is None


async def test_a_service_422_has_the_published_validation_shape(
    client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    # Was a string detail under a 422 whose published schema is a list of loc/msg/type.
    headers = await _operator(client, session, settings)
    response = await client.post("/api/v1/standards", json={}, headers=headers)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "invalid_standards"
    [item] = body["detail"]
    assert item["loc"] == ["body"]
    assert item["type"] == "invalid_standards"
    assert "StandardsSet" in item["msg"]


async def test_every_operation_documents_its_client_errors(client: httpx.AsyncClient) -> None:
    document = (await client.get("/openapi.json")).json()
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "detail"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert "4XX" in operation["responses"], (method, path)
