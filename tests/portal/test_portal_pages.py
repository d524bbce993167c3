"""The portal over real HTTP (ASGI) on both databases: sign-in, the learner's and the
certifier's pages, authorization per page, CSRF, cookies, headers and error pages."""

from __future__ import annotations

import re
import time

import pytest

from api.portal import session as portal_cookies
from creditbank.config import Settings
from creditbank.demo import tell_the_story
from tests.portal.helpers_portal import (
    csrf_of,
    figure,
    load_story,
    sign_in,
    sign_in_as_another_learner,
)
from workers.runner import Worker


def _search(pattern: str, text: str, flags: int = 0) -> re.Match[str]:
    found = re.search(pattern, text, flags)
    assert found is not None, pattern
    return found


async def test_home_is_a_bilingual_page_with_strict_headers(client):
    response = await client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in response.text
    assert "学分银行" in response.text
    csp = response.headers["content-security-policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"]
    # the CSRF nonce cookie is HttpOnly and SameSite
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie

    english = await client.get("/lang", params={"to": "en", "next": "/"})
    assert english.status_code == 303
    again = await client.get("/")
    assert '<html lang="en">' in again.text
    assert "Welcome to the credit bank" in again.text


async def test_api_paths_keep_json_errors_and_portal_paths_get_html(client):
    api = await client.get("/api/v1/nope")
    assert api.status_code == 404
    assert api.json()["error"] == "not_found"
    method = await client.get("/api/v1/auth/login")
    assert method.status_code == 405
    page = await client.get("/nope")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "页面不存在" in page.text
    assert "This page does not exist" in page.text
    assert 'href="/"' in page.text


async def test_redirect_targets_stay_on_this_site(client):
    assert portal_cookies.safe_next("https://evil.example/") == "/"
    assert portal_cookies.safe_next("//evil.example/") == "/"
    assert portal_cookies.safe_next("/me/ledger") == "/me/ledger"
    response = await client.get("/lang", params={"to": "en", "next": "//evil.example"})
    assert response.headers["location"] == "/"


async def test_signed_pages_redirect_to_sign_in(client):
    response = await client.get("/me/ledger")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2Fme%2Fledger")


async def test_a_form_without_its_csrf_token_is_refused(client, db, settings):
    await load_story(db, settings)
    response = await client.post("/login", data={"username": "lina", "password": "x"})
    assert response.status_code == 403
    assert "表单已过期" in response.text
    forged = await client.post(
        "/login", data={"username": "lina", "password": "x", "csrf_token": "forged"}
    )
    assert forged.status_code == 403


async def test_sign_in_errors_show_next_to_the_field(client, db, settings):
    await load_story(db, settings)
    form = await client.get("/login")
    response = await client.post(
        "/login", data={"csrf_token": csrf_of(form.text), "username": "lina", "password": ""}
    )
    assert response.status_code == 400
    assert 'id="password-error"' in response.text
    assert 'aria-invalid="true"' in response.text
    wrong = await client.post(
        "/login",
        data={"csrf_token": csrf_of(form.text), "username": "lina", "password": "wrong-pass"},
    )
    assert wrong.status_code == 400
    assert "用户名或密码错误" in wrong.text


