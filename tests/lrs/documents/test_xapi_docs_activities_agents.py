"""GET /xapi/activities (canonical Activity) and GET /xapi/agents (Person)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from tests.lrs.documents.conftest import V1, V2, credential

ACTIVITIES = "/xapi/activities"
AGENTS = "/xapi/agents"
MEETING = "http://www.example.com/meetings/occurances/34534"


def statement(
    activity: dict[str, Any], actor: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "actor": actor or {"objectType": "Agent", "name": "xAPI mbox", "mbox": "mailto:x@y.cn"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended", "display": {"en-US": "attended"}},
        "object": activity,
        **extra,
    }


async def store(lrs, *statements: dict[str, Any]) -> None:
    response = await lrs.post("/xapi/statements", None, json=list(statements))
    assert response.status_code == 200, response.text


@pytest.fixture(params=[V1, V2])
def xapi(request, lrs):
    return lrs.under(request.param)


class TestActivities:
    async def test_complete_activity_object(self, xapi):
        activity = {
            "objectType": "Activity",
            "id": MEETING,
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/meeting",
                "name": {"en-GB": "example meeting", "en-US": "example meeting"},
                "description": {"en-US": "An example meeting."},
                "moreInfo": "http://virtualmeeting.example.com/345256",
                "extensions": {"http://example.com/ext/location": "X:\\meetings"},
            },
        }
        await store(xapi, statement(activity))
        got = await xapi.get(ACTIVITIES, {"activityId": MEETING})
        assert got.status_code == 200
        assert got.json() == activity
        assert got.headers["x-experience-api-version"] == xapi.version

    async def test_language_maps_and_extensions_merge_later_wins(self, xapi):
        first = {
            "id": MEETING,
            "definition": {
                "name": {"en-US": "example meeting", "zh-CN": "示例会议"},
                "type": "http://example.com/type/old",
                "extensions": {"http://example.com/a": 1, "http://example.com/b": 1},
            },
        }
        second = {
            "objectType": "Activity",
            "id": MEETING,
            "definition": {
                "name": {"fr-FR": "réunion", "zh-CN": "会议"},
                "type": "http://example.com/type/new",
                "extensions": {"http://example.com/b": 2},
            },
        }
        await store(xapi, statement(first), statement(second))
        definition = (await xapi.get(ACTIVITIES, {"activityId": MEETING})).json()["definition"]
        assert definition["name"] == {
            "en-US": "example meeting",
            "zh-CN": "会议",
            "fr-FR": "réunion",
        }
        assert definition["type"] == "http://example.com/type/new"
        assert definition["extensions"] == {"http://example.com/a": 1, "http://example.com/b": 2}

    async def test_definitions_from_context_activities_count(self, xapi):
        course = "https://fxvs.example.edu.cn/courses/elec"
        context = {
            "contextActivities": {
                "parent": [{"id": course, "definition": {"name": {"zh-CN": "电工课程"}}}]
            }
        }
        await store(xapi, statement({"id": MEETING}, context=context))
        got = (await xapi.get(ACTIVITIES, {"activityId": course})).json()
        assert got == {
            "objectType": "Activity",
            "id": course,
            "definition": {"name": {"zh-CN": "电工课程"}},
        }

    async def test_unknown_activity_is_an_activity_with_only_the_id(self, xapi):
        unknown = f"http://www.example.com/never-seen/{uuid.uuid4()}"
        got = await xapi.get(ACTIVITIES, {"activityId": unknown})
        assert got.status_code == 200
        assert got.json() == {"objectType": "Activity", "id": unknown}

    async def test_bad_requests(self, xapi):
        assert (await xapi.get(ACTIVITIES, {})).status_code == 400
        assert (await xapi.get(ACTIVITIES, {"activityId": "true"})).status_code == 400
        params = {"activityId": MEETING, "extra": "1"}
        assert (await xapi.get(ACTIVITIES, params)).status_code == 400

    async def test_head_has_no_body(self, xapi):
        head = await xapi.request("HEAD", ACTIVITIES, {"activityId": MEETING})
        assert head.status_code == 200
        assert head.content == b""

    async def test_read_mine_sees_only_its_institutions_definitions(
        self, lrs, session, client, demo
    ):
        await store(lrs, statement({"id": MEETING, "definition": {"name": {"en": "fxvs"}}}))
        mine = await credential(session, client, "mooc1", ["statements/read/mine"])
        got = (await mine.get(ACTIVITIES, {"activityId": MEETING})).json()
        assert got == {"objectType": "Activity", "id": MEETING}

    async def test_needs_credentials(self, client):
        headers = {"X-Experience-API-Version": V1}
        response = await client.get(ACTIVITIES, params={"activityId": MEETING}, headers=headers)
        assert response.status_code == 401


class TestAgents:
    async def test_person_of_a_stored_agent(self, xapi):
        actor = {"objectType": "Agent", "name": "xAPI mbox", "mbox": "mailto:xapi@adlnet.gov"}
        await store(xapi, statement({"id": MEETING}, actor=actor))
        got = await xapi.get(AGENTS, {"agent": actor})
        assert got.status_code == 200
        assert got.json() == {
            "objectType": "Person",
            "name": ["xAPI mbox"],
            "mbox": ["mailto:xapi@adlnet.gov"],
        }

    async def test_names_the_agent_went_by(self, xapi):
        bare = {"mbox": "mailto:li.na@example.cn"}
        await store(
            xapi,
            statement({"id": MEETING}, actor={**bare, "name": "李娜"}),
            statement({"id": MEETING}, actor={**bare, "name": "Li Na"}),
        )
        person = (await xapi.get(AGENTS, {"agent": bare})).json()
        assert sorted(person["name"]) == ["Li Na", "李娜"]
        assert person["mbox"] == ["mailto:li.na@example.cn"]

    async def test_unknown_agent_is_a_person_of_that_agent(self, xapi):
        account = {"homePage": "https://mooc1.example.cn", "name": "u1"}
        got = await xapi.get(AGENTS, {"agent": {"objectType": "Agent", "account": account}})
        assert got.json() == {"objectType": "Person", "account": [account]}

    @pytest.mark.parametrize(
        "agent",
        [
            None,
            "not json",
            '{"objectType": "Agent", "name": "no ifi"}',
            '{"objectType": "Agent", "account": {"homePage": "http://x.cn"}}',
            '{"objectType": "Group", "mbox": "mailto:g@x.cn"}',
        ],
    )
    async def test_bad_agent_is_400(self, xapi, agent):
        params = {} if agent is None else {"agent": agent}
        assert (await xapi.get(AGENTS, params)).status_code == 400

    async def test_linked_identifiers_need_all_read(self, lrs, session, client, demo):
        # The demo links 李娜's five institution accounts to her bank account.
        fxvs_account = {"homePage": demo["fxvs"]["home_page"], "name": "FX2019001"}
        agent = {"objectType": "Agent", "account": fxvs_account}
        plain = (await lrs.get(AGENTS, {"agent": agent})).json()
        assert plain == {"objectType": "Person", "account": [fxvs_account]}

        operator = await credential(session, client, "fxvs", ["all"])
        person = (await operator.get(AGENTS, {"agent": orjson.dumps(agent).decode()})).json()
        assert person["account"][0] == fxvs_account
        names = {(a["homePage"], a["name"]) for a in person["account"]}
        assert (demo["mooc1"]["home_page"], "lina_1988") in names
        assert (demo["hbou"]["home_page"], "HB2024-0001") in names
        assert len(names) == 5
