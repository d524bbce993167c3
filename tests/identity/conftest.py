"""The identity world: demo institutions and users plus a second learner and an admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo
from creditbank.identity.service import identity
from creditbank.identity.signin import RoleSpec, sign_in
from creditbank.identity.tokens import keyring_for

PASSWORD = "Secret-pass-2024"
ZHANG_NATIONAL_ID = "420302197506010011"


@dataclass
class World:
    demo: dict[str, Any]
    lina_id: str
    zhang_id: str

    def institution(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self.demo["institutions"][key]
        return result

    def basic(self, key: str) -> tuple[str, str]:
        item = self.institution(key)
        return item["lrs_key"], item["lrs_secret"]

    def password(self, username: str) -> str:
        users = self.demo["users"]
        for role in ("learner", "certifier", "operator"):
            if users[role]["username"] == username:
                password: str = users[role]["password"]
                return password
        return PASSWORD


@pytest.fixture
async def world(session: AsyncSession, settings: Settings) -> World:
    demo = await load_demo(session, settings)
    keyring = keyring_for(settings)
    zhang = await identity.create_learner(
        session,
        "test",
        keyring=keyring,
        name="张伟",
        national_id=ZHANG_NATIONAL_ID,
        phone="13912345678",
        email="zhang.wei@example.cn",
    )
    fxvs = await identity.get_institution(session, "fxvs")
    hbou = await identity.get_institution(session, "hbou")
    await sign_in.create_user(
        session,
        "test",
        settings=settings,
        username="zhang",
        password=PASSWORD,
        learner=zhang,
        roles=[RoleSpec("learner")],
    )
    await sign_in.create_user(
        session,
        "test",
        settings=settings,
        username="fxvs_admin",
        password=PASSWORD,
        roles=[RoleSpec("institution_admin", institution=fxvs)],
    )
    await sign_in.create_user(
        session,
        "test",
        settings=settings,
        username="hbou_admin",
        password=PASSWORD,
        roles=[RoleSpec("institution_admin", institution=hbou)],
    )
    await session.commit()
    return World(demo=demo, lina_id=demo["users"]["learner"]["learner_id"], zhang_id=str(zhang.id))


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def client_token(
    client: httpx.AsyncClient, auth: tuple[str, str], scope: str | None = None
) -> httpx.Response:
    data = {"grant_type": "client_credentials"}
    if scope is not None:
        data["scope"] = scope
    return await client.post("/oauth/token", data=data, auth=auth)
