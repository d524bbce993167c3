"""What the portal tests share: the demo story loaded in-process, a browser-like client."""

from __future__ import annotations

import re
from typing import Any

import httpx

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo, tell_the_story
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import RoleSpec
from creditbank.identity.signin import sign_in as sign_in_service
from creditbank.identity.tokens import keyring_for
from workers.runner import Worker

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


async def load_story(db: Database, settings: Settings) -> dict[str, Any]:
    """``creditbank demo``: institutions, users, standards, then 李娜's story replayed."""
    async with db.session_scope() as session:
        data = await load_demo(session, settings)
    data["story"] = await tell_the_story(db, settings, data, Worker(db, settings).drain)
    return data


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login",
        data={"csrf_token": csrf_of(form.text), "username": username, "password": password},
    )


def figure(html: str, name: str) -> str:
    found = re.search(rf'data-figure="{name}">([^<]+)<', html)
    assert found, f"no figure {name}"
    return found.group(1)


async def sign_in_as_another_learner(
    client: httpx.AsyncClient, db: Database, settings: Settings, username: str
) -> None:
    """A second learner (张伟, nothing banked) with her own sign-in; the client's cookies
    are dropped and it is signed in as her."""
    password = "Zw-portal-test-42"
    async with db.session_scope() as session:
        other = await identity_service.create_learner(
            session, "test", keyring=keyring_for(settings), name="张伟", national_id=None
        )
        await sign_in_service.create_user(
            session,
            "test",
            settings=settings,
            username=username,
            password=password,
            learner=other,
            roles=[RoleSpec("learner")],
        )
    client.cookies.clear()
    await sign_in(client, username, password)
