"""The State resource: parameters, byte-exact storage, ids and since, merge, delete, 2.0."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select

from creditbank.lrs.documents.models import Document
from tests.lrs.documents.conftest import (
    ACTIVITY,
    AGENT,
    STATE,
    V2,
    credential,
    new_id,
    state_params,
)


async def documents_stored(session) -> int:
    value = int((await session.execute(select(func.count(Document.id)))).scalar_one())
    await session.rollback()
    return value


class TestStoreAndGet:
    async def test_put_then_get_returns_bytes_and_content_type_exactly(self, lrs):
        body = "进度: 第3章 ✓\nline two".encode()
        put = await lrs.put(
            STATE, state_params(), content=body, headers={"Content-Type": "text/plain"}
        )
        assert put.status_code == 204, put.text
        assert put.headers["x-experience-api-version"] == "1.0.3"

        got = await lrs.get(STATE, state_params())
        assert got.status_code == 200
        assert got.content == body
        assert got.headers["content-type"] == "text/plain"  # no charset added
        assert got.headers["etag"] == f'"{hashlib.sha1(body, usedforsecurity=False).hexdigest()}"'
        assert got.headers["last-modified"].endswith("GMT")
        assert got.headers["x-experience-api-version"] == "1.0.3"

    async def test_binary_content_round_trips(self, lrs):
        body = bytes(range(256)) * 4
        params = state_params("blob")
        headers = {"Content-Type": "application/octet-stream"}
        assert (await lrs.put(STATE, params, content=body, headers=headers)).status_code == 204
        got = await lrs.get(STATE, params)
        assert got.content == body
        assert got.headers["content-type"] == "application/octet-stream"

    async def test_json_document(self, lrs):
        assert (await lrs.put(STATE, state_params(), json={"page": 3})).status_code == 204
        got = await lrs.get(STATE, state_params())
        assert got.json() == {"page": 3}
        assert got.headers["content-type"] == "application/json"

    async def test_head_has_headers_and_no_body(self, lrs):
        await lrs.put(STATE, state_params(), json={"page": 3})
        head = await lrs.request("HEAD", STATE, state_params())
        assert head.status_code == 200
        assert head.content == b""
        assert head.headers["etag"].startswith('"')
        assert "last-modified" in head.headers

    async def test_missing_document_is_404(self, lrs):
        got = await lrs.get(STATE, state_params("nothing-here"))
        assert got.status_code == 404
        assert got.headers["x-experience-api-version"] == "1.0.3"

    async def test_agent_identified_by_equivalent_mbox_case(self, lrs):
        upper = {"mbox": "mailto:Li.Na@Example.CN"}
        lower = {"objectType": "Agent", "mbox": "mailto:li.na@example.cn", "name": "李娜"}
        params = {"activityId": ACTIVITY, "stateId": "s"}
        assert (await lrs.put(STATE, {**params, "agent": upper}, json={"a": 1})).status_code == 204
        assert (await lrs.get(STATE, {**params, "agent": lower})).json() == {"a": 1}

    async def test_registration_scopes_the_document(self, lrs):
        registration = str(uuid.uuid4())
        with_reg = state_params(registration=registration)
        assert (await lrs.put(STATE, with_reg, json={"r": 1})).status_code == 204
        assert (await lrs.get(STATE, state_params())).status_code == 404
        assert (await lrs.get(STATE, with_reg)).json() == {"r": 1}
        upper = state_params(registration=registration.upper())
        assert (await lrs.get(STATE, upper)).json() == {"r": 1}

    async def test_another_institution_does_not_see_the_document(self, lrs, mooc):
        # Documents are per institution (issue 13, A2; tests/hostile/test_a2_documents.py).
        await lrs.put(STATE, state_params(), json={"a": 1})
        got = await mooc.get(STATE, state_params())
        assert got.status_code == 404


class TestBadRequests:
    @pytest.mark.parametrize("method", ["GET", "PUT", "POST", "DELETE"])
    @pytest.mark.parametrize(
        ("name", "value"),
        [
            ("activityId", None),
            ("activityId", "not an iri"),
            ("agent", None),
            ("agent", "not JSON"),
            ("agent", "true"),
            ("agent", '{"objectType": "Agent"}'),
            ("agent", '{"objectType": "Group", "member": [{"mbox": "mailto:a@b.cn"}]}'),
            ("agent", '{"mbox": "li.na@example.cn"}'),
            ("registration", "true"),
            ("registration", "1234"),
        ],
    )
    async def test_bad_parameter_is_400(self, lrs, session, method, name, value):
        params = state_params()
        if value is None:
            del params[name]
        else:
            params[name] = value
        response = await lrs.request(method, STATE, params, json={"a": 1})
        assert response.status_code == 400, response.text
        assert response.headers["x-experience-api-version"] == "1.0.3"
        assert await documents_stored(session) == 0

    @pytest.mark.parametrize("method", ["PUT", "POST"])
    async def test_write_without_state_id_is_400(self, lrs, method):
        response = await lrs.request(method, STATE, state_params(None), json={"a": 1})
        assert response.status_code == 400

    async def test_unknown_or_wrong_case_parameter_is_400(self, lrs):
        params = state_params()
        assert (await lrs.get(STATE, {**params, "stateid": "x"})).status_code == 400
        assert (await lrs.get(STATE, {**params, "foo": "bar"})).status_code == 400

    async def test_since_on_a_write_is_400(self, lrs):
        since = "2026-01-01T00:00:00Z"
        response = await lrs.put(STATE, state_params(since=since), json={"a": 1})
        assert response.status_code == 400

    async def test_bad_since_is_400(self, lrs):
        got = await lrs.get(STATE, state_params(None, since="not a timestamp"))
        assert got.status_code == 400

    async def test_agent_with_broken_json_encoding_is_400(self, lrs, client):
        broken = '{"objectType"%22"Agent","mbox":"mailto:a@b.cn"}'
        url = f"{STATE}?activityId={ACTIVITY}&stateId=s&agent={broken}"
        response = await client.post(
            url,
            content=b'{"a": 1}',
            headers={**lrs.headers(), "Content-Type": "application/json"},
            auth=lrs.auth,
        )
        assert response.status_code == 400

    async def test_json_content_type_with_invalid_json_is_400(self, lrs, session):
        bad = b'{"a": 1'
        headers = {"Content-Type": "application/json"}
        assert (
            await lrs.put(STATE, state_params(), content=bad, headers=headers)
        ).status_code == 400
        assert await documents_stored(session) == 0

    async def test_missing_version_header_is_400(self, lrs, client):
        response = await client.get(
            STATE,
            params={"activityId": ACTIVITY, "agent": orjson.dumps(AGENT).decode()},
            auth=lrs.auth,
        )
        assert response.status_code == 400


class TestAuth:
    async def test_no_credentials_is_401(self, client):
        response = await client.get(STATE, headers={"X-Experience-API-Version": "1.0.3"})
        assert response.status_code == 401

    async def test_wrong_secret_is_401(self, lrs, client):
        response = await client.get(
            STATE,
            params={"activityId": ACTIVITY, "agent": orjson.dumps(AGENT).decode()},
            headers=lrs.headers(),
            auth=(lrs.auth[0], "wrong"),
        )
        assert response.status_code == 401

    async def test_without_state_scope_is_403(self, session, client, demo):
        writer = await credential(session, client, "fxvs", ["statements/write"])
        assert (await writer.put(STATE, state_params(), json={"a": 1})).status_code == 403
        assert (await writer.get(STATE, state_params())).status_code == 403

    async def test_all_read_may_read_but_not_write(self, lrs, session, client, demo):
        await lrs.put(STATE, state_params(), json={"a": 1})
        reader = await credential(session, client, "fxvs", ["all/read"])
        assert (await reader.get(STATE, state_params())).status_code == 200
        assert (await reader.put(STATE, state_params(), json={"a": 2})).status_code == 403


class TestSizeLimit:
    async def test_document_over_the_limit_is_413(self, lrs, settings, session):
        body = b"x" * (settings.lrs.max_document_bytes + 1)
        response = await lrs.put(
            STATE, state_params(), content=body, headers={"Content-Type": "text/plain"}
        )
        assert response.status_code == 413
        assert await documents_stored(session) == 0


class TestIds:
    async def test_ids_of_the_context(self, lrs):
        for state_id in ("a", "b", "c"):
            await lrs.put(STATE, state_params(state_id), json={"id": state_id})
        other = {"mbox": "mailto:other@example.cn"}
        await lrs.put(STATE, state_params("d", agent=other), json={})
        got = await lrs.get(STATE, state_params(None))
        assert got.status_code == 200
        assert sorted(got.json()) == ["a", "b", "c"]
        assert got.headers["content-type"] == "application/json"
        assert "last-modified" in got.headers
        assert got.headers["etag"].startswith('"')

    async def test_no_documents_is_an_empty_array(self, lrs):
        got = await lrs.get(STATE, state_params(None))
        assert got.status_code == 200
        assert got.json() == []

    async def test_since_is_exclusive_and_filters(self, lrs):
        await lrs.put(STATE, state_params("old"), json={})
        stored = (await lrs.get(STATE, state_params("old"))).headers["last-modified"]
        assert stored
        await asyncio.sleep(0.01)
        middle = datetime.now(UTC).isoformat()
        await asyncio.sleep(0.01)
        await lrs.put(STATE, state_params("new"), json={})
        got = await lrs.get(STATE, state_params(None, since=middle))
        assert got.json() == ["new"]
        past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        assert sorted((await lrs.get(STATE, state_params(None, since=past))).json()) == [
            "new",
            "old",
        ]

    async def test_registration_filters_ids(self, lrs):
        registration = new_id()
        await lrs.put(STATE, state_params("plain"), json={})
        await lrs.put(STATE, state_params("scoped", registration=registration), json={})
        scoped = await lrs.get(STATE, state_params(None, registration=registration))
        assert scoped.json() == ["scoped"]
        every = await lrs.get(STATE, state_params(None))
        assert sorted(every.json()) == ["plain", "scoped"]


class TestPost:
    async def test_post_creates_then_merges_top_level(self, lrs):
        params = state_params()
        first = {"x": "foo", "y": "bar", "nested": {"a": 1, "b": 2}}
        assert (await lrs.post(STATE, params, json=first)).status_code == 204
        second = {"x": "bash", "z": "faz", "nested": {"c": 3}}
        assert (await lrs.post(STATE, params, json=second)).status_code == 204
        got = await lrs.get(STATE, params)
        assert got.json() == {"x": "bash", "y": "bar", "z": "faz", "nested": {"c": 3}}
        assert (
            got.headers["etag"]
            == f'"{hashlib.sha1(got.content, usedforsecurity=False).hexdigest()}"'
        )

    async def test_post_non_json_over_json_is_400_and_unchanged(self, lrs):
        params = state_params()
        await lrs.post(STATE, params, json={"a": 1})
        response = await lrs.post(
            STATE, params, content=b"abcdefg", headers={"Content-Type": "not/json"}
        )
        assert response.status_code == 400
        assert (await lrs.get(STATE, params)).json() == {"a": 1}

    async def test_post_json_over_non_json_is_400_and_unchanged(self, lrs):
        params = state_params()
        headers = {"Content-Type": "application/octet-stream"}
        await lrs.put(STATE, params, content=b"/ asdf / undefined", headers=headers)
        assert (await lrs.post(STATE, params, json={"a": 1})).status_code == 400
        assert (await lrs.get(STATE, params)).content == b"/ asdf / undefined"

    async def test_post_invalid_json_is_400_and_unchanged(self, lrs):
        params = state_params()
        await lrs.post(STATE, params, json={"a": 1})
        headers = {"Content-Type": "application/json"}
        response = await lrs.post(STATE, params, content=b'{"b": 2}{', headers=headers)
        assert response.status_code == 400
        assert (await lrs.get(STATE, params)).json() == {"a": 1}

    async def test_post_json_array_is_400(self, lrs):
        params = state_params()
        assert (await lrs.post(STATE, params, json=[1, 2])).status_code == 400
        await lrs.post(STATE, params, json={"a": 1})
        assert (await lrs.post(STATE, params, json=[1, 2])).status_code == 400

    async def test_post_over_stored_json_that_is_not_an_object_is_400(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json=[1, 2])
        assert (await lrs.post(STATE, params, json={"a": 1})).status_code == 400
        assert (await lrs.get(STATE, params)).json() == [1, 2]

    async def test_post_with_charset_parameter_merges(self, lrs):
        params = state_params()
        await lrs.post(STATE, params, json={"a": 1})
        headers = {"Content-Type": "application/json; charset=utf-8"}
        response = await lrs.post(STATE, params, content=b'{"b": 2}', headers=headers)
        assert response.status_code == 204
        assert (await lrs.get(STATE, params)).json() == {"a": 1, "b": 2}

    async def test_post_non_json_without_existing_document_stores_it(self, lrs):
        params = state_params()
        headers = {"Content-Type": "text/plain"}
        assert (await lrs.post(STATE, params, content=b"hello", headers=headers)).status_code == 204
        assert (await lrs.get(STATE, params)).content == b"hello"


class TestDelete:
    async def test_delete_one(self, lrs):
        await lrs.put(STATE, state_params("a"), json={})
        await lrs.put(STATE, state_params("b"), json={})
        assert (await lrs.delete(STATE, state_params("a"))).status_code == 204
        assert (await lrs.get(STATE, state_params("a"))).status_code == 404
        assert (await lrs.get(STATE, state_params("b"))).status_code == 200

    async def test_delete_missing_is_204(self, lrs):
        assert (await lrs.delete(STATE, state_params("nothing"))).status_code == 204

    async def test_delete_all_of_the_context(self, lrs):
        other_activity = ACTIVITY + "/other"
        await lrs.put(STATE, state_params("a"), json={})
        await lrs.put(STATE, state_params("b", registration=new_id()), json={})
        await lrs.put(STATE, state_params("c", activityId=other_activity), json={})
        assert (await lrs.delete(STATE, state_params(None))).status_code == 204
        assert (await lrs.get(STATE, state_params(None))).json() == []
        kept = await lrs.get(STATE, state_params(None, activityId=other_activity))
        assert kept.json() == ["c"]

    async def test_delete_all_of_one_registration(self, lrs):
        registration = new_id()
        await lrs.put(STATE, state_params("a"), json={})
        await lrs.put(STATE, state_params("b", registration=registration), json={})
        response = await lrs.delete(STATE, state_params(None, registration=registration))
        assert response.status_code == 204
        assert (await lrs.get(STATE, state_params(None))).json() == ["a"]


class TestConcurrency:
    async def test_state_put_without_headers_replaces_under_1_0_3(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json={"v": 1})
        assert (await lrs.put(STATE, params, json={"v": 2})).status_code == 204
        assert (await lrs.get(STATE, params)).json() == {"v": 2}

    async def test_state_put_without_headers_over_existing_is_409_under_2_0(self, lrs):
        v2 = lrs.under(V2)
        params = state_params()
        assert (await v2.put(STATE, params, json={"v": 1})).status_code == 204
        response = await v2.put(STATE, params, json={"v": 2})
        assert response.status_code == 409
        assert "If-Match" in response.json()["detail"]
        assert response.headers["x-experience-api-version"] == "2.0.0"
        assert (await v2.get(STATE, params)).json() == {"v": 1}

    async def test_if_match(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json={"v": 1})
        etag = (await lrs.get(STATE, params)).headers["etag"]
        wrong = await lrs.put(STATE, params, json={"v": 2}, headers={"If-Match": '"abc"'})
        assert wrong.status_code == 412
        garbage = await lrs.put(STATE, params, json={"v": 2}, headers={"If-Match": "garbage"})
        assert garbage.status_code == 412
        assert (await lrs.get(STATE, params)).json() == {"v": 1}
        right = await lrs.put(STATE, params, json={"v": 2}, headers={"If-Match": etag})
        assert right.status_code == 204
        assert (await lrs.get(STATE, params)).json() == {"v": 2}

    async def test_if_none_match_star(self, lrs):
        params = state_params()
        create = await lrs.put(STATE, params, json={"v": 1}, headers={"If-None-Match": "*"})
        assert create.status_code == 204
        again = await lrs.put(STATE, params, json={"v": 2}, headers={"If-None-Match": "*"})
        assert again.status_code == 412
        assert (await lrs.get(STATE, params)).json() == {"v": 1}

    async def test_post_and_delete_honour_if_match(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json={"v": 1})
        bad = {"If-Match": '"0000000000000000000000000000000000000000"'}
        assert (await lrs.post(STATE, params, json={"w": 1}, headers=bad)).status_code == 412
        assert (await lrs.delete(STATE, params, headers=bad)).status_code == 412
        assert (await lrs.get(STATE, params)).json() == {"v": 1}
        etag = (await lrs.get(STATE, params)).headers["etag"]
        assert (await lrs.delete(STATE, params, headers={"If-Match": etag})).status_code == 204

    async def test_last_modified_grows_on_update(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json={"v": 1})
        first = (await lrs.get(STATE, params)).headers["last-modified"]
        await asyncio.sleep(1.1)
        await lrs.post(STATE, params, json={"w": 2})
        second = (await lrs.get(STATE, params)).headers["last-modified"]
        from email.utils import parsedate_to_datetime

        assert parsedate_to_datetime(second) > parsedate_to_datetime(first)

    async def test_concurrent_merges_lose_nothing(self, lrs):
        params = state_params()
        await lrs.put(STATE, params, json={})
        results = await asyncio.gather(
            *(lrs.post(STATE, params, json={f"k{i}": i}) for i in range(6))
        )
        assert all(r.status_code == 204 for r in results), [r.text for r in results]
        assert (await lrs.get(STATE, params)).json() == {f"k{i}": i for i in range(6)}

    async def test_concurrent_first_posts_merge_into_one_document(self, lrs):
        params = state_params("fresh")
        results = await asyncio.gather(
            *(lrs.post(STATE, params, json={f"k{i}": i}) for i in range(5))
        )
        assert all(r.status_code == 204 for r in results), [r.text for r in results]
        assert (await lrs.get(STATE, params)).json() == {f"k{i}": i for i in range(5)}
        assert (await lrs.get(STATE, state_params(None))).json() == ["fresh"]
