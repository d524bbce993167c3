"""Activity Profile and Agent Profile resources: the document rules and their concurrency."""

from __future__ import annotations

import asyncio
from email.utils import parsedate_to_datetime

import pytest

from tests.lrs.documents.conftest import (
    ACTIVITY,
    ACTIVITY_PROFILE,
    AGENT,
    AGENT_PROFILE,
    V1,
    V2,
    credential,
)

PROFILES = [
    pytest.param(ACTIVITY_PROFILE, {"activityId": ACTIVITY}, id="activity-profile"),
    pytest.param(AGENT_PROFILE, {"agent": AGENT}, id="agent-profile"),
]


@pytest.fixture(params=[V1, V2])
def xapi(request, lrs):
    return lrs.under(request.param)


@pytest.mark.parametrize(("path", "scope"), PROFILES)
class TestProfileDocuments:
    async def test_put_get_delete(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        headers = {"If-None-Match": "*", "Content-Type": "text/csv"}
        put = await xapi.put(path, params, content=b"a,b\n1,2\n", headers=headers)
        assert put.status_code == 204, put.text
        got = await xapi.get(path, params)
        assert got.status_code == 200
        assert got.content == b"a,b\n1,2\n"
        assert got.headers["content-type"] == "text/csv"
        assert got.headers["x-experience-api-version"] == xapi.version
        assert (await xapi.delete(path, params)).status_code == 204
        assert (await xapi.get(path, params)).status_code == 404

    async def test_ids_and_since(self, xapi, path, scope):
        for profile_id in ("p1", "p2"):
            await xapi.post(path, {**scope, "profileId": profile_id}, json={"id": profile_id})
        got = await xapi.get(path, scope)
        assert sorted(got.json()) == ["p1", "p2"]
        future = "2999-01-01T00:00:00Z"
        assert (await xapi.get(path, {**scope, "since": future})).json() == []
        assert (await xapi.get(path, {**scope, "since": "yesterday"})).status_code == 400

    async def test_put_over_existing_without_precondition_is_409(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"v": 1})
        response = await xapi.put(path, params, json={"v": 2})
        assert response.status_code == 409
        assert response.json()["detail"]
        assert (await xapi.get(path, params)).json() == {"v": 1}

    async def test_put_of_a_new_document_without_precondition_is_400(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        response = await xapi.put(path, params, json={"v": 1})
        assert response.status_code == 400
        assert "If-None-Match" in response.json()["detail"]
        assert (await xapi.get(path, params)).status_code == 404

    async def test_put_with_if_match(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"v": 1})
        etag = (await xapi.get(path, params)).headers["etag"]
        assert len(etag) == 42
        stale = await xapi.put(path, params, json={"v": 2}, headers={"If-Match": '"nope"'})
        assert stale.status_code == 412
        assert (await xapi.get(path, params)).json() == {"v": 1}
        fresh = await xapi.put(path, params, json={"v": 2}, headers={"If-Match": etag})
        assert fresh.status_code == 204
        assert (await xapi.get(path, params)).json() == {"v": 2}
        star = await xapi.put(path, params, json={"v": 3}, headers={"If-Match": "*"})
        assert star.status_code == 204

    async def test_if_match_on_a_missing_document_is_412(self, xapi, path, scope):
        params = {**scope, "profileId": "never"}
        response = await xapi.put(path, params, json={"v": 1}, headers={"If-Match": '"abc"'})
        assert response.status_code == 412
        assert (await xapi.get(path, params)).status_code == 404

    async def test_if_none_match_star_over_existing_is_412(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"v": 1})
        response = await xapi.put(path, params, json={"v": 2}, headers={"If-None-Match": "*"})
        assert response.status_code == 412

    async def test_post_merges_and_honours_if_match(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"a": 1})
        bad = await xapi.post(path, params, json={"b": 2}, headers={"If-Match": '"x"'})
        assert bad.status_code == 412
        etag = (await xapi.get(path, params)).headers["etag"]
        good = await xapi.post(path, params, json={"b": 2}, headers={"If-Match": etag})
        assert good.status_code == 204
        assert (await xapi.get(path, params)).json() == {"a": 1, "b": 2}

    async def test_post_non_json_over_json_is_400(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"a": 1})
        headers = {"Content-Type": "not/json"}
        response = await xapi.post(path, params, content=b"abcdefg", headers=headers)
        assert response.status_code == 400
        assert (await xapi.get(path, params)).json() == {"a": 1}

    async def test_delete_with_wrong_if_match_is_412(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"a": 1})
        response = await xapi.delete(path, params, headers={"If-Match": '"x"'})
        assert response.status_code == 412
        assert (await xapi.get(path, params)).status_code == 200

    @pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
    async def test_profile_id_is_required_for_writes(self, xapi, path, scope, method):
        response = await xapi.request(method, path, scope, json={"a": 1})
        assert response.status_code == 400

    async def test_without_profile_scope_is_403(self, session, client, demo, path, scope):
        state_only = await credential(session, client, "fxvs", ["state"])
        params = {**scope, "profileId": "prefs"}
        assert (await state_only.post(path, params, json={"a": 1})).status_code == 403

    async def test_last_modified_grows(self, xapi, path, scope):
        params = {**scope, "profileId": "prefs"}
        await xapi.post(path, params, json={"a": 1})
        before = parsedate_to_datetime((await xapi.get(path, params)).headers["last-modified"])
        await asyncio.sleep(1.1)
        await xapi.post(path, params, json={"b": 1})
        after = parsedate_to_datetime((await xapi.get(path, params)).headers["last-modified"])
        assert after > before


class TestActivityProfileParameters:
    async def test_activity_id_required_and_an_iri(self, lrs):
        assert (await lrs.get(ACTIVITY_PROFILE, {"profileId": "p"})).status_code == 400
        bad = {"activityId": "not an iri", "profileId": "p"}
        assert (await lrs.get(ACTIVITY_PROFILE, bad)).status_code == 400

    async def test_agent_is_not_a_parameter(self, lrs):
        params = {"activityId": ACTIVITY, "profileId": "p", "agent": AGENT}
        assert (await lrs.get(ACTIVITY_PROFILE, params)).status_code == 400


class TestAgentProfileParameters:
    @pytest.mark.parametrize(
        "agent",
        [
            "true",
            '{"objectType": "Agent", "account": {"name": "x"}}',
            '{"objectType": "Group", "member": [{"mbox": "mailto:a@b.cn"}]}',
        ],
    )
    async def test_invalid_agent_is_400(self, lrs, agent):
        response = await lrs.get(AGENT_PROFILE, {"agent": agent, "profileId": "p"})
        assert response.status_code == 400

    async def test_agent_required(self, lrs):
        assert (await lrs.get(AGENT_PROFILE, {"profileId": "p"})).status_code == 400

    async def test_documents_of_different_agents_are_apart(self, lrs):
        one = {"agent": AGENT, "profileId": "p"}
        other = {"agent": {"mbox": "mailto:other@example.cn"}, "profileId": "p"}
        await lrs.post(AGENT_PROFILE, one, json={"who": "one"})
        assert (await lrs.get(AGENT_PROFILE, other)).status_code == 404
