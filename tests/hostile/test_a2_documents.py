"""A2: State, Activity Profile and Agent Profile documents belong to the institution
that wrote them; only a credential granted ``documents/cross-institution`` shares
a space with others."""

from __future__ import annotations

import httpx
import orjson
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.identity.service import identity as identity_service
from tests.hostile.conftest import V1, Demo

ACTIVITY = "https://fxvs.example.edu.cn/xapi/activities/elec-4"
AGENT = orjson.dumps(
    {"objectType": "Agent", "account": {"homePage": "https://fxvs.example.edu.cn", "name": "FX1"}}
).decode()

RESOURCES = {
    "state": ("/xapi/activities/state", {"activityId": ACTIVITY, "agent": AGENT}, "stateId"),
    "activity_profile": ("/xapi/activities/profile", {"activityId": ACTIVITY}, "profileId"),
    "agent_profile": ("/xapi/agents/profile", {"agent": AGENT}, "profileId"),
}


async def _request(
    client: httpx.AsyncClient,
    auth: tuple[str, str],
    method: str,
    resource: str,
    doc_id: str | None = "bookmark",
    body: dict[str, object] | None = None,
    **headers: str,
) -> httpx.Response:
    path, params, id_name = RESOURCES[resource]
    query = dict(params)
    if doc_id is not None:
        query[id_name] = doc_id
    return await client.request(
        method,
        path,
        params=query,
        content=None if body is None else orjson.dumps(body),
        headers={**V1, **({"Content-Type": "application/json"} if body else {}), **headers},
        auth=auth,
    )


@pytest.mark.parametrize("resource", sorted(RESOURCES))
async def test_other_institution_sees_nothing(
    client: httpx.AsyncClient, demo: Demo, resource: str
) -> None:
    fxvs, shady = demo.basic("fxvs"), demo.basic("shady")
    written = await _request(
        client, fxvs, "PUT", resource, body={"page": 7}, **{"If-None-Match": "*"}
    )
    assert written.status_code == 204, written.text
    read = await _request(client, shady, "GET", resource)
    assert read.status_code == 404, read.text
    ids = await _request(client, shady, "GET", resource, doc_id=None)
    assert ids.status_code == 200
    assert ids.json() == []
    # shady's PUT creates shady's own document; fxvs's stays as it was.
    overwrite = await _request(
        client, shady, "PUT", resource, body={"page": 0}, **{"If-None-Match": "*"}
    )
    assert overwrite.status_code == 204, overwrite.text
    merge = await _request(client, shady, "POST", resource, body={"evil": True})
    assert merge.status_code == 204, merge.text
    deleted = await _request(client, shady, "DELETE", resource)
    assert deleted.status_code == 204, deleted.text
    if resource == "state":
        assert (await _request(client, shady, "DELETE", resource, doc_id=None)).status_code == 204
    mine = await _request(client, fxvs, "GET", resource)
    assert mine.status_code == 200
    assert mine.json() == {"page": 7}
    assert (await _request(client, fxvs, "GET", resource, doc_id=None)).json() == ["bookmark"]


async def test_cross_institution_scope_shares_one_space(
    client: httpx.AsyncClient, demo: Demo, session: AsyncSession
) -> None:
    shared = []
    for key in ("fxvs", "mooc1"):
        institution = await identity_service.get_institution(session, key)
        issued = await identity_service.issue_credential(
            session, institution, scopes=["state", "documents/cross-institution"]
        )
        shared.append((issued.credential.key, issued.secret))
    await session.commit()
    written = await _request(client, shared[0], "PUT", "state", body={"shared": 1})
    assert written.status_code == 204, written.text
    read = await _request(client, shared[1], "GET", "state")
    assert read.status_code == 200
    assert read.json() == {"shared": 1}
    # Institution-scoped credentials do not see the shared space, nor it theirs.
    assert (await _request(client, demo.basic("fxvs"), "GET", "state")).status_code == 404


async def test_all_does_not_imply_cross_institution(
    client: httpx.AsyncClient, demo: Demo, session: AsyncSession
) -> None:
    institution = await identity_service.get_institution(session, "mooc1")
    issued = await identity_service.issue_credential(session, institution, scopes=["all"])
    await session.commit()
    fxvs = demo.basic("fxvs")
    await _request(client, fxvs, "PUT", "state", body={"page": 3})
    other = (issued.credential.key, issued.secret)
    assert (await _request(client, other, "GET", "state")).status_code == 404
