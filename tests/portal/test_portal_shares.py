"""The learner shares a transcript from her page (selective disclosure, an end date),
sees and revokes her shares; the employer opens the share's link without signing in
and sees only what was disclosed. Over real HTTP (ASGI) on both databases."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.portal.pages.transcripts import share_state
from creditbank.audit.models import AuditEntry
from tests.portal.helpers_portal import csrf_of, load_story, sign_in, sign_in_as_another_learner

TRANSCRIPT = re.compile(r"/me/transcripts/([0-9a-f-]{36})")
SHARE_LINK = re.compile(r"data-share-url>(http[^<]+/verify/shares/([0-9a-f-]{36}))<")
#: An outcome row of the transcript view: its unit, title and institution.
OUTCOME_ROW = re.compile(
    r'<tr data-unit="([^"]+)">\s*<td><span class="code">[^<]+</span> ([^<]+)</td>'
    r"\s*<td>([^<]*)</td>"
)
DISCLOSED = "MOOC-PY-1"
UNDISCLOSED = ("CERT-ELEC-4", "COMM-FA-16", "SEN-CAL-1", "HBOU-EE-101")


def _later(days: int = 30) -> str:
    return (datetime.now(UTC).date() + timedelta(days=days)).isoformat()


async def _her_transcript(client: httpx.AsyncClient, demo: dict[str, Any]) -> tuple[str, str]:
    """李娜 signed in, a transcript issued: ``(its id, its page's HTML)``."""
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    listing = await client.get("/me/transcripts")
    issued = await client.post("/me/transcripts", data={"csrf_token": csrf_of(listing.text)})
    assert issued.status_code == 303
    found = TRANSCRIPT.search(issued.headers["location"])
    assert found
    page = await client.get(issued.headers["location"])
    assert page.status_code == 200
    return found.group(1), page.text


async def _share(
    client: httpx.AsyncClient, transcript_id: str, html: str, **fields: object
) -> httpx.Response:
    data: dict[str, object] = {"csrf_token": csrf_of(html), **fields}
    return await client.post(f"/me/transcripts/{transcript_id}/shares", data=data)


async def test_li_na_shares_one_outcome_and_the_employer_sees_only_it(
    client, db, settings, session: AsyncSession
):
    demo = await load_story(db, settings)
    transcript_id, html = await _her_transcript(client, demo)
    rows = {
        unit: (title.strip(), place.strip()) for unit, title, place in OUTCOME_ROW.findall(html)
    }
    assert DISCLOSED in rows
    assert 'action="/me/transcripts/' in html
    assert "我的分享" in html

    made = await _share(
        client, transcript_id, html, outcome=DISCLOSED, audience="某某科技公司", expires=_later()
    )
    assert made.status_code == 200, made.text
    assert "分享已创建" in made.text
    link = SHARE_LINK.search(made.text)
    assert link, "the share link is shown"
    url, share_id = link.groups()
    assert "data-share-sd-jwt>" in made.text  # the SD-JWT to copy
    sd_jwt = re.search(r"data-share-sd-jwt>([^<]+)<", made.text)
    assert sd_jwt
    assert sd_jwt.group(1).endswith("~")
    # and to download, the file the API's share URL answers
    file = await client.get(f"/me/transcripts/{transcript_id}/shares/{share_id}.sd-jwt")
    assert file.status_code == 200
    assert file.text == sd_jwt.group(1)
    assert f"share-{share_id}.sd-jwt" in file.headers["content-disposition"]
    # the list: created, audience, end date, what is disclosed, active
    row = re.search(
        rf'<tr id="share-{share_id}"[^>]*data-state="(\w+)">(.*?)</tr>', made.text, re.S
    )
    assert row, "the share is listed"
    assert row.group(1) == "active"
    assert "某某科技公司" in row.group(2)
    assert _later() in row.group(2)
    assert DISCLOSED in row.group(2)
    assert "有效" in row.group(2)
    assert f'href="/verify/shares/{share_id}"' in row.group(2)
    # shown once: the page opened again lists it, without the SD-JWT
    again = await client.get(f"/me/transcripts/{transcript_id}")
    assert f'id="share-{share_id}"' in again.text
    assert "data-share-sd-jwt" not in again.text

    # the employer, not signed in, opens the link, in Chinese then in English
    employer = httpx.AsyncClient(transport=client._transport, base_url="http://testserver")
    async with employer:
        path = url[url.index("/verify/shares/") :]
        zh = await employer.get(path)
        assert zh.status_code == 200, zh.text
        assert 'data-valid="true"' in zh.text
        assert "终身学习学分银行" in zh.text
        assert "本分享证实的内容" in zh.text
        assert f'data-unit="{DISCLOSED}"' in zh.text
        await employer.get("/lang", params={"to": "en", "next": "/"})
        en = await employer.get(path)
        assert '<html lang="en">' in en.text
        assert "What this share proves" in en.text
        assert "Lifelong Learning Credit Bank" in en.text
        assert DISCLOSED in en.text
        for text in (zh.text, en.text):
            for unit in UNDISCLOSED:
                assert unit not in text, unit
                if unit in rows:
                    assert rows[unit][0] not in text, rows[unit][0]
            assert 'data-figure="transcript-banked"' not in text  # totals not disclosed
            assert "10.0" not in text
            assert "HBOU-EE-101" not in text
            assert "某某科技公司" not in text  # whom she shared it with is hers
        assert rows[DISCLOSED][0] in zh.text

        # she revokes it: the list says so, the link says revoked and shows no claim
        revoked = await client.post(
            f"/me/transcripts/{transcript_id}/shares/{share_id}/revoke",
            data={"csrf_token": csrf_of(again.text)},
        )
        assert revoked.status_code == 303
        listed = await client.get(revoked.headers["location"])
        assert "分享已撤销" in listed.text
        assert re.search(rf'<tr id="share-{share_id}"[^>]*data-state="revoked"', listed.text)
        assert f"/shares/{share_id}/revoke" not in listed.text
        gone = await client.get(f"/me/transcripts/{transcript_id}/shares/{share_id}.sd-jwt")
        assert gone.status_code == 404

        after = await employer.get(path)
        assert after.status_code == 200
        assert 'data-valid="false"' in after.text
        assert 'data-share-status="revoked"' in after.text
        assert "Revoked" in after.text
        assert f'data-unit="{DISCLOSED}"' not in after.text
        await employer.get("/lang", params={"to": "zh-CN", "next": "/"})
        after_zh = await employer.get(path)
        assert "已撤销" in after_zh.text
        assert DISCLOSED not in after_zh.text

    audited = (
        await session.execute(select(AuditEntry.action).where(AuditEntry.object_id == share_id))
    ).scalars()
    assert sorted(audited) == ["transcript.share", "transcript.share_revoke"]


async def test_another_learner_can_neither_see_nor_revoke_her_share(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, html = await _her_transcript(client, demo)
    made = await _share(client, transcript_id, html, outcome=DISCLOSED, expires=_later())
    link = SHARE_LINK.search(made.text)
    assert link
    share_id = link.group(2)
    await sign_in_as_another_learner(client, db, settings, "zhangwei-s")
    mine = await client.get("/me/transcripts")
    csrf = csrf_of(mine.text)
    for method, path, data in (
        ("GET", f"/me/transcripts/{transcript_id}", None),
        ("GET", f"/me/transcripts/{transcript_id}/shares/{share_id}.sd-jwt", None),
        ("POST", f"/me/transcripts/{transcript_id}/shares/{share_id}/revoke", {"csrf_token": csrf}),
        (
            "POST",
            f"/me/transcripts/{transcript_id}/shares",
            {"csrf_token": csrf, "outcome": DISCLOSED, "expires": _later()},
        ),
    ):
        response = await client.request(method, path, data=data)
        assert response.status_code in (403, 404), path
        assert response.headers["content-type"].startswith("text/html")
        assert share_id not in response.text
    # still valid: nothing he did revoked it
    page = await client.get(f"/verify/shares/{share_id}")
    assert 'data-valid="true"' in page.text


async def test_the_share_form_refuses_with_field_errors(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, html = await _her_transcript(client, demo)
    today = datetime.now(UTC).date().isoformat()

    nothing = await _share(client, transcript_id, html, expires=_later())
    assert nothing.status_code == 400
    assert 'id="disclose-error"' in nothing.text
    assert "请至少选择一项要披露的内容" in nothing.text

    past = await _share(client, transcript_id, html, outcome=DISCLOSED, expires=today)
    assert past.status_code == 400
    assert re.search(r'id="expires-error">有效期必须晚于今天', past.text)
    assert 'aria-invalid="true" aria-describedby="expires-error"' in past.text
    # what she chose is kept
    assert f'value="{DISCLOSED}" checked' in past.text

    for bad in ("not-a-date", "2026-02-30", ""):
        refused = await _share(client, transcript_id, html, outcome=DISCLOSED, expires=bad)
        assert refused.status_code == 400, bad
        assert 'id="expires-error"' in refused.text

    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await _share(client, transcript_id, html, outcome="NO-SUCH-UNIT", expires="x")
    assert english.status_code == 400
    assert "Enter a valid date." in english.text
    unknown = await _share(client, transcript_id, html, outcome="NO-SUCH-UNIT", expires=_later())
    assert unknown.status_code == 400
    assert 'id="disclose-error"' in unknown.text
    assert "no longer in this transcript" in unknown.text
    too_long = await _share(
        client, transcript_id, html, outcome=DISCLOSED, audience="x" * 501, expires=_later()
    )
    assert too_long.status_code == 400
    assert 'id="audience-error">At most 500 characters.' in too_long.text

    # none of these made a share
    listed = await client.get(f"/me/transcripts/{transcript_id}")
    assert 'data-share="' not in listed.text


async def test_share_forms_without_the_csrf_token_are_refused(client, db, settings):
    demo = await load_story(db, settings)
    transcript_id, html = await _her_transcript(client, demo)
    made = await _share(client, transcript_id, html, outcome=DISCLOSED, expires=_later())
    link = SHARE_LINK.search(made.text)
    assert link
    share_id = link.group(2)
    forged = await client.post(
        f"/me/transcripts/{transcript_id}/shares",
        data={"outcome": DISCLOSED, "expires": _later()},
    )
    assert forged.status_code == 403
    wrong = await client.post(
        f"/me/transcripts/{transcript_id}/shares/{share_id}/revoke",
        data={"csrf_token": "forged"},
    )
    assert wrong.status_code == 403
    listed = await client.get(f"/me/transcripts/{transcript_id}")
    assert len(re.findall(r'<tr id="share-', listed.text)) == 1
    assert re.search(rf'<tr id="share-{share_id}"[^>]*data-state="active"', listed.text)


async def test_an_unknown_share_is_a_bilingual_not_found(client, db, settings):
    await load_story(db, settings)
    unknown = await client.get(f"/verify/shares/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("text/html")
    assert "没有这个分享。" in unknown.text
    assert "There is no such share." in unknown.text
    not_an_id = await client.get("/verify/shares/nope")
    assert not_an_id.status_code == 404
    assert not_an_id.headers["content-type"].startswith("text/html")


def test_a_share_state_is_revoked_expired_or_active():
    now = datetime(2026, 12, 3, tzinfo=UTC)
    day = timedelta(days=1)
    assert share_state(None, now + day, "valid", now) == "active"
    assert share_state(None, None, "valid", now) == "active"
    assert share_state(None, now - day, "valid", now) == "expired"
    assert share_state(now, now + day, "valid", now) == "revoked"
    assert share_state(None, now + day, "revoked", now) == "revoked"
    assert share_state(None, now + day, "suspended", now) == "suspended"
    assert date.fromisoformat(_later()) > now.date()
