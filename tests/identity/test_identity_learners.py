"""Learner accounts, encryption at rest, identity links, export and erasure over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.models import AuditEntry
from creditbank.db import Database
from creditbank.identity.models import IdentityLink
from creditbank.identity.service import LINK_CREATED_JOB, identity
from creditbank.jobs.models import Job
from tests.identity.conftest import ZHANG_NATIONAL_ID, World, login

FXVS = "https://fxvs.example.edu.cn"


async def _operator(client: httpx.AsyncClient, world: World) -> dict[str, str]:
    return await login(client, "operator", world.password("operator"))


async def _audit(db: Database, action: str) -> list[dict[str, Any]]:
    async with db.read_scope() as session:
        result = await session.execute(
            select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
        )
        return [
            {"object_id": e.object_id, "outcome": e.outcome, "detail": e.detail}
            for e in result.scalars()
        ]


async def _links(db: Database) -> int:
    async with db.read_scope() as session:
        return int(
            (await session.execute(select(func.count()).select_from(IdentityLink))).scalar_one()
        )


async def _consent(client: httpx.AsyncClient, world: World, **body: str) -> str:
    headers = await login(client, "zhang", world.password("zhang"))
    response = await client.post(
        f"/api/v1/learners/{world.zhang_id}/consent-codes", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    code: str = response.json()["code"]
    return code


def _account(name: str, home: str = FXVS) -> dict[str, object]:
    return {"objectType": "Agent", "account": {"homePage": home, "name": name}}


class TestLearnerAccounts:
    async def test_profile_encrypted_at_rest(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        headers = await _operator(client, world)
        response = await client.post(
            "/api/v1/learners",
            json={
                "name": "王芳",
                "national_id": "11010519491231002X",
                "phone": "13700001111",
                "email": "wang.fang@example.cn",
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["masked"] is True
        assert body["national_id"] == "110***********002X"
        async with db.read_scope() as session:
            row = (
                (
                    await session.execute(
                        text("SELECT * FROM learners WHERE bank_id = :b"), {"b": body["bank_id"]}
                    )
                )
                .mappings()
                .one()
            )
        raw = " ".join(str(v) for v in row.values())
        for secret in ("王芳", "11010519491231002X", "13700001111", "wang.fang@example.cn"):
            assert secret not in raw
        assert row["national_id_enc"].startswith("v1.")
        assert len(row["national_id_index"]) == 64

    async def test_reveal_is_audited_and_lookup_uses_blind_index(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        headers = await _operator(client, world)
        revealed = await client.get(
            f"/api/v1/learners/{world.zhang_id}", params={"reveal": "true"}, headers=headers
        )
        assert revealed.status_code == 200
        assert revealed.json()["national_id"] == ZHANG_NATIONAL_ID
        assert revealed.json()["name"] == "张伟"
        reads = await _audit(db, "learner.read_sensitive")
        assert [e["object_id"] for e in reads] == [world.zhang_id]
        assert ZHANG_NATIONAL_ID not in str(reads[0]["detail"])
        found = await client.post(
            "/api/v1/learners/lookup",
            json={"national_id": ZHANG_NATIONAL_ID.lower()},
            headers=headers,
        )
        assert found.status_code == 200
        assert found.json()["id"] == world.zhang_id

    async def test_malformed_national_id_is_400_and_nothing_created(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        headers = await _operator(client, world)
        before = await client.get("/api/v1/learners", headers=headers)
        response = await client.post(
            "/api/v1/learners",
            json={"name": "某人", "national_id": "420325198803150027"},
            headers=headers,
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_national_id"
        after = await client.get("/api/v1/learners", headers=headers)
        assert len(after.json()) == len(before.json())

    async def test_duplicate_national_id_conflicts(self, client: httpx.AsyncClient, world: World):
        headers = await _operator(client, world)
        response = await client.post(
            "/api/v1/learners",
            json={"name": "冒名", "national_id": ZHANG_NATIONAL_ID},
            headers=headers,
        )
        assert response.status_code == 409

    async def test_reencrypt_after_rotation(
        self, world: World, session: AsyncSession, settings, db: Database
    ):
        from creditbank.identity.tokens import keyring_for, keyring_path
        from creditbank.kit.crypto import rotate_keyring_file

        old = keyring_for(settings)
        new_kid = rotate_keyring_file(keyring_path(settings))
        ring = keyring_for(settings)
        assert ring.current == new_kid != old.current
        learner = await identity.get_learner(session, __import__("uuid").UUID(world.zhang_id))
        assert ring.kid_of(learner.name_enc or "") == old.current
        count = await identity.reencrypt_all(session, keyring=ring)
        await session.commit()
        assert count >= 8  # lina + zhang, four fields each
        async with db.read_scope() as check:
            values = (await check.execute(text("SELECT name_enc, phone_enc FROM learners"))).all()
        assert all(v.startswith(f"v1.{new_kid}.") for row in values for v in row if v)


class TestLinks:
    async def test_consent_link_enqueues_job_once_and_replay_refused(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        code = await _consent(client, world)
        auth = world.basic("fxvs")
        response = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": _account("FX2020077")},
            auth=auth,
        )
        assert response.status_code == 201, response.text
        link = response.json()
        assert link["ifi"] == f"account:{FXVS}|FX2020077"
        assert link["learner_id"] == world.zhang_id
        async with db.read_scope() as session:
            jobs = (
                (await session.execute(select(Job).where(Job.name == LINK_CREATED_JOB)))
                .scalars()
                .all()
            )
            assert [(j.payload["ifi"], j.payload["learner_id"]) for j in jobs] == [
                (link["ifi"], world.zhang_id)
            ]
            assert jobs[0].dedupe_key == f"link:{link['ifi']}:{link['id']}"
            learner = await identity.learner_for_ifi(session, link["ifi"])
            assert learner is not None
            assert str(learner.id) == world.zhang_id
            assert link["ifi"] in await identity.ifis_of(session, learner.id)
        # Replay: refused, nothing changed, audited.
        replay = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": _account("FX2020078")},
            auth=auth,
        )
        assert replay.status_code == 409
        assert replay.json()["error"] == "consent_code_used"
        assert await _links(db) == 6  # lina's five demo links + this one
        denied = [e for e in await _audit(db, "link.create") if e["outcome"] == "denied"]
        assert [e["detail"]["error"] for e in denied] == ["consent_code_used"]

    async def test_ifi_of_someone_else_conflicts(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        code = await _consent(client, world)
        lina_fxvs = world.demo["users"]["learner"]["linked_accounts"][0]["account"]
        response = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": {"account": lina_fxvs}},
            auth=world.basic("fxvs"),
        )
        assert response.status_code == 409
        assert response.json()["error"] == "ifi_already_linked"
        assert await _links(db) == 5
        # The code was not consumed by the refused attempt.
        ok = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": _account("FX2020099")},
            auth=world.basic("fxvs"),
        )
        assert ok.status_code == 201

    async def test_foreign_home_page_and_bad_codes_refused(
        self, client: httpx.AsyncClient, world: World
    ):
        code = await _consent(client, world, institution="mooc1")
        auth = world.basic("fxvs")
        wrong_home = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": _account("x", "https://mooc1.example.cn")},
            auth=auth,
        )
        assert wrong_home.status_code == 403
        other_institution = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": {"mbox": "mailto:Zhang@Example.cn"}},
            auth=auth,
        )
        assert other_institution.status_code == 400
        unknown = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": "AAAAA-BBBBB", "agent": _account("y")},
            auth=auth,
        )
        assert unknown.status_code == 400
        assert unknown.json()["error"] == "invalid_consent_code"
        mooc = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code.lower(), "agent": {"mbox": "mailto:Zhang@Example.cn"}},
            auth=world.basic("mooc1"),
        )
        assert mooc.status_code == 201
        assert mooc.json()["ifi"] == "mbox:mailto:zhang@example.cn"

    async def test_expired_code_refused(
        self, client: httpx.AsyncClient, world: World, session: AsyncSession
    ):
        from creditbank.identity.models import ConsentCode
        from creditbank.kit.time import utc_now

        code = await _consent(client, world)
        await session.execute(
            ConsentCode.__table__.update().values(expires_at=utc_now())  # type: ignore[attr-defined]
        )
        await session.commit()
        response = await client.post(
            "/api/v1/identity-links",
            json={"consent_code": code, "agent": _account("FX1")},
            auth=world.basic("fxvs"),
        )
        assert response.status_code == 400
        assert response.json()["error"] == "consent_code_expired"

    async def test_bulk_link_by_national_id(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        auth = world.basic("fxvs")
        bad = await client.post(
            "/api/v1/identity-links/bulk",
            json={
                "items": [
                    {"national_id": ZHANG_NATIONAL_ID, "agent": _account("FX5")},
                    {"national_id": "420302197506010012", "agent": _account("FX6")},
                ]
            },
            auth=auth,
        )
        assert bad.status_code == 400
        assert bad.json()["error"] == "invalid_items"
        assert await _links(db) == 5
        good = await client.post(
            "/api/v1/identity-links/bulk",
            json={
                "items": [
                    {"national_id": ZHANG_NATIONAL_ID, "agent": _account("FX5")},
                    {"national_id": "11010519491231002X", "agent": _account("FX6")},
                    {"national_id": ZHANG_NATIONAL_ID, "agent": _account("FX5")},
                ]
            },
            auth=auth,
        )
        assert good.status_code == 200, good.text
        assert [r["status"] for r in good.json()["results"]] == [
            "linked",
            "no_learner",
            "already_linked",
        ]
        assert await _links(db) == 6
        conflict = await client.post(
            "/api/v1/identity-links/bulk",
            json={
                "items": [
                    {"national_id": ZHANG_NATIONAL_ID, "agent": _account("FX7")},
                    {"national_id": ZHANG_NATIONAL_ID, "agent": _account("FX2019001")},
                ]
            },
            auth=auth,
        )
        assert conflict.status_code == 409
        assert await _links(db) == 6  # FX7 rolled back too

    async def test_remove_link(self, client: httpx.AsyncClient, world: World, db: Database):
        headers = await login(client, "lina", world.password("lina"))
        links = await client.get(f"/api/v1/learners/{world.lina_id}/links", headers=headers)
        assert links.status_code == 200
        assert len(links.json()) == 5
        target = links.json()[0]["id"]
        other = await login(client, "zhang", world.password("zhang"))
        assert (
            await client.delete(f"/api/v1/identity-links/{target}", headers=other)
        ).status_code == 403
        assert (
            await client.delete(f"/api/v1/identity-links/{target}", headers=headers)
        ).status_code == 204
        assert await _links(db) == 4


class TestDataSubjectRights:
    async def test_export(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "lina", world.password("lina"))
        response = await client.get(f"/api/v1/learners/{world.lina_id}/export", headers=headers)
        assert response.status_code == 200
        data = response.json()
        assert data["learner"]["name"] == "李娜"
        assert data["learner"]["national_id"] == "420325198803150028"
        assert len(data["identity_links"]) == 5
        assert data["user"]["username"] == "lina"

    async def test_erasure_pseudonymises(
        self, client: httpx.AsyncClient, world: World, db: Database
    ):
        headers = await login(client, "lina", world.password("lina"))
        response = await client.post(f"/api/v1/learners/{world.lina_id}/erasure", headers=headers)
        assert response.status_code == 200
        assert response.json()["erased_at"] is not None
        async with db.read_scope() as session:
            row = (
                (
                    await session.execute(
                        text("SELECT * FROM learners WHERE bank_id = :b"),
                        {"b": world.demo["users"]["learner"]["bank_id"]},
                    )
                )
                .mappings()
                .one()
            )
            assert row["name_enc"] is None
            assert row["national_id_index"] is None
            users = (await session.execute(text("SELECT username FROM users"))).scalars().all()
            assert "lina" not in users
        assert await _links(db) == 0
        # Her token no longer works; her sign-in is gone.
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401
        again = await client.post(
            "/api/v1/auth/login", json={"username": "lina", "password": world.password("lina")}
        )
        assert again.status_code == 401
        # The operator still sees the pseudonymous account id.
        operator = await _operator(client, world)
        summary = await client.get(f"/api/v1/learners/{world.lina_id}", headers=operator)
        assert summary.status_code == 200
        assert summary.json()["erased"] is True
        assert summary.json()["name"] is None


class TestInstitutions:
    async def test_home_page_belongs_to_one_institution(
        self, client: httpx.AsyncClient, world: World
    ):
        headers = await _operator(client, world)
        taken = await client.post(
            "/api/v1/institutions",
            json={
                "key": "copycat",
                "name_zh": "冒牌",
                "type": "training",
                "home_pages": ["https://fxvs.example.edu.cn/"],
            },
            headers=headers,
        )
        assert taken.status_code == 409
        assert taken.json()["error"] == "home_page_taken"
        bad = await client.post(
            "/api/v1/institutions",
            json={"key": "nohome", "name_zh": "无主页", "type": "alien"},
            headers=headers,
        )
        assert bad.status_code == 400
        made = await client.post(
            "/api/v1/institutions",
            json={
                "key": "newsch",
                "name_zh": "新学校",
                "name_en": "New School",
                "type": "vocational",
                "region_code": "420325",
                "home_pages": ["https://new.example.edu.cn"],
            },
            headers=headers,
        )
        assert made.status_code == 201
        assert made.json()["accredited"] is False
        accredited = await client.put(
            "/api/v1/institutions/newsch/accreditation",
            json={
                "accredited": True,
                "accredited_from": "2026-01-01T00:00:00Z",
                "accredited_until": "2025-01-01T00:00:00Z",
            },
            headers=headers,
        )
        assert accredited.status_code == 400


class TestOtherContextsHooks:
    async def test_exporters_and_erasers_join(
        self, client: httpx.AsyncClient, world: World, monkeypatch
    ):
        import uuid as uuid_module

        from creditbank.identity import data_rights as data_rights_module

        erased: list[uuid_module.UUID] = []

        async def export_section(session: AsyncSession, learner_id: uuid_module.UUID):
            return {"learner": str(learner_id), "outcomes": []}

        async def erase_section(session: AsyncSession, learner_id: uuid_module.UUID) -> None:
            erased.append(learner_id)

        monkeypatch.setitem(data_rights_module._EXPORTERS, "other_context", export_section)
        monkeypatch.setitem(data_rights_module._ERASERS, "other_context", erase_section)
        headers = await login(client, "zhang", world.password("zhang"))
        exported = await client.get(f"/api/v1/learners/{world.zhang_id}/export", headers=headers)
        assert exported.json()["other_context"] == {"learner": world.zhang_id, "outcomes": []}
        erasure = await client.post(f"/api/v1/learners/{world.zhang_id}/erasure", headers=headers)
        assert erasure.status_code == 200
        assert [str(e) for e in erased] == [world.zhang_id]
