"""The li-na scenario's statements pushed by each institution and read back by query."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

VERBS = "http://adlnet.gov/expapi/verbs/"
REGISTRATION = str(uuid.uuid4())

# (institution, learner account name, verb, course, title, result)
LI_NA = [
    (
        "fxvs",
        "FX2019001",
        "passed",
        "cert-elec-4-assessment",
        "电工职业技能等级证书（中级）考核",
        {"score": {"scaled": 0.82}, "success": True},
    ),
    (
        "mooc1",
        "lina_1988",
        "completed",
        "python-101",
        "Python程序设计",
        {"score": {"scaled": 0.91}, "success": True, "completion": True},
    ),
    (
        "mooc1",
        "lina_1988",
        "completed",
        "ds-101",
        "数据结构",
        {"score": {"scaled": 0.55}, "success": True, "completion": True},
    ),
    ("fxcc", "C-0042", "attended", "first-aid-16", "社区急救培训", {"duration": "PT16H"}),
    ("syu3a", "S2024-17", "completed", "calligraphy-1", "书法基础", {"duration": "PT20H"}),
    ("shady", "lina", "completed", "ds-crash", "数据结构速成", {"completion": True}),
    (
        "mooc1",
        "lina_1988",
        "completed",
        "python-101",
        "Python程序设计",
        {"score": {"scaled": 0.95}, "success": True, "completion": True},
    ),
]


def statement(
    home_page: str, account: str, verb: str, course: str, title: str, result: Any
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "contextActivities": {"grouping": [{"id": f"{home_page}/xapi/catalog"}]}
    }
    if home_page.startswith("https://mooc1"):
        context["registration"] = REGISTRATION
    return {
        "actor": {
            "objectType": "Agent",
            "name": "李娜",
            "account": {"homePage": home_page, "name": account},
        },
        "verb": {"id": VERBS + verb, "display": {"zh-CN": verb, "en-US": verb}},
        "object": {
            "objectType": "Activity",
            "id": f"{home_page}/xapi/activities/{course}",
            "definition": {
                "name": {"zh-CN": title},
                "type": "http://adlnet.gov/expapi/activities/course",
            },
        },
        "result": result,
        "context": context,
    }


async def push_all(client, demo) -> list[tuple[str, str]]:
    """Each institution posts its statements with its own credentials; (key, id) in order."""
    ids = []
    for key, account, verb, course, title, result in LI_NA:
        institution = demo[key]
        body = statement(institution["home_page"], account, verb, course, title, result)
        response = await client.post(
            "/xapi/statements",
            content=orjson.dumps(body),
            headers={"X-Experience-API-Version": "1.0.3", "Content-Type": "application/json"},
            auth=(institution["lrs_key"], institution["lrs_secret"]),
        )
        assert response.status_code == 200, response.text
        ids.append((key, response.json()[0]))
    return ids


async def read_all(client, auth, params: dict[str, str]) -> list[dict[str, Any]]:
    """Follows ``more`` at the page size given, checking every page's size."""
    headers = {"X-Experience-API-Version": "1.0.3"}
    response = await client.get("/xapi/statements", params=params, headers=headers, auth=auth)
    assert response.status_code == 200, response.text
    page = response.json()
    statements = list(page["statements"])
    limit = int(params.get("limit", "0")) or None
    while page["more"]:
        if limit:
            assert len(page["statements"]) == limit
        response = await client.get(page["more"], headers=headers, auth=auth)
        assert response.status_code == 200, response.text
        page = response.json()
        statements += page["statements"]
    return statements


async def test_li_na_statements_read_back_by_every_filter(client, demo):
    pushed = await push_all(client, demo)
    ids = [statement_id for _, statement_id in pushed]
    # Only the conformance credential (scope all) reads every institution's statements;
    # the demo institutions' own read back only theirs.
    everyone = demo["conformance"]
    auth = (everyone["lrs_key"], everyone["lrs_secret"])

    everything = await read_all(client, auth, {"limit": "2"})
    assert [s["id"] for s in everything] == list(reversed(ids))
    assert everything[1]["object"]["definition"]["name"] == {"zh-CN": "数据结构速成"}
    assert everything[-1]["actor"]["name"] == "李娜"
    assert {s["authority"]["name"] for s in everything} == {
        "房县职业技术学校",
        "荆楚慕课",
        "房县社区学院",
        "十堰市老年大学",
        "速成培训中心",
    }

    mooc = orjson.dumps(
        {"account": {"homePage": demo["mooc1"]["home_page"], "name": "lina_1988"}}
    ).decode()
    by_agent = await read_all(client, auth, {"agent": mooc, "limit": "2"})
    assert [s["id"] for s in by_agent] == [ids[6], ids[2], ids[1]]

    completed = await read_all(client, auth, {"verb": VERBS + "completed", "limit": "2"})
    assert [s["id"] for s in completed] == [ids[6], ids[5], ids[4], ids[2], ids[1]]

    python = f"{demo['mooc1']['home_page']}/xapi/activities/python-101"
    by_activity = await read_all(client, auth, {"activity": python, "limit": "2"})
    assert [s["id"] for s in by_activity] == [ids[6], ids[1]]

    by_registration = await read_all(
        client, auth, {"registration": REGISTRATION, "limit": "2", "ascending": "true"}
    )
    assert [s["id"] for s in by_registration] == [ids[1], ids[2], ids[6]]

    grouping = f"{demo['fxcc']['home_page']}/xapi/catalog"
    related = await read_all(
        client, auth, {"activity": grouping, "related_activities": "true", "limit": "2"}
    )
    assert [s["id"] for s in related] == [ids[3]]
