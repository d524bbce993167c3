"""GET/HEAD /xapi/statements: single statements, filters, voiding, paging, scopes."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
VOIDED = "http://adlnet.gov/expapi/verbs/voided"


def agent_param(lrs, name: str) -> str:
    return orjson.dumps({"account": {"homePage": lrs.home_page, "name": name}}).decode()


def voiding(lrs, target: str) -> dict[str, Any]:
    return {
        "actor": lrs.actor("admin"),
        "verb": {"id": VOIDED, "display": {"en-US": "voided"}},
        "object": {"objectType": "StatementRef", "id": target},
    }


class TestSingle:
    async def test_unknown_id_is_404(self, fxvs):
        response = await fxvs.get({"statementId": str(uuid.uuid4())})
        assert response.status_code == 404
        assert response.headers["x-experience-api-version"] == "1.0.3"

    async def test_other_parameters_with_statement_id_are_400(self, fxvs):
        statement_id = (await fxvs.post(fxvs.statement())).json()[0]
        response = await fxvs.get({"statementId": statement_id, "verb": PASSED})
        assert response.status_code == 400
        ok = await fxvs.get({"statementId": statement_id, "format": "ids", "attachments": "false"})
        assert ok.status_code == 200

    async def test_head_has_headers_and_no_body(self, fxvs):
        statement_id = (await fxvs.post(fxvs.statement())).json()[0]
        response = await fxvs.client.head(
            "/xapi/statements",
            params={"statementId": statement_id},
            headers={"X-Experience-API-Version": "1.0.3"},
            auth=fxvs.auth,
        )
        assert response.status_code == 200
        assert response.content == b""
        assert "last-modified" in response.headers
        assert "x-experience-api-consistent-through" in response.headers

    async def test_attachments_true_answers_multipart(self, fxvs):
        statement_id = (await fxvs.post(fxvs.statement())).json()[0]
        response = await fxvs.get({"statementId": statement_id, "attachments": "true"})
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("multipart/mixed; boundary=")
        assert statement_id.encode() in response.content


class TestVoiding:
    async def test_voided_statement_leaves_queries_but_is_retrievable(self, fxvs, session):
        target = (await fxvs.post(fxvs.statement(learner="v1"))).json()[0]
        voiding_id = (await fxvs.post(voiding(fxvs, target))).json()[0]

        assert (await fxvs.get({"statementId": target})).status_code == 404
        got = await fxvs.get({"voidedStatementId": target})
        assert got.status_code == 200
        assert got.json()["id"] == target
        assert (await fxvs.get({"voidedStatementId": voiding_id})).status_code == 404

        ids = await fxvs.stored_ids()
        assert target not in ids
        assert voiding_id in ids
        # The voiding statement matches the filters its target matches.
        by_agent = await fxvs.stored_ids({"agent": agent_param(fxvs, "v1")})
        assert by_agent == [voiding_id]
        activity = f"{fxvs.home_page}/xapi/activities/course-1"
        assert voiding_id in await fxvs.stored_ids({"activity": activity})
        assert await fxvs.stored_ids({"verb": VOIDED}) == [voiding_id]

        from sqlalchemy import select

        from creditbank.jobs.models import Job

        jobs = (await session.execute(select(Job.name, Job.payload))).all()
        await session.rollback()
        assert (
            "lrs.statement_voided",
            {"statement_id": target, "voiding_statement_id": voiding_id},
        ) in [(name, payload) for name, payload in jobs]

    async def test_a_voiding_statement_cannot_be_voided(self, fxvs):
        target = (await fxvs.post(fxvs.statement())).json()[0]
        voiding_id = (await fxvs.post(voiding(fxvs, target))).json()[0]
        response = await fxvs.post(voiding(fxvs, voiding_id))
        assert response.status_code == 400
        assert (await fxvs.get({"statementId": voiding_id})).status_code == 200

    async def test_voiding_within_one_batch(self, fxvs):
        target_id = str(uuid.uuid4())
        batch = [{**fxvs.statement(), "id": target_id}, voiding(fxvs, target_id)]
        assert (await fxvs.post(batch)).status_code == 200
        assert (await fxvs.get({"statementId": target_id})).status_code == 404
        assert (await fxvs.get({"voidedStatementId": target_id})).status_code == 200

    async def test_voiding_an_unknown_statement_is_accepted(self, fxvs):
        assert (await fxvs.post(voiding(fxvs, str(uuid.uuid4())))).status_code == 200


class TestFilters:
    async def test_agent_verb_activity_registration(self, fxvs, mooc1, everyone):
        registration = str(uuid.uuid4())
        a = (await fxvs.post(fxvs.statement(learner="n1"))).json()[0]
        b = (
            await fxvs.post(
                fxvs.statement(
                    learner="n1",
                    verb=COMPLETED,
                    activity="course-2",
                    context={"registration": registration},
                )
            )
        ).json()[0]
        c = (await mooc1.post(mooc1.statement(learner="n1"))).json()[0]

        assert await everyone.stored_ids({"agent": agent_param(fxvs, "n1")}) == [b, a]
        assert await everyone.stored_ids({"agent": agent_param(mooc1, "n1")}) == [c]
        assert await everyone.stored_ids({"verb": COMPLETED}) == [b]
        assert await everyone.stored_ids({"verb": PASSED}) == [c, a]
        course2 = f"{fxvs.home_page}/xapi/activities/course-2"
        assert await everyone.stored_ids({"activity": course2}) == [b]
        assert await everyone.stored_ids({"registration": registration}) == [b]
        both = {"agent": agent_param(fxvs, "n1"), "verb": PASSED}
        assert await everyone.stored_ids(both) == [a]
        assert await everyone.stored_ids({"ascending": "true"}) == [a, b, c]

    async def test_agent_is_matched_by_ifi_and_object_type(self, fxvs):
        mbox = {"objectType": "Agent", "mbox": "mailto:lina@example.cn"}
        group = {"objectType": "Group", "mbox": "mailto:lina@example.cn"}
        as_actor = (await fxvs.post({**fxvs.statement(), "actor": mbox})).json()[0]
        as_object = (await fxvs.post({**fxvs.statement(learner="teacher"), "object": mbox})).json()[
            0
        ]
        await fxvs.post({**fxvs.statement(), "actor": group})
        ids = await fxvs.stored_ids({"agent": orjson.dumps(mbox).decode()})
        assert ids == [as_object, as_actor]

    async def test_related_agents_and_activities(self, fxvs):
        teacher = {"objectType": "Agent", "mbox": "mailto:wang@example.cn"}
        parent = f"{fxvs.home_page}/xapi/activities/programme-1"
        with_context = (
            await fxvs.post(
                fxvs.statement(
                    context={
                        "instructor": teacher,
                        "contextActivities": {"parent": [{"id": parent}]},
                    }
                )
            )
        ).json()[0]
        await fxvs.post(fxvs.statement())
        teacher_param = orjson.dumps(teacher).decode()
        assert await fxvs.stored_ids({"agent": teacher_param}) == []
        assert await fxvs.stored_ids({"agent": teacher_param, "related_agents": "true"}) == [
            with_context
        ]
        assert await fxvs.stored_ids({"activity": parent}) == []
        related = {"activity": parent, "related_activities": "true"}
        assert await fxvs.stored_ids(related) == [with_context]

    async def test_since_and_until_use_stored(self, fxvs):
        first = (await fxvs.post(fxvs.statement())).json()[0]
        stored = (await fxvs.get({"statementId": first})).json()["stored"]
        second = (await fxvs.post(fxvs.statement(learner="later"))).json()[0]
        assert first not in await fxvs.stored_ids({"since": stored})
        assert first in await fxvs.stored_ids({"until": stored})
        assert second not in await fxvs.stored_ids({"until": stored})

    async def test_format_ids_and_canonical_are_accepted(self, fxvs):
        await fxvs.post(fxvs.statement())
        for fmt in ("ids", "canonical", "exact"):
            response = await fxvs.get({"format": fmt}, **{"Accept-Language": "zh-CN"})
            assert response.status_code == 200
            assert len(response.json()["statements"]) == 1

    async def test_limit_and_more(self, fxvs):
        ids = (await fxvs.post([fxvs.statement(learner=f"p{i}") for i in range(5)])).json()
        page = (await fxvs.get({"limit": "2"})).json()
        assert len(page["statements"]) == 2
        assert page["more"].startswith("/xapi/statements?more=")
        assert await fxvs.stored_ids({"limit": "2"}) == list(reversed(ids))
        assert await fxvs.stored_ids({"limit": "2", "ascending": "true"}) == ids
        everything = (await fxvs.get({"limit": "0"})).json()
        assert len(everything["statements"]) == 5
        assert everything["more"] == ""

    async def test_invalid_parameters_are_400(self, fxvs):
        bad = [
            {"foo": "bar"},
            {"limit": "-1"},
            {"limit": "ten"},
            {"verb": "not an iri"},
            {"agent": "{not json"},
            {"agent": '{"name": "no ifi"}'},
            {"registration": "nope"},
            {"since": "yesterday"},
            {"format": "full"},
            {"ascending": "yes"},
            {"statementId": str(uuid.uuid4()), "voidedStatementId": str(uuid.uuid4())},
            {"more": "garbage!"},
        ]
        for params in bad:
            response = await fxvs.get(params)
            assert response.status_code == 400, params
        repeated = await fxvs.client.get(
            f"/xapi/statements?verb={PASSED}&verb={COMPLETED}",
            headers={"X-Experience-API-Version": "1.0.3"},
            auth=fxvs.auth,
        )
        assert repeated.status_code == 400


class TestScopes:
    async def test_read_mine_sees_only_its_institutions_statements(
        self, client, session, demo, fxvs, mooc1, everyone
    ):
        from creditbank.identity.service import identity

        mine = (await fxvs.post(fxvs.statement())).json()[0]
        theirs = (await mooc1.post(mooc1.statement())).json()[0]
        institution = await identity.get_institution(session, "fxvs")
        issued = await identity.issue_credential(
            session, institution, scopes=["statements/read/mine"]
        )
        await session.commit()
        auth = (issued.credential.key, issued.secret)
        headers = {"X-Experience-API-Version": "1.0.3"}
        page = (await client.get("/xapi/statements", headers=headers, auth=auth)).json()
        assert [s["id"] for s in page["statements"]] == [mine]
        response = await client.get(
            "/xapi/statements", params={"statementId": theirs}, headers=headers, auth=auth
        )
        assert response.status_code == 404
        # The demo credential has the default scopes (statements/read/mine) too; only
        # the conformance suite's (scope all) sees both.
        assert await fxvs.stored_ids() == [mine]
        assert set(await everyone.stored_ids()) == {mine, theirs}


class TestAbout:
    async def test_about_lists_versions_without_credentials(self, client):
        response = await client.get("/xapi/about")
        assert response.status_code == 200
        assert response.json()["version"] == ["1.0.3", "2.0.0"]
        assert response.headers["x-experience-api-version"]


class TestHeadersAndVersions:
    async def test_query_headers_and_head(self, fxvs):
        await fxvs.post([fxvs.statement(), fxvs.statement()])
        response = await fxvs.get({"limit": "1"})
        assert response.status_code == 200
        assert "last-modified" in response.headers
        assert response.headers["x-experience-api-consistent-through"].endswith("Z")
        head = await fxvs.client.head(
            "/xapi/statements",
            params={"limit": "1"},
            headers={"X-Experience-API-Version": "1.0.3"},
            auth=fxvs.auth,
        )
        assert head.status_code == 200
        assert head.content == b""
        assert "x-experience-api-consistent-through" in head.headers

    async def test_more_keeps_the_format(self, fxvs):
        await fxvs.post([fxvs.statement(), fxvs.statement()])
        page = (await fxvs.get({"limit": "1", "format": "ids"})).json()
        second = (await fxvs.get_url(page["more"])).json()
        activity = {"id": f"{fxvs.home_page}/xapi/activities/course-1"}
        assert page["statements"][0]["object"] == activity
        assert second["statements"][0]["object"] == activity

    async def test_2_0_requests_store_version_2_0_0(self, fxvs):
        response = await fxvs.client.post(
            "/xapi/statements",
            content=orjson.dumps(fxvs.statement()),
            headers={"X-Experience-API-Version": "2.0.0", "Content-Type": "application/json"},
            auth=fxvs.auth,
        )
        assert response.status_code == 200
        assert response.headers["x-experience-api-version"] == "2.0.0"
        body = (await fxvs.get({"statementId": response.json()[0]})).json()
        assert body["version"] == "2.0.0"

    async def test_unsupported_version_is_400(self, fxvs):
        response = await fxvs.client.get(
            "/xapi/statements", headers={"X-Experience-API-Version": "0.9"}, auth=fxvs.auth
        )
        assert response.status_code == 400
