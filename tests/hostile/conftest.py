"""The hostile world: the demo institutions (``shady`` among them), their LRS
credentials and the demo operator, on both databases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo

V1 = {"X-Experience-API-Version": "1.0.3"}
PASSED = "http://adlnet.gov/expapi/verbs/passed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


@dataclass
class Demo:
    data: dict[str, Any]

    def basic(self, key: str) -> tuple[str, str]:
        item = self.data["institutions"][key]
        return item["lrs_key"], item["lrs_secret"]

    def home_page(self, key: str) -> str:
        page: str = self.data["institutions"][key]["home_page"]
        return page

    def user(self, role: str) -> tuple[str, str]:
        user = self.data["users"][role]
        return user["username"], user["password"]


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> Demo:
    data = await load_demo(session, settings)
    await session.commit()
    return Demo(data)


async def bearer(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def operator(client: httpx.AsyncClient, demo: Demo) -> dict[str, str]:
    return await bearer(client, *demo.user("operator"))


def statement(home_page: str, learner: str = "FX2019001", **extra: Any) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "account": {"homePage": home_page, "name": learner}},
        "verb": {"id": PASSED, "display": {"en-US": "passed"}},
        "object": {"objectType": "Activity", "id": f"{home_page}/xapi/activities/elec-4"},
        **extra,
    }


def voiding(home_page: str, target: str) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "account": {"homePage": home_page, "name": "clerk"}},
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


async def post_statements(
    client: httpx.AsyncClient, auth: tuple[str, str], body: Any, **headers: str
) -> httpx.Response:
    return await client.post(
        "/xapi/statements",
        content=body if isinstance(body, bytes) else orjson.dumps(body),
        headers={**V1, "Content-Type": "application/json", **headers},
        auth=auth,
    )


def new_id() -> str:
    return str(uuid.uuid4())
