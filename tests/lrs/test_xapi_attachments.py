"""Statement attachments over HTTP: multipart/mixed writes, GET attachments=true, storage once
per SHA-2, and every malformed body refused with nothing stored (SQLite and PostgreSQL)."""

from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.lrs.models import AttachmentContent, Statement
from tests.lrs.attachment_helpers import (
    BOUNDARY,
    Part,
    attachment_meta,
    multipart,
    multipart_type,
    new_id,
    parse_multipart_answer,
    sha256,
)

XAPI = {"X-Experience-API-Version": "1.0.3"}
CERT = "房县职业技术学校 电工证书 2023-0001\n".encode()
PHOTO = bytes(range(256)) * 40  # binary, with CR/LF and "--" inside


async def counts(session: AsyncSession) -> tuple[int, int]:
    statements = (await session.execute(select(func.count()).select_from(Statement))).scalar_one()
    contents = (
        await session.execute(select(func.count()).select_from(AttachmentContent))
    ).scalar_one()
    await session.rollback()
    return int(statements), int(contents)


async def post_multipart(fxvs, body: bytes, content_type: str = multipart_type(), **params):
    return await fxvs.client.post(
        "/xapi/statements",
        content=body,
        params=params or None,
        headers={**XAPI, "Content-Type": content_type},
        auth=fxvs.auth,
    )


async def put_multipart(fxvs, body: bytes, statement_id: str):
    return await fxvs.client.put(
        "/xapi/statements",
        content=body,
        params={"statementId": statement_id},
        headers={**XAPI, "Content-Type": multipart_type()},
        auth=fxvs.auth,
    )


def with_attachments(fxvs, *contents: tuple[bytes, str], **extra):
    return fxvs.statement(
        attachments=[attachment_meta(c, content_type=t) for c, t in contents], **extra
    )


class TestWrite:
    async def test_post_stores_statement_and_content(self, fxvs, session):
        statement = with_attachments(fxvs, (CERT, "text/plain"), (PHOTO, "image/jpeg"))
        body = multipart(statement, [Part(CERT), Part(PHOTO, content_type="image/jpeg")])
        response = await post_multipart(fxvs, body)
        assert response.status_code == 200, response.text
        assert await counts(session) == (1, 2)
        row = await session.get(AttachmentContent, sha256(PHOTO))
        assert row is not None
        assert row.content == PHOTO
        assert row.length == len(PHOTO)
        assert row.content_type == "image/jpeg"

    async def test_put_with_attachment(self, fxvs, session):
        statement_id = new_id()
        statement = with_attachments(fxvs, (CERT, "text/plain"))
        response = await put_multipart(fxvs, multipart(statement, [Part(CERT)]), statement_id)
        assert response.status_code == 204, response.text
        assert await counts(session) == (1, 1)

    async def test_content_is_stored_once_per_hash(self, fxvs, session):
        batch = [with_attachments(fxvs, (CERT, "text/plain")) for _ in range(3)]
        # One part serves all three statements that declare it.
        response = await post_multipart(fxvs, multipart(batch, [Part(CERT)]))
        assert response.status_code == 200, response.text
        again = with_attachments(fxvs, (CERT, "text/plain"), learner="20230002")
        response = await post_multipart(fxvs, multipart(again, [Part(CERT)]))
        assert response.status_code == 200, response.text
        assert await counts(session) == (4, 1)

    async def test_file_url_only_needs_no_part(self, fxvs, session):
        meta = attachment_meta(CERT, fileUrl="https://fxvs.example.edu.cn/certs/0001.txt")
        statement = fxvs.statement(attachments=[meta])
        assert (await fxvs.post(statement)).status_code == 200
        response = await post_multipart(fxvs, multipart(fxvs.statement(attachments=[meta]), []))
        assert response.status_code == 200, response.text
        assert await counts(session) == (2, 0)

    async def test_multipart_without_attachments(self, fxvs, session):
        response = await post_multipart(fxvs, multipart(fxvs.statement(), []))
        assert response.status_code == 200, response.text

    async def test_preamble_quoted_boundary_and_no_space_headers(self, fxvs, session):
        statement = with_attachments(fxvs, (CERT, "text/plain"))
        body = (
            f"\r\n--{BOUNDARY}\r\nContent-Type:application/json\r\n\r\n".encode()
            + orjson.dumps(statement)
            + f"\r\n--{BOUNDARY}\r\nContent-Type:text/plain\r\n"
            f"Content-Transfer-Encoding:binary\r\nX-Experience-API-Hash:{sha256(CERT)}\r\n\r\n".encode()
            + CERT
            + f"\r\n--{BOUNDARY}--".encode()
        )
        response = await post_multipart(fxvs, body, f'multipart/mixed; boundary="{BOUNDARY}"')
        assert response.status_code == 200, response.text

    async def test_json_with_attachment_but_no_file_url_is_400(self, fxvs, session):
        response = await fxvs.post(with_attachments(fxvs, (CERT, "text/plain")))
        assert response.status_code == 400
        assert await counts(session) == (0, 0)


