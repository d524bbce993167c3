"""Signed statements (xAPI Data §2.6) over HTTP, on SQLite and PostgreSQL: a JWS attachment
whose payload must be the statement and whose signature must verify against x5c / jwk."""

from __future__ import annotations

import base64
import json

import jwt
import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.lrs.models import Statement
from tests.lrs.attachment_helpers import (
    CERT_PART_TYPE,
    Part,
    Signer,
    attachment_meta,
    multipart,
    multipart_type,
    new_id,
    signed,
)

XAPI = {"X-Experience-API-Version": "1.0.3"}
EVIDENCE = "证书扫描件".encode()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.create()


async def stored(session: AsyncSession) -> int:
    value = (await session.execute(select(func.count()).select_from(Statement))).scalar_one()
    await session.rollback()
    return int(value)


async def send(lrs, body: bytes, version: str = "1.0.3"):
    return await lrs.client.post(
        "/xapi/statements",
        content=body,
        headers={"X-Experience-API-Version": version, "Content-Type": multipart_type()},
        auth=lrs.auth,
    )


class TestAccepted:
    @pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
    async def test_rsa_algorithms_with_x5c(self, fxvs, session, signer, algorithm):
        statement = {**fxvs.statement(), "id": new_id()}
        body, part = signed(statement, signer.sign(statement, algorithm=algorithm))
        response = await send(fxvs, multipart(body, [part]))
        assert response.status_code == 200, response.text
        assert await stored(session) == 1

    async def test_without_certificate_the_payload_is_still_checked(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        body, part = signed(statement, signer.sign(statement, x5c=False))
        assert (await send(fxvs, multipart(body, [part]))).status_code == 200

    async def test_with_jwk_header(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signer.key.public_key()))
        token = jwt.api_jws.encode(
            orjson.dumps(statement), signer.key, algorithm="RS256", headers={"jwk": jwk}
        )
        body, part = signed(statement, token.encode())
        assert (await send(fxvs, multipart(body, [part]))).status_code == 200

    async def test_signed_with_other_attachments(self, fxvs, session, signer):
        statement = {
            **fxvs.statement(),
            "id": new_id(),
            "attachments": [attachment_meta(EVIDENCE, content_type=CERT_PART_TYPE)],
        }
        body, part = signed(statement, signer.sign(statement))
        evidence = Part(EVIDENCE, content_type=CERT_PART_TYPE)
        assert (await send(fxvs, multipart(body, [evidence, part]))).status_code == 200

    async def test_payload_without_id_matches_statement_without_id(self, fxvs, signer):
        statement = fxvs.statement()
        body, part = signed(statement, signer.sign(statement))
        assert (await send(fxvs, multipart(body, [part]))).status_code == 200

    async def test_signed_2_0_statement(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id(), "timestamp": "2026-03-01T08:00:00Z"}
        body, part = signed(statement, signer.sign(statement))
        response = await send(fxvs, multipart(body, [part]), version="2.0.0")
        assert response.status_code == 200, response.text


class TestRejected:
    async def expect_400(self, fxvs, session, body: bytes) -> None:
        response = await send(fxvs, body)
        assert response.status_code == 400, response.text
        assert await stored(session) == 0

    async def test_payload_differs_from_statement(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        token = signer.sign({**statement, "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}})
        body, part = signed(statement, token)
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_bad_signature_with_x5c(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        header, payload, signature = signer.sign(statement).decode().split(".")
        flipped = base64.urlsafe_b64encode(
            bytes(b ^ 1 for b in base64.urlsafe_b64decode(signature + "=="))
        ).rstrip(b"=")
        body, part = signed(statement, f"{header}.{payload}.".encode() + flipped)
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_certificate_of_another_key(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        other = Signer.create()
        token = jwt.api_jws.encode(
            orjson.dumps(statement), other.key, algorithm="RS256", headers={"x5c": signer.x5c}
        )
        body, part = signed(statement, token.encode())
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_hs256_refused(self, fxvs, session):
        statement = {**fxvs.statement(), "id": new_id()}
        token = jwt.api_jws.encode(orjson.dumps(statement), "k" * 32, algorithm="HS256")
        body, part = signed(statement, token.encode())
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_payload_not_json(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        token = jwt.api_jws.encode(b"{'not': json}", signer.key, algorithm="RS256")
        body, part = signed(statement, token.encode())
        await self.expect_400(fxvs, session, multipart(body, [part]))

    @pytest.mark.parametrize("jws", [b"not a jws", b"a.b", b"{}", b"\xff\xfe"])
    async def test_malformed_jws(self, fxvs, session, jws):
        statement = {**fxvs.statement(), "id": new_id()}
        body, part = signed(statement, jws)
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_wrong_content_type(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        body, part = signed(statement, signer.sign(statement), content_type="text/plain")
        await self.expect_400(fxvs, session, multipart(body, [part]))

    async def test_signature_only_by_file_url(self, fxvs, session, signer):
        statement = {**fxvs.statement(), "id": new_id()}
        body, _ = signed(
            statement, signer.sign(statement), fileUrl="https://fxvs.example.edu.cn/sig.jws"
        )
        response = await fxvs.post(body)
        assert response.status_code == 400
        assert await stored(session) == 0
