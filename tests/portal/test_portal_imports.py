"""The institution admin's CSV/xlsx import page over real HTTP (ASGI) on both databases:
upload with a mapping, the preview with its row errors in both languages, commit,
re-import, refused files as form errors, another institution's admin, CSRF."""

from __future__ import annotations

import html
import re
from typing import Any

import httpx
import pytest

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.demo import load_demo
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import RoleSpec
from creditbank.identity.signin import sign_in as sign_in_service
from tests.imports.conftest import XAPI, basic
from tests.imports.files import MAPPING, ROWS, csv_bytes, xlsx_bytes, zip_bomb_xlsx
from tests.portal.helpers_portal import csrf_of, figure, sign_in

#: A row with an empty course code and a score that is no number.
BAD_ROW = ["2024009", "", "通过", "abc", "1", "2024-03-01"]


async def _demo(db: Database, settings: Settings) -> dict[str, Any]:
    """Institutions, users and standards (no story: the import starts from nothing)."""
    async with db.session_scope() as session:
        return await load_demo(session, settings)


async def _admin(client: httpx.AsyncClient, demo: dict[str, Any]) -> str:
    admin = demo["users"]["institution_admin"]
    signed = await sign_in(client, admin["username"], admin["password"])
    assert signed.status_code == 303
    page = await client.get("/institution/imports")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


async def _upload(
    client: httpx.AsyncClient,
    csrf: str | None,
    filename: str,
    content: bytes,
    mapping: str | None = MAPPING,
    **fields: str,
) -> httpx.Response:
    files: dict[str, Any] = {"file": (filename, content, "application/octet-stream")}
    if mapping is not None:
        files["mapping"] = ("mapping.yaml", mapping.encode(), "application/yaml")
    data = {**fields, **({"csrf_token": csrf} if csrf else {})}
    return await client.post("/institution/imports", data=data, files=files)


