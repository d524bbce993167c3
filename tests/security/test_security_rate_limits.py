"""Rate limit on public transcript verification (issue 13, B5): ``POST /api/v1/verify``
needs no login, so each client address gets ``verify_rate_limit`` requests per window;
past it ``429 rate_limited`` with ``Retry-After``, other addresses unaffected."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from creditbank.config import Settings
from creditbank.db import Database


@pytest.fixture
async def limited_app(settings: Settings, db: Database) -> AsyncIterator[FastAPI]:
    identity = settings.identity.model_copy(
        update={"verify_rate_limit": 3, "verify_rate_window_seconds": 60}
    )
    application = create_app(settings.model_copy(update={"identity": identity}))
    async with application.router.lifespan_context(application):
        yield application


def _client(app: FastAPI, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def _verify(client: httpx.AsyncClient) -> httpx.Response:
    return await client.post(
        "/api/v1/verify", content=b"not.a.jwt", headers={"Content-Type": "text/plain"}
    )


async def test_verify_is_limited_per_address_with_retry_after(limited_app: FastAPI) -> None:
    async with (
        _client(limited_app, "203.0.113.7") as noisy,
        _client(limited_app, "198.51.100.2") as other,
    ):
        answers = [await _verify(noisy) for _ in range(3)]
        assert all(a.status_code != 429 for a in answers), [a.text for a in answers]
        refused = await _verify(noisy)
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        # Still refused: the refusal is not a way to reset the window.
        assert (await _verify(noisy)).status_code == 429
        # Another address is not affected.
        assert (await _verify(other)).status_code != 429


async def test_the_default_limit_lets_an_ordinary_verifier_through(
    client: httpx.AsyncClient,
) -> None:
    answers = [await _verify(client) for _ in range(10)]
    # Each answered on its merits (this token does not parse), none rate limited.
    assert [a.status_code for a in answers] == [400] * 10
