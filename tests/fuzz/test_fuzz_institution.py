"""B3: schemathesis over every published operation as an institution
(its administrator, its LRS credential), both databases."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from tests.fuzz.harness_fuzz import fuzz_as


async def test_no_5xx_and_every_answer_conforms_as_an_institution(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, settings: Settings
) -> None:
    await fuzz_as(app, client, session, settings, "institution")
