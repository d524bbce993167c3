"""Attachments through a real uvicorn server (real sockets, chunked uploads), both databases."""

from __future__ import annotations

import httpx
import orjson
import pytest

from tests.lrs.attachment_helpers import (
    Part,
    Signer,
    attachment_meta,
    multipart,
    multipart_type,
    parse_multipart_answer,
    signed,
)

pytestmark = pytest.mark.server

PDF = b"%PDF-1.4\r\n" + bytes(range(256)) * 1000 + b"\r\n--not-a-boundary\r\n%%EOF"


async def test_multipart_round_trip_over_real_http(live_server, demo):
    fxvs = demo["fxvs"]
    auth = (fxvs["lrs_key"], fxvs["lrs_secret"])
    actor = {"account": {"homePage": fxvs["home_page"], "name": "20230001"}}
    statement = {
        "actor": actor,
        "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
        "object": {"id": f"{fxvs['home_page']}/xapi/activities/cert-elec-4"},
        "attachments": [attachment_meta(PDF, content_type="application/pdf")],
    }
    body, signature = signed(statement, Signer.create().sign(statement))
    payload = multipart(body, [Part(PDF, content_type="application/pdf"), signature])

    async def chunks():
        for start in range(0, len(payload), 7001):
            yield payload[start : start + 7001]

    async with httpx.AsyncClient(base_url=live_server.url, timeout=30) as client:
        headers = {"X-Experience-API-Version": "2.0.0"}
        response = await client.post(
            "/xapi/statements",
            content=chunks(),
            headers={**headers, "Content-Type": multipart_type()},
            auth=auth,
        )
        assert response.status_code == 200, response.text
        (statement_id,) = response.json()
        answer = await client.get(
            "/xapi/statements",
            params={"statementId": statement_id, "attachments": "true"},
            headers=headers,
            auth=auth,
        )
        assert answer.status_code == 200
        parts = parse_multipart_answer(answer.headers["content-type"], answer.content)
        assert orjson.loads(parts[0][1])["id"] == statement_id
        assert parts[1][1] == PDF
        assert len(parts) == 3  # the statement, the PDF and the signature

        truncated = await client.post(
            "/xapi/statements",
            content=payload[: len(payload) - 40],
            headers={**headers, "Content-Type": multipart_type()},
            auth=auth,
        )
        assert truncated.status_code == 400