class TestBadInput:
    """Every bad multipart body is a 400 (413 for size) and stores nothing."""

    @pytest.fixture
    def statement(self, fxvs):
        return with_attachments(fxvs, (CERT, "text/plain"))

    async def expect(self, fxvs, session, body: bytes, status: int = 400, **kwargs) -> None:
        response = await post_multipart(fxvs, body, **kwargs)
        assert response.status_code == status, response.text
        assert await counts(session) == (0, 0)

    async def test_missing_part(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, []))

    async def test_surplus_part(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT), Part(PHOTO)]))

    async def test_hash_header_does_not_match_content(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT, sha2=sha256(b"x"))]))

    async def test_content_differs_from_declared_sha2(self, fxvs, session, statement):
        # The part is self-consistent but is not the file the statement declares.
        await self.expect(fxvs, session, multipart(statement, [Part(CERT + b"tampered")]))

    async def test_hash_header_missing(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT, sha2="")]))

    async def test_hash_header_not_a_sha2(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT, sha2="abc123")]))

    @pytest.mark.parametrize("encoding", [None, "base64"])
    async def test_transfer_encoding_must_be_binary(self, fxvs, session, statement, encoding):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT, encoding=encoding)]))

    async def test_first_part_not_json(self, fxvs, session, statement):
        body = multipart(statement, [Part(CERT)], first_type="text/plain")
        await self.expect(fxvs, session, body)

    async def test_statements_split_over_two_parts(self, fxvs, session, statement):
        extra = Part(orjson.dumps(statement), content_type="application/json", sha2="")
        await self.expect(fxvs, session, multipart(statement, [extra, Part(CERT)]))

    async def test_boundary_missing_from_header(self, fxvs, session, statement):
        await self.expect(
            fxvs, session, multipart(statement, [Part(CERT)]), content_type="multipart/mixed;"
        )

    async def test_boundary_never_in_body(self, fxvs, session, statement):
        body = multipart(statement, [Part(CERT)], boundary="other")
        await self.expect(fxvs, session, body)

    async def test_boundary_never_closes(self, fxvs, session, statement):
        await self.expect(fxvs, session, multipart(statement, [Part(CERT)], close=False))

    async def test_truncated_body(self, fxvs, session, statement):
        body = multipart(statement, [Part(PHOTO)])
        await self.expect(fxvs, session, body[: len(body) // 2])

    async def test_truncated_in_headers(self, fxvs, session, statement):
        body = multipart(statement, [Part(CERT)])
        cut = body.index(b"X-Experience-API-Hash")
        await self.expect(fxvs, session, body[:cut] + f"\r\n--{BOUNDARY}--".encode())

    async def test_malformed_json_part(self, fxvs, session):
        head = f"--{BOUNDARY}\r\nContent-Type: application/json\r\n\r\n"
        body = (head + f"{{nope\r\n--{BOUNDARY}--").encode()
        await self.expect(fxvs, session, body)

    async def test_multipart_form_data_refused(self, fxvs, session, statement):
        body = multipart(statement, [Part(CERT)])
        await self.expect(
            fxvs, session, body, content_type=f"multipart/form-data; boundary={BOUNDARY}"
        )

    async def test_attachment_over_size_limit_is_413(self, fxvs, session, settings):
        settings.lrs.max_attachment_bytes = 1000
        statement = with_attachments(fxvs, (PHOTO, "image/jpeg"))
        body = multipart(statement, [Part(PHOTO, content_type="image/jpeg")])
        await self.expect(fxvs, session, body, status=413)

    async def test_batch_fails_as_a_whole(self, fxvs, session, statement):
        good = with_attachments(fxvs, (PHOTO, "image/jpeg"))
        body = multipart([good, statement], [Part(PHOTO, content_type="image/jpeg")])
        await self.expect(fxvs, session, body)


class TestRead:
    async def store(self, fxvs, *statements) -> None:
        parts = {}
        for statement in statements:
            for meta in statement.get("attachments", []):
                content = CERT if meta["sha2"] == sha256(CERT) else PHOTO
                parts[meta["sha2"]] = Part(content, content_type=meta["contentType"])
        response = await post_multipart(fxvs, multipart(list(statements), list(parts.values())))
        assert response.status_code == 200, response.text

    async def test_query_answers_multipart_each_attachment_once(self, fxvs):
        first = with_attachments(fxvs, (CERT, "text/plain"), (PHOTO, "image/jpeg"))
        second = with_attachments(fxvs, (CERT, "text/plain"), learner="20230002")
        plain = fxvs.statement(learner="20230003")
        await self.store(fxvs, first, second, plain)
        response = await fxvs.get({"attachments": "true"})
        assert response.status_code == 200
        assert "X-Experience-API-Consistent-Through" in response.headers
        content_type = response.headers["content-type"]
        assert content_type.startswith("multipart/mixed; boundary=")
        parts = parse_multipart_answer(content_type, response.content)
        headers, document = parts[0]
        assert headers["content-type"] == "application/json"
        assert len(orjson.loads(document)["statements"]) == 3
        contents = {h["x-experience-api-hash"]: (h, c) for h, c in parts[1:]}
        assert len(parts) == 3  # CERT once although two statements carry it
        assert contents[sha256(CERT)][1] == CERT
        assert contents[sha256(PHOTO)][1] == PHOTO
        assert contents[sha256(PHOTO)][0]["content-type"] == "image/jpeg"
        assert contents[sha256(PHOTO)][0]["content-transfer-encoding"] == "binary"

    async def test_single_statement_with_attachments(self, fxvs):
        statement_id = new_id()
        statement = with_attachments(fxvs, (PHOTO, "image/jpeg"), id=statement_id)
        await self.store(fxvs, statement)
        response = await fxvs.get({"statementId": statement_id, "attachments": "true"})
        parts = parse_multipart_answer(response.headers["content-type"], response.content)
        assert orjson.loads(parts[0][1])["id"] == statement_id
        assert [c for _, c in parts[1:]] == [PHOTO]

    async def test_without_attachments_parameter_answers_json(self, fxvs):
        statement_id = new_id()
        await self.store(fxvs, with_attachments(fxvs, (CERT, "text/plain"), id=statement_id))
        for params in ({"statementId": statement_id}, {"attachments": "false"}):
            response = await fxvs.get(params)
            assert response.headers["content-type"].startswith("application/json")
            response.json()

    async def test_file_url_attachment_has_no_part(self, fxvs):
        meta = attachment_meta(CERT, fileUrl="https://fxvs.example.edu.cn/certs/0001.txt")
        assert (await fxvs.post(fxvs.statement(attachments=[meta]))).status_code == 200
        response = await fxvs.get({"attachments": "true"})
        parts = parse_multipart_answer(response.headers["content-type"], response.content)
        assert len(parts) == 1

    async def test_head_has_no_body(self, fxvs):
        await self.store(fxvs, with_attachments(fxvs, (CERT, "text/plain")))
        response = await fxvs.client.head(
            "/xapi/statements", params={"attachments": "true"}, headers=XAPI, auth=fxvs.auth
        )
        assert response.status_code == 200
        assert response.content == b""


class TestSubStatement:
    def sub(self, fxvs, meta):
        inner = fxvs.statement(attachments=[meta])
        return fxvs.statement(
            object={"objectType": "SubStatement", **{k: inner[k] for k in inner}},
        )

    async def test_sub_statement_attachment_part(self, fxvs, session):
        statement = self.sub(fxvs, attachment_meta(CERT))
        response = await post_multipart(fxvs, multipart(statement, [Part(CERT)]))
        assert response.status_code == 200, response.text
        assert await counts(session) == (1, 1)
        answer = await fxvs.get({"attachments": "true"})
        parts = parse_multipart_answer(answer.headers["content-type"], answer.content)
        assert [c for _, c in parts[1:]] == [CERT]

    async def test_sub_statement_attachment_without_part_is_400(self, fxvs, session):
        response = await post_multipart(fxvs, multipart(self.sub(fxvs, attachment_meta(CERT)), []))
        assert response.status_code == 400
        assert await counts(session) == (0, 0)


async def test_upper_case_sha2_is_matched_and_echoed(fxvs, session):
    meta = attachment_meta(CERT, sha2=sha256(CERT).upper())
    statement = fxvs.statement(attachments=[meta])
    response = await post_multipart(fxvs, multipart(statement, [Part(CERT)]))
    assert response.status_code == 200, response.text
    answer = await fxvs.get({"attachments": "true"})
    parts = parse_multipart_answer(answer.headers["content-type"], answer.content)
    assert parts[1][0]["x-experience-api-hash"] == sha256(CERT).upper()
    assert parts[1][1] == CERT
