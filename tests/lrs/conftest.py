"""Helpers for the statement tests: the demo institutions and an xAPI client wrapper."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo

XAPI = {"X-Experience-API-Version": "1.0.3"}
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


class Lrs:
    """An httpx client speaking xAPI 1.0.3 with one institution's credentials."""

    def __init__(self, client: httpx.AsyncClient, institution: dict[str, Any]) -> None:
        self.client = client
        self.institution = institution
        self.auth = (institution["lrs_key"], institution["lrs_secret"])
        self.home_page: str = institution["home_page"]

    async def put(self, statement: dict[str, Any], statement_id: str) -> httpx.Response:
        return await self.client.put(
            "/xapi/statements",
            params={"statementId": statement_id},
            content=orjson.dumps(statement),
            headers={**XAPI, "Content-Type": "application/json"},
            auth=self.auth,
        )

    async def post(self, statements: Any) -> httpx.Response:
        return await self.client.post(
            "/xapi/statements",
            content=orjson.dumps(statements),
            headers={**XAPI, "Content-Type": "application/json"},
            auth=self.auth,
        )

    async def get(self, params: dict[str, str] | None = None, **headers: str) -> httpx.Response:
        return await self.client.get(
            "/xapi/statements", params=params, headers={**XAPI, **headers}, auth=self.auth
        )

    async def get_url(self, url: str) -> httpx.Response:
        return await self.client.get(url, headers=XAPI, auth=self.auth)

    async def stored_ids(self, params: dict[str, str] | None = None) -> list[str]:
        """Every id a query returns, following ``more``."""
        response = await self.get(params)
        assert response.status_code == 200, response.text
        page = response.json()
        ids = [s["id"] for s in page["statements"]]
        while page["more"]:
            response = await self.get_url(page["more"])
            assert response.status_code == 200, response.text
            page = response.json()
            ids += [s["id"] for s in page["statements"]]
        return ids

    def actor(self, name: str) -> dict[str, Any]:
        return {"objectType": "Agent", "account": {"homePage": self.home_page, "name": name}}

    def statement(
        self,
        learner: str = "20230001",
        verb: str = PASSED,
        activity: str = "course-1",
        **extra: Any,
    ) -> dict[str, Any]:
        return {
            "actor": self.actor(learner),
            "verb": {"id": verb, "display": {"zh-CN": "通过", "en-US": "passed"}},
            "object": {
                "objectType": "Activity",
                "id": f"{self.home_page}/xapi/activities/{activity}",
                "definition": {"name": {"zh-CN": "电工基础"}},
            },
            **extra,
        }


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> dict[str, dict[str, Any]]:
    data = await load_demo(session, settings)
    await session.commit()
    institutions: dict[str, dict[str, Any]] = dict(data["institutions"])
    # The read-everything credential of the conformance suite, under its own name.
    institutions["conformance"] = data["conformance"]
    return institutions


@pytest.fixture
def fxvs(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Lrs:
    return Lrs(client, demo["fxvs"])


@pytest.fixture
def shady(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Lrs:
    """The unaccredited training centre of the li-na scenario."""
    return Lrs(client, demo["shady"])


@pytest.fixture
def everyone(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Lrs:
    """The conformance suite's credential (scope ``all``): reads every institution's."""
    return Lrs(client, {**demo["conformance"], "home_page": demo["fxvs"]["home_page"]})


@pytest.fixture
def mooc1(client: httpx.AsyncClient, demo: dict[str, dict[str, Any]]) -> Lrs:
    return Lrs(client, demo["mooc1"])


def new_id() -> str:
    return str(uuid.uuid4())
