"""The demo institutions, committed, and helpers to upload files to the imports API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo

XAPI = {"X-Experience-API-Version": "1.0.3"}


@pytest.fixture
async def demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    data = await load_demo(session, settings)
    await session.commit()
    return data


def basic(demo: dict[str, Any], key: str) -> tuple[str, str]:
    item = demo["institutions"][key]
    return item["lrs_key"], item["lrs_secret"]


def upload(
    client: httpx.Client | httpx.AsyncClient,
    filename: str,
    content: bytes,
    mapping: str,
) -> dict[str, Any]:
    return {
        "files": {
            "file": (filename, content, "application/octet-stream"),
            "mapping": ("mapping.yaml", mapping.encode(), "application/yaml"),
        }
    }
