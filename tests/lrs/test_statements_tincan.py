"""An xAPI client that is not ours — Rustici's ``tincan`` (xAPI 1.0.x) — against a real server."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest

tincan = pytest.importorskip("tincan")

pytestmark = pytest.mark.server


def run_client(url: str, key: str, secret: str, home_page: str) -> dict[str, Any]:
    """Everything the client does, synchronously (tincan uses http.client)."""
    from tincan import (
        Activity,
        ActivityDefinition,
        Agent,
        AgentAccount,
        Context,
        LanguageMap,
        RemoteLRS,
        Result,
        Score,
        Statement,
        Verb,
    )
    from tincan.http_request import HTTPRequest

    lrs = RemoteLRS(endpoint=f"{url}/xapi/", username=key, password=secret, version="1.0.3")
    out: dict[str, Any] = {}

    # ``RemoteLRS.about()`` parses into tincan's About model, which refuses any version
    # it does not know ("2.0.0" here), though xAPI lets an LRS list newer versions.
    # So: tincan's own transport for the request, JSON for the answer.
    about = lrs._send_request(HTTPRequest(method="GET", resource="about"))
    assert about.success, about.data
    out["versions"] = json.loads(about.data)["version"]

    registration = str(uuid.uuid4())

    def statement(name: str, course: str) -> Any:
        return Statement(
            actor=Agent(name="李娜", account=AgentAccount(home_page=home_page, name=name)),
            verb=Verb(
                id="http://adlnet.gov/expapi/verbs/completed",
                display=LanguageMap({"zh-CN": "完成", "en-US": "completed"}),
            ),
            object=Activity(
                id=f"{home_page}/xapi/activities/{course}",
                definition=ActivityDefinition(
                    name=LanguageMap({"zh-CN": "Python程序设计", "en-US": "Python"}),
                    description=LanguageMap({"zh-CN": "荆楚慕课课程"}),
                ),
            ),
            result=Result(score=Score(scaled=0.91), success=True, completion=True),
            context=Context(registration=registration),
        )

    saved = lrs.save_statement(statement("lina_1988", "python-101"))
    assert saved.success, saved.data
    out["saved_id"] = str(saved.content.id)

    fixed_id = str(uuid.uuid4())
    with_id = statement("lina_1988", "ds-101")
    with_id.id = fixed_id
    put = lrs.save_statement(with_id)
    assert put.success, put.data

    batch = lrs.save_statements([statement(f"learner{i}", f"course-{i}") for i in range(5)])
    assert batch.success, batch.data
    out["batch_ids"] = [str(s.id) for s in batch.content]

    retrieved = lrs.retrieve_statement(out["saved_id"])
    assert retrieved.success, retrieved.data
    out["retrieved_name"] = dict(retrieved.content.object.definition.name)
    out["retrieved_verb"] = dict(retrieved.content.verb.display)
    out["retrieved_put"] = str(lrs.retrieve_statement(fixed_id).content.id)

    query = lrs.query_statements({"registration": registration, "limit": 2})
    assert query.success, query.data
    ids = [str(s.id) for s in query.content.statements]
    result = query.content
    while result.more:
        more = lrs.more_statements(result)
        assert more.success, more.data
        result = more.content
        ids += [str(s.id) for s in result.statements]
    out["queried_ids"] = ids

    agent = Agent(account=AgentAccount(home_page=home_page, name="lina_1988"))
    by_agent = lrs.query_statements({"agent": agent})
    assert by_agent.success, by_agent.data
    out["agent_ids"] = [str(s.id) for s in by_agent.content.statements]
    return out


async def test_tincan_client_against_a_running_server(live_server, demo):
    mooc1 = demo["mooc1"]
    out = await asyncio.to_thread(
        run_client, live_server.url, mooc1["lrs_key"], mooc1["lrs_secret"], mooc1["home_page"]
    )
    assert "1.0.3" in out["versions"]
    assert out["retrieved_name"] == {"zh-CN": "Python程序设计", "en-US": "Python"}
    assert out["retrieved_verb"]["zh-CN"] == "完成"
    assert len(out["batch_ids"]) == 5
    assert len(out["queried_ids"]) == 7 == len(set(out["queried_ids"]))
    assert set(out["queried_ids"]) == {out["saved_id"], out["retrieved_put"], *out["batch_ids"]}
    assert set(out["agent_ids"]) == {out["saved_id"], out["retrieved_put"]}
