"""What the portal tests share: the demo story loaded in-process, a browser-like client."""

from __future__ import annotations

import re
from typing import Any

import httpx

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo, tell_the_story
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