async def test_li_na_sees_her_story_and_signs_out(client, db, settings):
    demo = await load_story(db, settings)
    learner = demo["users"]["learner"]
    signed = await sign_in(client, learner["username"], learner["password"])
    assert signed.status_code == 303
    assert signed.headers["location"] == "/me"
    session_cookie = next(
        c for c in signed.headers.get_list("set-cookie") if c.startswith("cb_session=")
    ).lower()
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "secure" not in session_cookie  # not in test; Secure in prod

    balance = await client.get("/me")
    assert balance.status_code == 200
    assert balance.headers["cache-control"] == "no-store"
    assert figure(balance.text, "banked") == "10.0"
    assert figure(balance.text, "available") == "4.0"
    assert "<svg" in balance.text
    assert "HBOU-EE-101" in balance.text

    outcomes = await client.get("/me/outcomes")
    for unit in ("CERT-ELEC-4", "MOOC-PY-1", "COMM-FA-16", "SEN-CAL-1"):
        assert unit in outcomes.text
    assert "MOOC-DS-1" not in outcomes.text
    assert "0.82" in outcomes.text

    ledger = await client.get("/me/ledger")
    entry_ids = re.findall(r'href="/me/ledger/([0-9a-f-]{36})"', ledger.text)
    assert len(entry_ids) == 5  # four deposits and the C1 conversion
    first = await client.get(f"/me/ledger/{entry_ids[0]}")
    assert first.status_code == 200
    assert "R1 v1" in first.text
    assert demo["story"]["statements"][0] in first.text

    conversions = await client.get("/me/conversions")
    assert 'data-application="C1"' in conversions.text
    assert 'data-application="C2"' in conversions.text
    assert "已批准" in conversions.text
    assert "待审核" in conversions.text

    inbox = await client.get("/me/inbox")
    assert inbox.status_code == 200

    links = await client.get("/me/links")
    assert "fxvs.example.edu.cn" in links.text
    code = await client.post(
        "/me/links/consent-code", data={"csrf_token": csrf_of(links.text), "institution": "fxvs"}
    )
    assert code.status_code == 200
    assert re.search(r"data-consent-code>[^<]{6,}<", code.text)
    unknown = await client.post(
        "/me/links/consent-code", data={"csrf_token": csrf_of(links.text), "institution": "zz"}
    )
    assert unknown.status_code == 400
    assert 'id="institution-error"' in unknown.text

    export = await client.get("/me/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["content-disposition"]

    await client.get("/lang", params={"to": "en", "next": "/me"})
    english = await client.get("/me")
    assert "Banked" in english.text
    assert "Available" in english.text

    out = await client.post("/logout", data={"csrf_token": csrf_of(english.text)})
    assert out.status_code == 303
    # the sign-in is revoked: replaying the old cookie is anonymous
    client.cookies.set("cb_session", session_cookie.split(";")[0].split("=", 1)[1])
    after = await client.get("/me")
    assert after.status_code == 303


async def test_another_learner_never_sees_li_na_by_changing_an_id(client, db, settings):
    demo = await load_story(db, settings)
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    ledger = await client.get("/me/ledger")
    entry_id = re.findall(r'href="/me/ledger/([0-9a-f-]{36})"', ledger.text)[0]
    conversions = await client.get("/me/conversions")
    application_id = re.findall(r"/me/applications/([0-9a-f-]{36})/", conversions.text)[0]
    await client.post("/logout", data={"csrf_token": csrf_of(conversions.text)})

    await sign_in_as_another_learner(client, db, settings, "zhangwei")
    mine = await client.get("/me")
    assert figure(mine.text, "banked") == "0.0"
    theirs = await client.get(f"/me/ledger/{entry_id}")
    assert theirs.status_code == 404
    assert "10.0" not in theirs.text
    queue = await client.get(f"/certify/{application_id}")
    assert queue.status_code in (403, 404)
    assert "CERT-ELEC-4" not in queue.text
    withdraw = await client.post(
        f"/me/applications/{application_id}/withdraw", data={"csrf_token": csrf_of(mine.text)}
    )
    assert withdraw.status_code == 403


async def test_certifier_decides_c2_with_a_reason(client, db, settings):
    demo = await load_story(db, settings)
    certifier = demo["users"]["certifier"]
    signed = await sign_in(client, certifier["username"], certifier["password"])
    assert signed.headers["location"] == "/certify"
    queue = await client.get("/certify")
    assert 'data-application="C2"' in queue.text
    assert 'data-application="C1"' not in queue.text  # decided
    filtered = await client.get("/certify", params={"min_credits": "3"})
    assert 'data-application="C2"' not in filtered.text
    application_id = re.findall(r'href="/certify/([0-9a-f-]{36})"', queue.text)[0]
    page = await client.get(f"/certify/{application_id}")
    assert "MOOC-PY-1" in page.text
    assert "0.91" in page.text
    assert "荆楚慕课" in page.text
    assert "已认证" in page.text
    assert "需要 1 人批准" in page.text

    missing = await client.post(
        f"/certify/{application_id}/decision",
        data={"csrf_token": csrf_of(page.text), "decision": "approve", "reason": ""},
    )
    assert missing.status_code == 400
    assert 'id="reason-error"' in missing.text
    decided = await client.post(
        f"/certify/{application_id}/decision",
        data={"csrf_token": csrf_of(page.text), "decision": "approve", "reason": "成绩 0.91"},
    )
    assert decided.status_code == 303
    after = await client.get(decided.headers["location"])
    assert 'data-status="approved"' in after.text
    await Worker(db, settings).drain()

    await client.post("/logout", data={"csrf_token": csrf_of(after.text)})
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    balance = await client.get("/me")
    assert figure(balance.text, "banked") == "10.0"
    assert figure(balance.text, "available") == "2.0"


async def test_the_demo_story_is_idempotent(client, db, settings):
    demo = await load_story(db, settings)
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    before = (await client.get("/me/ledger")).text
    again = await tell_the_story(db, settings, demo, Worker(db, settings).drain)
    assert again["applications"] == demo["story"]["applications"]
    after = (await client.get("/me/ledger")).text
    assert re.findall(r"/me/ledger/[0-9a-f-]{36}", after) == re.findall(
        r"/me/ledger/[0-9a-f-]{36}", before
    )


def test_an_idle_sign_in_expires():
    settings = Settings(env="test")
    fresh = portal_cookies.encode_session(settings, "token")
    assert portal_cookies.decode_session(settings, fresh) is not None
    idle = settings.security.portal_idle_seconds + 5
    old = portal_cookies.encode_session(settings, "token", now=int(time.time()) - idle)
    assert portal_cookies.decode_session(settings, old) is None
    tampered = fresh[:-2] + ("AA" if not fresh.endswith("AA") else "BB")
    assert portal_cookies.decode_session(settings, tampered) is None


@pytest.mark.parametrize("path", ["/me/ledger/not-a-uuid", "/certify/not-a-uuid"])
async def test_malformed_ids_are_html_404(client, path, db, settings):
    await load_story(db, settings)
    await sign_in(client, "lina", (await _password(settings, "lina")))
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")


async def _password(settings: Settings, username: str) -> str:
    from creditbank.demo import demo_password

    return demo_password(settings, username)


async def test_institution_admin_manages_its_credentials(client, db, settings):
    demo = await load_story(db, settings)
    admin = demo["users"]["institution_admin"]
    signed = await sign_in(client, admin["username"], admin["password"])
    assert signed.headers["location"] == "/institution"
    page = await client.get("/institution")
    assert page.status_code == 200
    assert 'data-credential="fxvs-demo"' in page.text
    assert "mooc1-demo" not in page.text  # only its own institution's
    none = await client.post("/institution/credentials", data={"csrf_token": csrf_of(page.text)})
    assert none.status_code == 400
    assert 'id="scopes-error"' in none.text
    made = await client.post(
        "/institution/credentials",
        data={"csrf_token": csrf_of(page.text), "label": "LMS", "scopes": "statements/write"},
    )
    assert made.status_code == 200
    key = _search(r"data-credential-key>([^<]+)<", made.text).group(1)
    secret = _search(r"data-credential-secret>([^<]+)<", made.text).group(1)
    # the new credential works at the LRS, and its secret is never shown again
    about = await client.get(
        "/xapi/statements",
        params={"limit": 1},
        auth=(key, secret),
        headers={"X-Experience-API-Version": "1.0.3"},
    )
    assert about.status_code in (200, 403)  # authenticated (write-only may not read)
    again = await client.get("/institution")
    assert secret not in again.text
    credential_id = _search(
        rf'data-credential="{re.escape(key)}">.*?/institution/credentials/([0-9a-f-]{{36}})/revoke',
        again.text,
        re.S,
    ).group(1)
    revoked = await client.post(
        f"/institution/credentials/{credential_id}/revoke",
        data={"csrf_token": csrf_of(again.text)},
    )
    assert revoked.status_code == 303
    refused = await client.get(
        "/xapi/statements", auth=(key, secret), headers={"X-Experience-API-Version": "1.0.3"}
    )
    assert refused.status_code == 401
    # a learner has no institution page
    await client.post("/logout", data={"csrf_token": csrf_of(again.text)})
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/institution")).status_code in (400, 403)
    mine = await client.get("/me")
    refused = await client.post(
        "/operate/institutions/shady/accreditation",
        data={"csrf_token": csrf_of(mine.text), "accredited": "yes"},
    )
    assert refused.status_code == 403
    assert "您无权查看此页面" in refused.text


async def test_operator_sees_institutions_and_accreditation(client, db, settings):
    demo = await load_story(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/institutions")
    assert page.status_code == 200
    shady = _search(r'data-institution="shady">.*?</tr>', page.text, re.S).group(0)
    assert "未认证" in shady
    done = await client.post(
        "/operate/institutions/shady/accreditation",
        data={"csrf_token": csrf_of(page.text), "accredited": "yes"},
    )
    assert done.status_code == 303
    after = await client.get("/operate/institutions")
    shady = _search(r'data-institution="shady">.*?</tr>', after.text, re.S).group(0)
    assert "已认证" in shady


async def test_operator_dashboard_shows_the_story_in_charts_tables_and_csv(client, db, settings):
    demo = await load_story(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/dashboard")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    assert "数字驾驶舱" in page.text
    # 李娜's story: statements 1-7 recognised, C1 (approved) and C2 (pending) applied
    assert float(figure(page.text, "recognised")) > 0
    assert float(figure(page.text, "converted")) > 0
    assert figure(page.text, "approval-rate") == "100.0"
    assert int(figure(page.text, "statements")) >= 7
    assert int(figure(page.text, "learners")) >= 1
    assert page.text.count("<svg") >= 6
    assert "房县" in page.text  # the demo institutions' regions
    assert "职业院校" in page.text
    assert "<script" not in page.text
    assert "style=" not in page.text

    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/operate/dashboard")
    assert '<html lang="en">' in english.text
    assert "Credits recognised by region" in english.text
    assert "Fang County" in english.text

    csv_answer = await client.get("/operate/dashboard/by_region.csv")
    assert csv_answer.status_code == 200
    assert csv_answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_answer.headers["content-disposition"]
    lines = csv_answer.text.lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Region,")
    assert any(line.startswith("Fang County,") for line in lines[1:])
    assert (await client.get("/operate/dashboard/nope.csv")).status_code == 404


async def test_the_dashboard_is_the_operators_only(client, db, settings):
    demo = await load_story(db, settings)
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    refused = await client.get("/operate/dashboard")
    assert refused.status_code == 403
    assert "您无权查看此页面" in refused.text
    assert (await client.get("/operate/dashboard/statements.csv")).status_code == 403


async def test_operator_searches_the_audit_log(client, db, settings):
    demo = await load_story(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/audit")
    assert page.status_code == 200
    assert "审计日志" in page.text
    assert "data-audit=" in page.text
    found = await client.get("/operate/audit", params={"object_type": "nothing-like-this"})
    assert "data-audit=" not in found.text
    assert "暂无数据" in found.text
    bad = await client.get("/operate/audit", params={"since": "yesterday"})
    assert bad.status_code == 400
    assert 'id="since-error"' in bad.text
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/operate/audit", params={"since": "2000-01-01"})
    assert '<html lang="en">' in english.text
    assert "Audit log" in english.text
    assert "data-audit=" in english.text

    client.cookies.clear()
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/operate/audit")).status_code == 403


async def test_operator_replays_a_dead_letter(client, db, settings):
    from datetime import timedelta

    from creditbank.jobs.service import jobs as jobs_service

    demo = await load_story(db, settings)
    async with db.session_scope() as session:
        await jobs_service.enqueue(session, "portal.test", {"n": 1})
    async with db.session_scope() as session:
        claimed = await jobs_service.claim(
            session, worker_id="t", limit=100, lease=timedelta(minutes=1)
        )
        mine = next(j for j in claimed if j.name == "portal.test")
        await jobs_service.fail(
            session, mine, "boom: no such handler", backoff_base_seconds=1, permanent=True
        )
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/jobs")
    assert page.status_code == 200
    assert "任务队列与死信" in page.text
    assert "boom: no such handler" in page.text
    assert f'data-dead-job="{mine.id}"' in page.text
    replayed = await client.post(
        f"/operate/jobs/{mine.id}/replay", data={"csrf_token": csrf_of(page.text)}
    )
    assert replayed.status_code == 303
    after = await client.get("/operate/jobs?done=replayed")
    assert f'data-dead-job="{mine.id}"' not in after.text
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/operate/jobs")
    assert "Job queue and dead letters" in english.text

    client.cookies.clear()
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/operate/jobs")).status_code == 403


async def test_operator_sees_the_signing_keys(client, db, settings):
    demo = await load_story(db, settings)
    operator = demo["users"]["operator"]
    await sign_in(client, operator["username"], operator["password"])
    page = await client.get("/operate/keys")
    assert page.status_code == 200
    assert "账本检查点签名密钥" in page.text
    assert "当前密钥" in page.text
    assert "data-key=" in page.text
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/operate/keys")
    assert "Ledger checkpoint signing keys" in english.text
    client.cookies.clear()
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/operate/keys")).status_code == 403


async def test_institution_admin_sees_its_ingest_statistics(client, db, settings):
    demo = await load_story(db, settings)
    admin = demo["users"]["institution_admin"]
    await sign_in(client, admin["username"], admin["password"])
    page = await client.get("/institution/ingest")
    assert page.status_code == 200
    assert "数据接入统计" in page.text
    assert int(figure(page.text, "statements")) >= 1
    assert int(figure(page.text, "evaluated")) >= 1
    await client.get("/lang", params={"to": "en", "next": "/"})
    english = await client.get("/institution/ingest")
    assert "Ingest statistics" in english.text
    client.cookies.clear()
    learner = demo["users"]["learner"]
    await sign_in(client, learner["username"], learner["password"])
    assert (await client.get("/institution/ingest")).status_code in (400, 403)
