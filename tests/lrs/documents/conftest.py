"""Helpers for the document, activities and agents resource tests."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.service import identity as identity_service

V1 = "1.0.3"
V2 = "2.0.0"
STATE = "/xapi/activities/state"
ACTIVITY_PROFILE = "/xapi/activities/profile"
AGENT_PROFILE = "/xapi/agents/profile"
ACTIVITY = "https://fxvs.example.edu.cn/xapi/activities/elec-4"
AGENT = {
    "objectType": "Agent",
    "account": {"homePage": "https://fxvs.example.edu.cn", "name": "FX1"},
}


class Xapi:
    """An httpx client for one credential, speaking one xAPI version."""

    def __init__(self, client: httpx.AsyncClient, auth: tuple[str, str], version: str = V1):
        self.client = client
        self.auth = auth
        self.version = version

    def under(self, version: str) -> Xapi:
        return Xapi(self.client, self.auth, version)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"X-Experience-API-Version": self.version, **(extra or {})}

    async def request(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        json: Any = None,
        content: bytes | str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        extra = dict(headers or {})
        if json is not None:
            content = orjson.dumps(json)
            extra.setdefault("Content-Type", "application/json")
        query = {
            k: orjson.dumps(v).decode() if isinstance(v, dict) else v
            for k, v in (params or {}).items()
        }
        return await self.client.request(
            method, path, params=query, content=content, headers=self.headers(extra), auth=self.auth
        )

    async def get(self, path: str, params: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.request("GET", path, params, **kw)

    async def put(self, path: str, params: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.request("PUT", path, params, **kw)

    async def post(self, path: str, params: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.request("POST", path, params, **kw)

    async def delete(self, path: str, params: dict[str, Any], **kw: Any) -> httpx.Response:
        return await self.request("DELETE", path, params, **kw)


def state_params(state_id: str | None = "bookmark", **extra: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"activityId": ACTIVITY, "agent": AGENT}
    if state_id is not None:
        params["stateId"] = state_id
    return {**params, **extra}


def new_id() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def lrs(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Xapi:
    """fxvs's demo credential (statements read/write, state, profile, define)."""
    return Xapi(client, (demo["fxvs"]["lrs_key"], demo["fxvs"]["lrs_secret"]))


@pytest.fixture
def mooc(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Xapi:
    return Xapi(client, (demo["mooc1"]["lrs_key"], demo["mooc1"]["lrs_secret"]))


async def credential(
    session: AsyncSession, client: httpx.AsyncClient, institution_key: str, scopes: list[str]
) -> Xapi:
    """A fresh credential of a demo institution with exactly ``scopes``."""
    institution = await identity_service.get_institution(session, institution_key)
    issued = await identity_service.issue_credential(session, institution, scopes=scopes)
    await session.commit()
    return Xapi(client, (issued.credential.key, issued.secret))
