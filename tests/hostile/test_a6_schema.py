"""A6: the 422 body is the one the OpenAPI document publishes; TRACE and other
unsupported methods answer 405 with ``Allow``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.hostile.conftest import Demo

_TYPES = {"string": str, "array": list, "object": dict, "integer": int}


def _problems(schema: dict[str, Any], components: dict[str, Any], value: Any) -> list[str]:
    """The published schema's required properties and types, checked (the subset of
    JSON Schema FastAPI emits for these two components)."""
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    if "anyOf" in schema:
        options = [_problems(s, components, value) for s in schema["anyOf"]]
        return [] if any(not o for o in options) else options[0]
    kind = schema.get("type")
    if kind and not isinstance(value, _TYPES[kind]):
        return [f"{value!r} is not {kind}"]
    out: list[str] = []
    if kind == "object":
        out += [f"missing {name}" for name in schema.get("required", []) if name not in value]
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                out += _problems(sub, components, value[name])
    if kind == "array" and "items" in schema:
        for item in value:
            out += _problems(schema["items"], components, item)
    return out


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ledger/learners/{id}/entries?limit=0",
        "/api/v1/ledger/learners/not-a-uuid/entries",
        "/api/v1/audit?since=2024-01-01T00:00:00",
        "/api/v1/institutions/%00",
    ],
)
async def test_422_matches_published_schema(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str], path: str
) -> None:
    openapi = (await client.get("/openapi.json")).json()
    response = await client.get(path.replace("{id}", str(uuid.uuid4())), headers=operator)
    assert response.status_code == 422, response.text
    components = openapi["components"]["schemas"]
    schema = components["HTTPValidationError"]
    assert _problems(schema, components, response.json()) == []
    # The route documents that very schema for its 422.
    assert "error" in schema["required"]
    assert all("type" in item for item in response.json()["detail"])


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "PROPFIND"])
@pytest.mark.parametrize("path", ["/xapi/statements", "/api/v1/institutions", "/nowhere"])
async def test_unsupported_methods_405_with_allow(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert "GET" in response.headers["allow"]


async def test_route_405_keeps_allow(client: httpx.AsyncClient) -> None:
    response = await client.request("DELETE", "/api/v1/auth/login")
    assert response.status_code == 405
    assert "POST" in response.headers.get("allow", "")