def _import_id(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    found = re.fullmatch(r"/institution/imports/([0-9a-f-]{36})", response.headers["location"])
    assert found, response.headers["location"]
    return found.group(1)


async def _stored(client: httpx.AsyncClient, demo: dict[str, Any]) -> list[dict[str, Any]]:
    response = await client.get("/xapi/statements", headers=XAPI, auth=basic(demo, "fxvs"))
    assert response.status_code == 200, response.text
    statements: list[dict[str, Any]] = response.json()["statements"]
    return statements


async def _imports_of_fxvs(client: httpx.AsyncClient, demo: dict[str, Any]) -> list[Any]:
    listing = await client.get("/api/v1/institutions/fxvs/imports", auth=basic(demo, "fxvs"))
    assert listing.status_code == 200, listing.text
    found: list[Any] = listing.json()
    return found


async def test_upload_preview_commit_and_reimport(client, db, settings):
    demo = await _demo(db, settings)
    csrf = await _admin(client, demo)
    # the institution admin's navigation leads here
    assert 'href="/institution/imports"' in (await client.get("/institution")).text

    # a GB18030 file with one bad row: the preview lists it, nothing can be committed
    bad = await _upload(client, csrf, "成绩.csv", csv_bytes([*ROWS, BAD_ROW], encoding="gb18030"))
    bad_id = _import_id(bad)
    preview = await client.get(f"/institution/imports/{bad_id}")
    assert preview.status_code == 200
    text = html.unescape(preview.text)
    assert (figure(text, "rows"), figure(text, "new"), figure(text, "errors")) == ("4", "3", "2")
    assert "(gb18030)" in text
    row = re.search(r'data-row-error="5" data-code="required">(.*?)</tr>', text, re.S)
    assert row is not None
    assert "课程代码" in row.group(1)
    assert "课程代码为空" in row.group(1)
    score = re.search(r'data-row-error="5" data-code="not_a_number">(.*?)</tr>', text, re.S)
    assert score is not None
    assert "<td>成绩</td>" in score.group(1)
    assert "<code>abc</code>" in score.group(1)
    assert "成绩不是数字" in score.group(1)
    assert f"/institution/imports/{bad_id}/commit" not in text
    assert "文件有错误，不能导入" in text
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = html.unescape((await client.get(f"/institution/imports/{bad_id}")).text)
    assert "the course code is empty" in english
    assert "not a number" in english
    assert "Row errors" in english
    refused = await client.post(f"/institution/imports/{bad_id}/commit", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert await _stored(client, demo) == []
    await client.get("/lang", params={"to": "zh-CN", "next": "/"})

    # the good file: three new rows, committed, read back through the LRS
    good_id = _import_id(await _upload(client, csrf, "成绩.csv", csv_bytes(encoding="gb18030")))
    page = html.unescape((await client.get(f"/institution/imports/{good_id}")).text)
    assert (figure(page, "rows"), figure(page, "new"), figure(page, "unchanged")) == (
        "3",
        "3",
        "0",
    )
    assert (figure(page, "conflicts"), figure(page, "errors")) == ("0", "0")
    committed = await client.post(
        f"/institution/imports/{good_id}/commit", data={"csrf_token": csrf_of(page)}
    )
    assert committed.status_code == 303
    assert committed.headers["location"] == f"/institution/imports/{good_id}?done=committed"
    result = html.unescape((await client.get(committed.headers["location"])).text)
    assert 'data-notice="committed"' in result
    assert (figure(result, "created"), figure(result, "result-unchanged")) == ("3", "0")
    statements = await _stored(client, demo)
    assert sorted(s["actor"]["account"]["name"] for s in statements) == [
        "2024001",
        "2024002",
        "2024003",
    ]
    assert {s["authority"]["account"]["name"] for s in statements} == {"import"}

    # the same records again (as .xlsx, the previous mapping reused): all unchanged
    again = await _upload(
        client, csrf, "成绩.xlsx", xlsx_bytes(), mapping=None, reuse_mapping="yes"
    )
    again_id = _import_id(again)
    page = html.unescape((await client.get(f"/institution/imports/{again_id}")).text)
    assert (figure(page, "new"), figure(page, "unchanged")) == ("0", "3")
    done = await client.post(
        f"/institution/imports/{again_id}/commit", data={"csrf_token": csrf_of(page)}
    )
    result = html.unescape((await client.get(done.headers["location"])).text)
    assert (figure(result, "created"), figure(result, "result-unchanged")) == ("0", "3")
    assert len(await _stored(client, demo)) == 3

    # the recent imports, each with its state
    listing = (await client.get("/institution/imports")).text
    states = dict(re.findall(r'data-import="([0-9a-f-]{36})" data-import-status="(\w+)"', listing))
    assert states == {bad_id: "preview", good_id: "committed", again_id: "committed"}
    assert "待确认" in listing
    assert "已导入" in listing


@pytest.mark.parametrize(
    ("filename", "content", "mapping", "field", "message"),
    [
        (
            "g.csv",
            csv_bytes(encoding="gb18030"),
            "encoding: utf-8\n" + MAPPING,
            "file",
            "文件不是有效的 UTF-8 编码",
        ),
        (
            "g.csv",
            csv_bytes(header=["学号", "日期"], rows=[["1", "2024-01-01"]]),
            MAPPING,
            "file",
            "文件缺少映射所需的列",
        ),
        (
            "f.xlsx",
            xlsx_bytes([["1", "ELEC4", "通过", "=1+1", 1, "2024-03-01"]]),
            MAPPING,
            "file",
            "公式",
        ),
        ("bomb.xlsx", zip_bomb_xlsx(), MAPPING, "file", "压缩炸弹"),
        ("g.csv", csv_bytes(), "x: [", "mapping", "不是有效的 YAML"),
        ("g.csv", csv_bytes(), "# " + "x" * 70_000, "mapping", "文件过大"),
    ],
    ids=["encoding", "columns", "formula", "zip-bomb", "mapping", "mapping-too-large"],
)
async def test_a_refused_file_is_a_form_error_and_stores_nothing(
    client, db, settings, filename, content, mapping, field, message
):
    demo = await _demo(db, settings)
    csrf = await _admin(client, demo)
    response = await _upload(client, csrf, filename, content, mapping)
    assert response.status_code == 400, response.text
    text = html.unescape(response.text)
    error = re.search(rf'data-form-error="{field}">([^<]*)<', text)
    assert error is not None, text
    assert message in error.group(1)
    assert f'id="{field}-error"' in text
    assert await _imports_of_fxvs(client, demo) == []
    assert await _stored(client, demo) == []


async def test_the_form_needs_a_file_and_a_mapping(client, db, settings):
    demo = await _demo(db, settings)
    csrf = await _admin(client, demo)
    empty = await client.post(
        "/institution/imports",
        data={"csrf_token": csrf},
        files={"file": ("", b"", "application/octet-stream")},
    )
    assert empty.status_code == 400
    assert 'data-form-error="file"' in empty.text
    assert 'data-form-error="mapping"' in empty.text
    # reusing a mapping needs an earlier import
    none_yet = await _upload(client, csrf, "g.csv", csv_bytes(), mapping=None, reuse_mapping="yes")
    assert none_yet.status_code == 400
    assert "请选择列映射文件" in none_yet.text
    assert await _imports_of_fxvs(client, demo) == []


async def test_another_institutions_admin_and_a_missing_csrf_token_are_refused(
    client, db, settings
):
    demo = await _demo(db, settings)
    csrf = await _admin(client, demo)
    import_id = _import_id(await _upload(client, csrf, "g.csv", csv_bytes()))

    # no CSRF token: neither an upload nor a commit
    forged = await _upload(client, None, "g.csv", csv_bytes())
    assert forged.status_code == 403
    assert "表单已过期" in forged.text
    forged = await client.post(f"/institution/imports/{import_id}/commit", data={})
    assert forged.status_code == 403
    forged = await client.post(
        f"/institution/imports/{import_id}/commit", data={"csrf_token": "forged"}
    )
    assert forged.status_code == 403
    assert len(await _imports_of_fxvs(client, demo)) == 1

    # mooc1's admin: fxvs's import is not there for it, by id or by naming fxvs
    async with db.session_scope() as session:
        mooc1 = await identity_service.get_institution(session, "mooc1")
        await sign_in_service.create_user(
            session,
            "test",
            settings=settings,
            username="mooc1admin",
            password="Mooc1-admin-test-42",
            roles=[RoleSpec("institution_admin", institution=mooc1)],
        )
    client.cookies.clear()
    await sign_in(client, "mooc1admin", "Mooc1-admin-test-42")
    own = await client.get("/institution/imports")
    assert own.status_code == 200
    assert import_id not in own.text
    other_csrf = csrf_of(own.text)
    seen = await client.get(f"/institution/imports/{import_id}")
    assert seen.status_code == 404
    assert "g.csv" not in seen.text
    named = await client.get(f"/institution/imports/{import_id}?institution=fxvs")
    assert named.status_code == 403
    assert (await client.get("/institution/imports?institution=fxvs")).status_code == 403
    commit = await client.post(
        f"/institution/imports/{import_id}/commit", data={"csrf_token": other_csrf}
    )
    assert commit.status_code == 404
    commit = await client.post(
        f"/institution/imports/{import_id}/commit",
        data={"csrf_token": other_csrf, "institution": "fxvs"},
    )
    assert commit.status_code == 403
    upload = await _upload(client, other_csrf, "g.csv", csv_bytes(), institution="fxvs")
    assert upload.status_code == 403
    assert [i["status"] for i in await _imports_of_fxvs(client, demo)] == ["preview"]
    assert await _stored(client, demo) == []


async def test_the_operator_imports_for_a_named_institution(client, db, settings):
    demo = await _demo(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    institutions = await client.get("/operate/institutions")
    assert 'href="/institution/imports?institution=fxvs"' in institutions.text
    page = await client.get("/institution/imports?institution=fxvs")
    assert page.status_code == 200
    assert 'name="institution" value="fxvs"' in page.text
    response = await _upload(client, csrf_of(page.text), "g.csv", csv_bytes(), institution="fxvs")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.endswith("?institution=fxvs")
    preview = await client.get(location)
    assert figure(preview.text, "new") == "3"
    done = await client.post(
        location.replace("?", "/commit?", 1).split("?")[0],
        data={"csrf_token": csrf_of(preview.text), "institution": "fxvs"},
    )
    assert done.status_code == 303
    assert done.headers["location"].endswith("?institution=fxvs&done=committed")
    result = await client.get(done.headers["location"])
    assert figure(result.text, "created") == "3"
    assert len(await _stored(client, demo)) == 3


async def test_switching_the_language_keeps_the_named_institution(client, db, settings):
    demo = await _demo(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/institution/imports?institution=fxvs")
    link = re.search(r'href="(/lang\?to=en&amp;next=[^"]+)"', page.text)
    assert link is not None
    switched = await client.get(html.unescape(link.group(1)))
    assert switched.headers["location"] == "/institution/imports?institution=fxvs"
    english = await client.get(switched.headers["location"])
    assert english.status_code == 200
    assert "Import records" in english.text
