"""PUT and POST /xapi/statements: storing, LRS-set properties, duplicates, atomic batches."""

from __future__ import annotations

import asyncio
import uuid

import httpx
import orjson
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.jobs.models import Job
from creditbank.lrs.models import Statement

XAPI = {"X-Experience-API-Version": "1.0.3"}
JSON = {**XAPI, "Content-Type": "application/json"}


async def count(session: AsyncSession) -> int:
    result = await session.execute(select(func.count()).select_from(Statement))
    value = int(result.scalar_one())
    await session.rollback()  # never hold SQLite's write lock across requests
    return value


class TestPut:
    async def test_stores_and_sets_lrs_properties(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        response = await fxvs.put(fxvs.statement(), statement_id)
        assert response.status_code == 204, response.text
        assert response.headers["x-experience-api-version"] == "1.0.3"

        got = await fxvs.get({"statementId": statement_id})
        assert got.status_code == 200
        body = got.json()
        assert body["id"] == statement_id
        assert body["stored"].endswith("Z")
        assert body["timestamp"] == body["stored"]
        assert body["version"] == "1.0.0"
        assert body["authority"]["account"]["name"] == fxvs.auth[0]
        assert body["object"]["definition"]["name"] == {"zh-CN": "电工基础"}
        assert "last-modified" in got.headers
        assert got.headers["x-experience-api-consistent-through"].endswith("Z")

    async def test_authority_sent_is_replaced_by_the_credentials(self, fxvs):
        statement_id = str(uuid.uuid4())
        forged = {"objectType": "Agent", "mbox": "mailto:boss@example.com"}
        assert (await fxvs.put(fxvs.statement(authority=forged), statement_id)).status_code == 204
        body = (await fxvs.get({"statementId": statement_id})).json()
        assert body["authority"]["account"]["name"] == fxvs.auth[0]

    async def test_same_statement_again_is_204_and_not_duplicated(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        statement = fxvs.statement(timestamp="2026-03-01T08:00:00.000Z")
        assert (await fxvs.put(statement, statement_id)).status_code == 204
        assert (await fxvs.put(statement, statement_id)).status_code == 204
        assert await count(session) == 1

    async def test_retry_without_lrs_set_properties_is_equivalent(self, fxvs, session):
        # No timestamp, authority, version or stored sent: the LRS-added ones do not count.
        statement_id = str(uuid.uuid4())
        statement = fxvs.statement(actor={"objectType": "Agent", "mbox": "mailto:Li.Na@Example.CN"})
        assert (await fxvs.put(statement, statement_id)).status_code == 204
        statement["actor"]["mbox"] = "MAILTO:Li.Na@example.cn"  # scheme and domain: any case
        assert (await fxvs.put(statement, statement_id)).status_code == 204
        assert (await fxvs.post([{**statement, "id": statement_id}])).status_code == 200
        assert await count(session) == 1

    async def test_different_statement_under_the_same_id_is_409(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        assert (await fxvs.put(fxvs.statement(), statement_id)).status_code == 204
        response = await fxvs.put(fxvs.statement(learner="20230002"), statement_id)
        assert response.status_code == 409
        assert response.json()["error"] == "statement_conflict"

    async def test_id_in_body_must_match_parameter(self, fxvs):
        statement = fxvs.statement(id=str(uuid.uuid4()))
        response = await fxvs.put(statement, str(uuid.uuid4()))
        assert response.status_code == 400

    async def test_statement_id_is_required(self, fxvs):
        response = await fxvs.client.put(
            "/xapi/statements",
            content=orjson.dumps(fxvs.statement()),
            headers=JSON,
            auth=fxvs.auth,
        )
        assert response.status_code == 400

    async def test_concurrent_puts_of_one_id_store_it_once(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        statement = fxvs.statement(timestamp="2026-03-01T08:00:00.000Z")
        responses = await asyncio.gather(*(fxvs.put(statement, statement_id) for _ in range(4)))
        assert [r.status_code for r in responses] == [204] * 4
        assert await count(session) == 1

    async def test_concurrent_puts_of_different_content_one_wins(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        responses = await asyncio.gather(
            fxvs.put(fxvs.statement(learner="a1"), statement_id),
            fxvs.put(fxvs.statement(learner="b2"), statement_id),
        )
        assert sorted(r.status_code for r in responses) == [204, 409]
        assert await count(session) == 1


class TestPost:
    async def test_one_statement_gets_an_id(self, fxvs):
        response = await fxvs.post(fxvs.statement())
        assert response.status_code == 200
        (statement_id,) = response.json()
        uuid.UUID(statement_id)
        assert (await fxvs.get({"statementId": statement_id})).status_code == 200

    async def test_batch_answers_ids_in_order_and_enqueues_jobs(self, fxvs, session):
        given = str(uuid.uuid4())
        batch = [fxvs.statement(learner=f"s{i}") for i in range(5)]
        batch[2]["id"] = given
        response = await fxvs.post(batch)
        assert response.status_code == 200
        ids = response.json()
        assert len(ids) == 5
        assert ids[2] == given
        jobs = (await session.execute(select(Job.name, Job.payload))).all()
        assert sorted(p["statement_id"] for name, p in jobs if name == "lrs.statement_stored") == (
            sorted(ids)
        )

    async def test_batch_is_atomic(self, fxvs, session):
        batch = [fxvs.statement(), fxvs.statement(), fxvs.statement()]
        batch[1]["actor"] = {"mbox": "not-a-mailto"}
        response = await fxvs.post(batch)
        assert response.status_code == 400
        assert "$[1].actor" in response.json()["detail"]
        assert await count(session) == 0
        assert (await session.execute(select(func.count()).select_from(Job))).scalar_one() == 0

    async def test_batch_with_a_stored_different_statement_stores_nothing(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        assert (await fxvs.put(fxvs.statement(), statement_id)).status_code == 204
        batch = [fxvs.statement(learner="x"), {**fxvs.statement(learner="y"), "id": statement_id}]
        assert (await fxvs.post(batch)).status_code == 409
        assert await count(session) == 1

    async def test_batch_repeating_an_equivalent_stored_statement(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        statement = {**fxvs.statement(timestamp="2026-03-01T08:00:00Z"), "id": statement_id}
        assert (await fxvs.post([statement])).status_code == 200
        response = await fxvs.post([statement, fxvs.statement(learner="new")])
        assert response.status_code == 200
        assert response.json()[0] == statement_id
        assert await count(session) == 2

    async def test_same_id_twice_in_a_batch_with_different_content_is_400(self, fxvs, session):
        statement_id = str(uuid.uuid4())
        batch = [
            {**fxvs.statement(learner="a"), "id": statement_id},
            {**fxvs.statement(learner="b"), "id": statement_id},
        ]
        assert (await fxvs.post(batch)).status_code == 400
        assert await count(session) == 0

    async def test_same_statement_twice_in_a_batch_is_400(self, fxvs, session):
        statement = {**fxvs.statement(timestamp="2026-03-01T08:00:00Z"), "id": str(uuid.uuid4())}
        response = await fxvs.post([statement, statement])
        assert response.status_code == 400
        assert await count(session) == 0


class TestBadInput:
    async def test_version_header_is_required(self, fxvs):
        response = await fxvs.client.post(
            "/xapi/statements",
            content=orjson.dumps(fxvs.statement()),
            headers={"Content-Type": "application/json"},
            auth=fxvs.auth,
        )
        assert response.status_code == 400
        assert response.headers["x-experience-api-version"]

    async def test_anonymous_is_refused(self, client: httpx.AsyncClient, fxvs):
        response = await client.post(
            "/xapi/statements", content=orjson.dumps(fxvs.statement()), headers=JSON
        )
        assert response.status_code == 401
        response = await client.get("/xapi/statements", headers=XAPI)
        assert response.status_code == 401

    async def test_wrong_or_missing_content_type(self, fxvs, session):
        body = orjson.dumps(fxvs.statement())
        for headers in (XAPI, {**XAPI, "Content-Type": "text/plain"}):
            response = await fxvs.client.post(
                "/xapi/statements", content=body, headers=headers, auth=fxvs.auth
            )
            assert response.status_code == 400, headers
        assert await count(session) == 0

    async def test_malformed_json_invalid_utf8_and_depth(self, fxvs, session, settings):
        deep = {"actor": fxvs.actor("x"), "verb": {"id": "http://e.x/v"}, "object": {}}
        node: dict[str, object] = {}
        deep["result"] = {"extensions": {"http://e.x/deep": node}}
        for _ in range(settings.lrs.max_depth + 5):
            node["a"] = {}
            node = node["a"]  # type: ignore[assignment]
        bodies = [
            b'{"actor": ',
            b'{"actor": "\xff\xfe"}',
            orjson.dumps(deep),
            b"[" * 5000 + b"]" * 5000,
            b"",
        ]
        for body in bodies:
            response = await fxvs.client.post(
                "/xapi/statements", content=body, headers=JSON, auth=fxvs.auth
            )
            assert response.status_code == 400, (body[:30], response.text)
        assert await count(session) == 0
        # The server goes on serving.
        assert (await fxvs.post(fxvs.statement())).status_code == 200

    async def test_body_over_the_limit_is_413(self, fxvs, settings, session):
        statement = fxvs.statement()
        statement["result"] = {"response": "x" * (settings.max_body_bytes + 10)}
        response = await fxvs.post(statement)
        assert response.status_code == 413
        assert await count(session) == 0

    async def test_unknown_parameter_on_write(self, fxvs):
        response = await fxvs.client.post(
            "/xapi/statements?foo=bar",
            content=orjson.dumps(fxvs.statement()),
            headers=JSON,
            auth=fxvs.auth,
        )
        assert response.status_code == 400

    async def test_read_only_credential_cannot_write(self, client, session, demo):
        from creditbank.identity.service import identity

        institution = await identity.get_institution(session, "fxvs")
        issued = await identity.issue_credential(
            session, institution, scopes=["statements/read/mine"]
        )
        await session.commit()
        response = await client.post(
            "/xapi/statements",
            content=b"{}",
            headers=JSON,
            auth=(issued.credential.key, issued.secret),
        )
        assert response.status_code == 403
