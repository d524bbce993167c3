"""xAPI 1.0.3 and 2.0.0 side by side over HTTP (SQLite and PostgreSQL): negotiation, the
version each statement keeps, 2.0-only data refused under 1.0.3, and the About resource."""

from __future__ import annotations

import orjson
import pytest

V1 = {"X-Experience-API-Version": "1.0.3"}
V2 = {"X-Experience-API-Version": "2.0.0"}


async def post(lrs, statement, headers):
    return await lrs.client.post(
        "/xapi/statements",
        content=orjson.dumps(statement),
        headers={**headers, "Content-Type": "application/json"},
        auth=lrs.auth,
    )


async def get_one(lrs, statement_id, headers):
    return await lrs.client.get(
        "/xapi/statements", params={"statementId": statement_id}, headers=headers, auth=lrs.auth
    )


def context_agent(lrs):
    return {
        "contextAgents": [
            {
                "objectType": "contextAgent",
                "agent": lrs.actor("T001"),
                "relevantTypes": ["https://creditbank.example.cn/xapi/roles/teacher"],
            }
        ]
    }


class TestStoredUnderOneServedUnderTheOther:
    async def test_1_0_3_statement_read_under_2_0(self, fxvs):
        response = await post(fxvs, fxvs.statement(), V1)
        statement_id = response.json()[0]
        answer = await get_one(fxvs, statement_id, V2)
        assert answer.status_code == 200
        assert answer.headers["x-experience-api-version"] == "2.0.0"
        assert answer.json()["version"] == "1.0.0"
        assert "last-modified" in answer.headers

    async def test_2_0_statement_read_under_1_0_3(self, fxvs):
        statement = fxvs.statement(context=context_agent(fxvs))
        response = await post(fxvs, statement, V2)
        assert response.status_code == 200, response.text
        statement_id = response.json()[0]
        answer = await get_one(fxvs, statement_id, V1)
        assert answer.status_code == 200
        assert answer.headers["x-experience-api-version"] == "1.0.3"
        body = answer.json()
        assert body["version"] == "2.0.0"
        assert body["context"]["contextAgents"][0]["agent"] == fxvs.actor("T001")

    async def test_sent_version_is_kept(self, fxvs):
        for headers, version in ((V2, "1.0.3"), (V2, "2.0.0"), (V1, "1.0"), (V1, "1.0.9")):
            response = await post(fxvs, fxvs.statement(version=version), headers)
            assert response.status_code == 200, (version, response.text)
            answer = await get_one(fxvs, response.json()[0], headers)
            assert answer.json()["version"] == version


class TestRefused:
    async def test_context_agents_under_1_0_3(self, fxvs):
        response = await post(fxvs, fxvs.statement(context=context_agent(fxvs)), V1)
        assert response.status_code == 400

    async def test_version_2_0_under_1_0_3(self, fxvs):
        assert (await post(fxvs, fxvs.statement(version="2.0.0"), V1)).status_code == 400

    @pytest.mark.parametrize("version", ["1.1.0", "0.95", "3.0.0"])
    async def test_unknown_statement_versions(self, fxvs, version):
        assert (await post(fxvs, fxvs.statement(version=version), V2)).status_code == 400

    async def test_2_0_timestamps_are_rfc_3339(self, fxvs):
        basic = fxvs.statement(timestamp="20260301T080000Z")
        assert (await post(fxvs, basic, V1)).status_code == 200
        assert (await post(fxvs, basic, V2)).status_code == 400


class TestNegotiation:
    @pytest.mark.parametrize(("sent", "answered"), [("1.0", "1.0.3"), ("2.0", "2.0.0")])
    async def test_short_versions_are_answered_with_the_patch(self, fxvs, sent, answered):
        response = await fxvs.client.get(
            "/xapi/statements", headers={"X-Experience-API-Version": sent}, auth=fxvs.auth
        )
        assert response.status_code == 200
        assert response.headers["x-experience-api-version"] == answered

    async def test_missing_header_answers_the_default_version(self, fxvs, settings):
        response = await fxvs.client.get("/xapi/statements", auth=fxvs.auth)
        assert response.status_code == 400
        assert response.headers["x-experience-api-version"] == "2.0.0"
        settings.lrs.default_version = "1.0.3"
        response = await fxvs.client.get("/xapi/statements", auth=fxvs.auth)
        assert response.headers["x-experience-api-version"] == "1.0.3"

    async def test_refused_get_carries_consistent_through(self, fxvs):
        response = await fxvs.get({"statementId": "not-a-uuid"})
        assert response.status_code == 400
        assert response.headers["x-experience-api-consistent-through"].endswith("Z")
        response = await fxvs.get({"statementId": "8f87ccde-bb56-4c2e-ab83-44982ef22df0"})
        assert response.status_code == 404
        assert "x-experience-api-consistent-through" in response.headers

    async def test_about_lists_both(self, client):
        response = await client.get("/xapi/about")
        assert response.status_code == 200
        assert response.json()["version"] == ["1.0.3", "2.0.0"]
        assert response.headers["x-experience-api-version"] == "2.0.0"
        response = await client.get("/xapi/about", headers=V1)
        assert response.headers["x-experience-api-version"] == "1.0.3"


class TestConsistentThrough:
    async def test_idle_store_is_consistent_through_now(self, fxvs):
        from datetime import UTC, datetime, timedelta

        before = datetime.now(UTC) - timedelta(seconds=1)
        await post(fxvs, fxvs.statement(), V1)
        response = await fxvs.get()
        stamped = datetime.fromisoformat(response.headers["x-experience-api-consistent-through"])
        stored = datetime.fromisoformat(response.json()["statements"][0]["stored"])
        assert stamped >= stored
        assert stamped >= before
        assert stamped <= datetime.now(UTC) + timedelta(seconds=1)


class TestStrictVersion:
    async def test_1_0_3_readers_get_a_1_0_3_statement(self, fxvs, settings):
        settings.lrs.strict_version = True
        statement = fxvs.statement(context=context_agent(fxvs))
        statement_id = (await post(fxvs, statement, V2)).json()[0]
        as_v1 = (await get_one(fxvs, statement_id, V1)).json()
        assert as_v1["version"] == "1.0.0"
        assert "contextAgents" not in as_v1.get("context", {})
        listed = await fxvs.client.get("/xapi/statements", headers=V1, auth=fxvs.auth)
        assert "contextAgents" not in listed.json()["statements"][0].get("context", {})
        as_v2 = (await get_one(fxvs, statement_id, V2)).json()
        assert as_v2["version"] == "2.0.0"
        assert as_v2["context"]["contextAgents"][0]["agent"] == fxvs.actor("T001")
