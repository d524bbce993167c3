"""The operator's standards pages (versions, the dry run of a new version, publishing,
applying) and the institution admin's catalog mappings, over real HTTP on both
databases."""

from __future__ import annotations

import copy
import json
import re
from datetime import date
from html import unescape
from typing import Any

from creditbank.audit.schemas import AuditFilter
from creditbank.audit.service import audit as audit_service
from creditbank.db import Database
from creditbank.identity.principal import Principal
from creditbank.standards.service import standards as standards_service
from tests.portal.helpers_portal import csrf_of, figure, load_story, sign_in

OPERATOR = Principal(kind="user", roles=frozenset({"operator"}))


async def _next_version(db: Database) -> dict[str, Any]:
    """The demo set in force as a new version: today, calligraphy worth 2 credits and
    R3 one credit per 10 hours (so 李娜's 20 hours of calligraphy earn 2.0, not 1.0)."""
    async with db.read_scope() as session:
        content = copy.deepcopy((await standards_service.in_force(session)).row.content)
    content["meta"]["version"] = "2099.1"
    content["meta"]["effective_from"] = date.today().isoformat()
    for unit in content["units"]["units"]:
        if unit["code"] == "SEN-CAL-1":
            unit["credits"] = "2.00"
    for rule in content["recognition"]["rules"]:
        if rule["id"] == "R3":
            rule["credits"]["hours"] = "10"
    return content


def _hidden(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, name
    return unescape(found.group(1))


async def test_operator_previews_publishes_and_applies_a_new_version(client, db, settings):
    demo = await load_story(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/standards")
    assert page.status_code == 200
    assert "标准版本" in page.text
    assert 'data-in-force="demo/2024.1"' in page.text
    assert 'data-version="demo/2024.1"' in page.text

    # a set that does not validate is refused next to the field, nothing published
    broken = await client.post(
        "/operate/standards/preview",
        data={"csrf_token": csrf_of(page.text), "content": '{"meta": {}}'},
    )
    assert broken.status_code == 400
    assert 'id="content-error"' in broken.text
    assert "标准集校验未通过" in broken.text
    not_json = await client.post(
        "/operate/standards/preview",
        data={"csrf_token": csrf_of(page.text), "content": "not json"},
    )
    assert not_json.status_code == 400

    # the dry run of a new version, uploaded as a file: what changes for 李娜
    content = await _next_version(db)
    preview = await client.post(
        "/operate/standards/preview",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("demo-2099.json", json.dumps(content, ensure_ascii=False).encode())},
    )
    assert preview.status_code == 200, preview.text
    assert 'data-preview-status="new"' in preview.text
    assert 'data-change="SEN-CAL-1:changed"' in preview.text
    assert figure(preview.text, "learners-changed") == "1"
    assert figure(preview.text, "delta") == "1.00"
    async with db.read_scope() as session:
        assert len(await standards_service.list_versions(session)) == 1  # nothing written

    # what is published is what was reviewed: other content under that hash is refused
    tampered = copy.deepcopy(content)
    tampered["units"]["units"][0]["credits"] = "60.00"
    refused = await client.post(
        "/operate/standards/publish",
        data={
            "csrf_token": csrf_of(preview.text),
            "content": json.dumps(tampered),
            "content_hash": _hidden(preview.text, "content_hash"),
        },
    )
    assert refused.status_code == 409
    published = await client.post(
        "/operate/standards/publish",
        data={
            "csrf_token": csrf_of(preview.text),
            "content": _hidden(preview.text, "content"),
            "content_hash": _hidden(preview.text, "content_hash"),
        },
    )
    assert published.status_code == 303
    assert published.headers["location"] == "/operate/standards?done=published"
    after = await client.get("/operate/standards?done=published")
    assert 'data-in-force="demo/2099.1"' in after.text
    assert 'data-notice="published"' in after.text
    async with db.read_scope() as session:
        entries = await audit_service.read(
            session, OPERATOR, AuditFilter(action="standards.publish", limit=10)
        )
        assert [e.detail["version"] for e in entries] == ["2099.1"]

    # the same set again: already published, no publish button
    again = await client.post(
        "/operate/standards/preview",
        data={"csrf_token": csrf_of(after.text), "content": json.dumps(content)},
    )
    assert 'data-preview-status="published"' in again.text
    assert "/operate/standards/publish" not in again.text

    # applying it: compensating entries, then nothing left to change
    version = await client.get("/operate/standards/demo/2099.1")
    assert version.status_code == 200
    assert 'data-change="SEN-CAL-1:changed"' in version.text
    applied = await client.post(
        "/operate/standards/demo/2099.1/apply", data={"csrf_token": csrf_of(version.text)}
    )
    assert applied.status_code == 303
    settled = await client.get("/operate/standards/demo/2099.1")
    assert "data-no-changes" in settled.text

    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/operate/standards")
    assert "Standards versions" in english.text
    assert "Upload a new version" in english.text


async def test_the_standards_pages_are_the_operators_only(client, db, settings):
    demo = await load_story(db, settings)
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/operate/standards")).status_code == 403
    assert (await client.get("/operate/standards/demo/2024.1")).status_code == 403
    mine = await client.get("/me")
    content = await _next_version(db)
    for path, data in (
        ("/operate/standards/preview", {"content": json.dumps(content)}),
        ("/operate/standards/publish", {"content": json.dumps(content), "content_hash": "x"}),
        ("/operate/standards/demo/2024.1/apply", {}),
    ):
        refused = await client.post(path, data={"csrf_token": csrf_of(mine.text), **data})
        assert refused.status_code == 403, path
    # and no form without its CSRF token
    assert (
        await client.post("/operate/standards/preview", data={"content": "{}"})
    ).status_code == 403
    async with db.read_scope() as session:
        assert len(await standards_service.list_versions(session)) == 1


async def test_institution_admin_sees_the_catalog_mappings_it_owns(client, db, settings):
    demo = await load_story(db, settings)
    admin = demo["users"]["institution_admin"]
    await sign_in(client, admin["username"], admin["password"])
    page = await client.get("/institution/mappings")
    assert page.status_code == 200
    assert "课程映射" in page.text
    assert 'data-in-force="demo/2024.1"' in page.text
    row = re.search(
        r'data-mapping="https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment">'
        r".*?</tr>",
        page.text,
        re.S,
    )
    assert row, page.text
    assert "CERT-ELEC-4" in row.group(0)
    assert "6.0" in row.group(0)
    assert "syu3a.example.edu.cn" not in page.text  # only its own institution's
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/institution/mappings")
    assert "Catalog mappings" in english.text
    assert "Electrician skill certificate" in english.text

    client.cookies.clear()
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/institution/mappings")).status_code in (400, 403)
