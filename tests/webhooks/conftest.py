"""The rules-processing world (demo institutions, 李娜 linked, demo standards published)
and the vocational school's administrator."""

from __future__ import annotations

import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.service import identity
from creditbank.identity.signin import RoleSpec, sign_in
from tests.rules_processing.conftest import World, world

__all__ = ["admin", "world"]

PASSWORD = "Secret-pass-2024"


@pytest.fixture
async def admin(world: World, db: Database, settings: Settings) -> None:
    async with db.session_scope() as session:
        fxvs = await identity.get_institution(session, "fxvs")
        await sign_in.create_user(
            session,
            "test",
            settings=settings,
            username="fxvs_admin",
            password=PASSWORD,
            roles=[RoleSpec("institution_admin", institution=fxvs)],
        )
