"""The 1.0.3 alternate request syntax (refused under 2.0) and CORS on /xapi."""

from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest

from tests.lrs.documents.conftest import ACTIVITY, AGENT, STATE

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
# Fixed ids in parametrisations: xdist workers must collect the same test ids.
FIXED_ID = "6f1c1c8e-3b9a-4d0e-9d5e-2a7f0c1b2d3e"


def basic(auth: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()


def statement() -> dict[str, Any]:
    return {
        "actor": {"mbox": "mailto:li.na@example.cn"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/attended"},
        "object": {"id": ACTIVITY},
    }


def state_form(**extra: str) -> dict[str, str]:
    return {
        "activityId": ACTIVITY,
        "agent": orjson.dumps(AGENT).decode(),
        "stateId": "bookmark",
        **extra,
    }


class TestAlternateSyntax:
    async def test_put_statement_with_headers_in_the_form(self, lrs, client):
        statement_id = str(uuid.uuid4())
        form = {
            "statementId": statement_id,
            "content": orjson.dumps(statement()).decode(),
            "X-Experience-API-Version": "1.0.3",
            "Authorization": basic(lrs.auth),
        }
        response = await client.post(
            "/xapi/statements?method=PUT", content=urlencode(form), headers=FORM
        )
        assert response.status_code == 204, response.text
        got = await lrs.get("/xapi/statements", {"statementId": statement_id})
        assert got.status_code == 200

    async def test_get_statements_with_headers_as_headers(self, lrs, client):
        response = await client.post(
            "/xapi/statements?method=GET",
            content=urlencode({"limit": "1"}),
            headers={**FORM, **lrs.headers()},
            auth=lrs.auth,
        )
        assert response.status_code == 200, response.text
        assert set(response.json()) >= {"statements", "more"}

    async def test_state_document_round_trip(self, lrs, client):
        form = state_form(
            content='{"page": 7}',
            **{"Content-Type": "application/json", "X-Experience-API-Version": "1.0.3"},
        )
        put = await client.post(
            f"{STATE}?method=PUT", content=urlencode(form), headers=FORM, auth=lrs.auth
        )
        assert put.status_code == 204, put.text
        got = await lrs.get(STATE, {"activityId": ACTIVITY, "agent": AGENT, "stateId": "bookmark"})
        assert got.json() == {"page": 7}
        assert got.headers["content-type"] == "application/json"

        etag = got.headers["etag"]
        delete_form = state_form(**{"X-Experience-API-Version": "1.0.3", "If-Match": '"bad"'})
        refused = await client.post(
            f"{STATE}?method=DELETE", content=urlencode(delete_form), headers=FORM, auth=lrs.auth
        )
        assert refused.status_code == 412
        delete_form["If-Match"] = etag
        deleted = await client.post(
            f"{STATE}?method=DELETE", content=urlencode(delete_form), headers=FORM, auth=lrs.auth
        )
        assert deleted.status_code == 204

    async def test_form_version_header_wins(self, lrs, client):
        form = {
            "statementId": str(uuid.uuid4()),
            "X-Experience-API-Version": "0.8",
            "content": orjson.dumps(statement()).decode(),
        }
        response = await client.post(
            "/xapi/statements?method=PUT",
            content=urlencode(form),
            headers={**FORM, **lrs.headers()},
            auth=lrs.auth,
        )
        assert response.status_code == 400

    @pytest.mark.parametrize(
        ("method", "url", "body", "headers"),
        [
            # method= on something else than POST
            ("PUT", "/xapi/statements?method=POST", "content=x", FORM),
            # other query parameters besides method
            ("POST", f"/xapi/statements?method=PUT&statementId={FIXED_ID}", "content=x", FORM),
            # not a method of xAPI
            ("POST", "/xapi/statements?method=PATCH", "content=x", FORM),
            # not form encoded
            (
                "POST",
                "/xapi/statements?method=PUT",
                orjson.dumps({"statementId": FIXED_ID, "content": "{}"}).decode(),
                FORM,
            ),
            ("POST", "/xapi/statements?method=PUT", "content=x", {"Content-Type": "text/plain"}),
        ],
        ids=["not-post", "extra-query", "bad-method", "not-form-encoded", "not-form-type"],
    )
    async def test_malformed_is_400(self, lrs, client, method, url, body, headers):
        response = await client.request(
            method, url, content=body, headers={**headers, **lrs.headers()}, auth=lrs.auth
        )
        assert response.status_code == 400

    async def test_put_without_content_is_400(self, lrs, client):
        response = await client.post(
            "/xapi/statements?method=PUT", headers={**FORM, **lrs.headers()}, auth=lrs.auth
        )
        assert response.status_code == 400

    async def test_refused_under_2_0(self, lrs, client):
        for form_or_header in ("form", "header"):
            form = {"limit": "1"}
            headers = {**FORM}
            if form_or_header == "form":
                form["X-Experience-API-Version"] = "2.0.0"
            else:
                headers["X-Experience-API-Version"] = "2.0.0"
            response = await client.post(
                "/xapi/statements?method=GET",
                content=urlencode(form),
                headers=headers,
                auth=lrs.auth,
            )
            assert response.status_code == 400
            assert response.headers["x-experience-api-version"] == "2.0.0"

    async def test_a_form_post_without_method_is_an_ordinary_document(self, lrs):
        params = {"activityId": ACTIVITY, "agent": AGENT, "stateId": "form"}
        response = await lrs.post(STATE, params, content=b"a=1&b=2", headers=FORM)
        assert response.status_code == 204
        got = await lrs.get(STATE, params)
        assert got.content == b"a=1&b=2"
        assert got.headers["content-type"] == FORM["Content-Type"]


class TestCors:
    async def test_preflight_allows_xapi_headers(self, client):
        response = await client.options(
            STATE,
            headers={
                "Origin": "https://course.example.cn",
                "Access-Control-Request-Method": "PUT",
                "Access-Control-Request-Headers": "authorization, x-experience-api-version, "
                "content-type, if-match",
            },
        )
        assert response.status_code == 200
        assert response.headers["access-control-allow-origin"] == "*"
        assert "PUT" in response.headers["access-control-allow-methods"]
        allowed = response.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "x-experience-api-version", "if-match"):
            assert header in allowed

    async def test_responses_expose_etag_and_version(self, lrs):
        params = {"activityId": ACTIVITY, "agent": AGENT, "stateId": "cors"}
        await lrs.put(STATE, params, json={"a": 1})
        got = await lrs.get(STATE, params, headers={"Origin": "https://course.example.cn"})
        assert got.headers["access-control-allow-origin"] == "*"
        exposed = got.headers["access-control-expose-headers"].lower()
        for header in ("etag", "last-modified", "x-experience-api-version"):
            assert header in exposed

    async def test_errors_carry_cors_headers_too(self, client):
        response = await client.get(
            STATE,
            headers={"Origin": "https://course.example.cn", "X-Experience-API-Version": "1.0.3"},
        )
        assert response.status_code == 401
        assert response.headers["access-control-allow-origin"] == "*"

    async def test_no_cors_outside_xapi(self, client):
        response = await client.get("/healthz", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in response.headers
