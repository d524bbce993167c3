"""A1: an institution voids only what it stored itself; the operator voids on an
institution's behalf, audited."""

from __future__ import annotations

import httpx

from tests.hostile.conftest import V1, Demo, new_id, post_statements, statement, voiding


async def _get(client: httpx.AsyncClient, auth: tuple[str, str], **params: str) -> httpx.Response:
    return await client.get("/xapi/statements", params=params, headers=V1, auth=auth)


async def test_another_institution_cannot_void(client: httpx.AsyncClient, demo: Demo) -> None:
    fxvs, shady = demo.basic("fxvs"), demo.basic("shady")
    target = new_id()
    stored = await post_statements(
        client, fxvs, {**statement(demo.home_page("fxvs")), "id": target}
    )
    assert stored.status_code == 200, stored.text
    attack_id = new_id()
    attack = {**voiding(demo.home_page("shady"), target), "id": attack_id}
    answer = await post_statements(client, shady, attack)
    assert answer.status_code == 403, answer.text
    assert answer.json()["error"] == "void_not_owner"
    assert "another institution" in answer.json()["detail"]
    # Nothing stored: the target is still there, the voiding statement is not.
    assert (await _get(client, fxvs, statementId=target)).status_code == 200
    assert (await _get(client, fxvs, statementId=attack_id)).status_code == 404
    # Neither through PUT.
    put = await client.put(
        "/xapi/statements",
        params={"statementId": attack_id},
        json=voiding(demo.home_page("shady"), target),
        headers=V1,
        auth=shady,
    )
    assert put.status_code == 403, put.text
    assert (await _get(client, fxvs, statementId=target)).status_code == 200


async def test_own_statements_still_voidable(client: httpx.AsyncClient, demo: Demo) -> None:
    fxvs = demo.basic("fxvs")
    target = new_id()
    await post_statements(client, fxvs, {**statement(demo.home_page("fxvs")), "id": target})
    answer = await post_statements(client, fxvs, voiding(demo.home_page("fxvs"), target))
    assert answer.status_code == 200, answer.text
    assert (await _get(client, fxvs, statementId=target)).status_code == 404
    assert (await _get(client, fxvs, voidedStatementId=target)).status_code == 200


async def test_operator_voids_on_behalf(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str]
) -> None:
    fxvs = demo.basic("fxvs")
    target = new_id()
    await post_statements(client, fxvs, {**statement(demo.home_page("fxvs")), "id": target})
    # An institution's credential is not an operator.
    refused = await client.post(
        f"/api/v1/statements/{target}/void", json={"reason": "x"}, auth=demo.basic("shady")
    )
    assert refused.status_code == 403, refused.text
    answer = await client.post(
        f"/api/v1/statements/{target}/void",
        json={"reason": "sent in fxvs's name by mistake"},
        headers=operator,
    )
    assert answer.status_code == 200, answer.text
    voiding_id = answer.json()["voiding_statement_id"]
    assert (await _get(client, fxvs, statementId=target)).status_code == 404
    stored = await _get(client, fxvs, statementId=voiding_id)
    assert stored.status_code == 200, stored.text
    authority = stored.json()["authority"]
    assert authority["objectType"] == "Group"
    assert authority["member"][0]["account"]["homePage"] == demo.home_page("fxvs")
    assert authority["member"][1]["account"]["name"].startswith("operator:")
    # fxvs (read mine) sees it as its own statement.
    again = await client.post(
        f"/api/v1/statements/{target}/void", json={"reason": "twice"}, headers=operator
    )
    assert again.status_code == 409, again.text
    audit = await client.get(
        "/api/v1/audit", params={"action": "lrs.void_on_behalf"}, headers=operator
    )
    assert audit.status_code == 200, audit.text
    entries = audit.json()
    entries = entries.get("entries", entries) if isinstance(entries, dict) else entries
    allowed = [e for e in entries if e["outcome"] == "allowed"]
    assert len(allowed) == 1
    assert allowed[0]["detail"]["reason"] == "sent in fxvs's name by mistake"
    assert allowed[0]["detail"]["voiding_statement_id"] == voiding_id


async def test_operator_void_unknown_statement(
    client: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    answer = await client.post(
        f"/api/v1/statements/{new_id()}/void", json={"reason": "x"}, headers=operator
    )
    assert answer.status_code == 404, answer.text
