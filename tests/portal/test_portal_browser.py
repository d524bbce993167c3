"""The li-na story walked in a real browser (Debian's Chromium through Playwright)
against a real ``creditbank serve`` on each database, in both languages, with
screenshots of the key pages and an axe-core accessibility check."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.acceptance.li_na import cli
from tests.imports.files import MAPPING, ROWS, csv_bytes

sync_api = pytest.importorskip("playwright.sync_api")
expect = sync_api.expect
axe_module = pytest.importorskip("axe_playwright_python.sync_playwright")

CHROMIUM = os.environ.get("CREDITBANK_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "portal"

pytestmark = [
    pytest.mark.server,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists()
        and shutil.which("chromium") is None
        and os.environ.get("CI", "").lower() not in {"1", "true", "yes"},
        reason="Debian's chromium is not installed (.ci/run installs it; in CI its absence fails)",
    ),
]


@pytest.fixture
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            headless=True,
            args=ARGS,
        )
        try:
            yield launched
        finally:
            launched.close()


def _shot(page: Any, name: str, dialect: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{dialect}-{name}.png"), full_page=True)


def _no_serious_violations(page: Any, where: str) -> None:
    results = axe_module.Axe().run(page)
    serious = [
        f"{v['id']} ({v['impact']}): {v['help']}"
        for v in results.response["violations"]
        if v.get("impact") in ("serious", "critical")
    ]
    assert not serious, f"{where}: {serious}"


def _sign_in(page: Any, url: str, user: dict[str, str]) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(user["username"])
    page.get_by_label("密码").fill(user["password"])
    page.get_by_role("button", name="登录").click()


def _figure(page: Any, name: str) -> str:
    text: str = page.locator(f'[data-figure="{name}"]').inner_text()
    return text.strip()


def test_li_na_story_in_a_browser(live_server, browser, settings):
    dialect = "sqlite" if settings.is_sqlite else "postgresql"
    demo_run = cli(["demo", "--json"], live_server.env)
    assert demo_run.returncode == 0, demo_run.stderr
    demo = json.loads(demo_run.stdout)
    url = live_server.url
    learner, certifier = demo["users"]["learner"], demo["users"]["certifier"]

    # -- a newcomer: home page, sign-in page, a missing page --------------------------------
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(url + "/")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "学分银行" in page.title()
    _no_serious_violations(page, "home")
    page.goto(url + "/login")
    _no_serious_violations(page, "login")
    _shot(page, "login-zh", dialect)
    missing = page.goto(url + "/no-such-page")
    assert missing is not None
    assert missing.status == 404
    expect(page.get_by_text("页面不存在")).to_be_visible()
    page.get_by_role("link", name="返回首页").click()
    assert page.url.rstrip("/") == url

    # -- 李娜: her credits, her ledger explained, in Chinese then English -------------------
    _sign_in(page, url, learner)
    page.wait_for_url(f"{url}/me")
    assert _figure(page, "banked") == "10.0"
    assert _figure(page, "available") == "4.0"
    assert page.locator("svg.chart").count() == 1
    _no_serious_violations(page, "balance")
    _shot(page, "balance-zh", dialect)
    page.get_by_role("link", name="学习成果").click()
    page.wait_for_url(f"{url}/me/outcomes")
    expect(page.get_by_text("CERT-ELEC-4")).to_be_visible()
    _no_serious_violations(page, "outcomes")
    page.get_by_role("link", name="学分账目").click()
    page.wait_for_url(f"{url}/me/ledger")
    _no_serious_violations(page, "ledger")
    page.locator('a[href^="/me/ledger/"]').first.click()
    page.wait_for_url(f"{url}/me/ledger/*")
    expect(page.get_by_text("R1 v1").first).to_be_visible()
    _shot(page, "entry-zh", dialect)
    page.get_by_role("link", name="学分转换").click()
    page.wait_for_url(f"{url}/me/conversions")
    expect(page.locator('[data-application="C2"]')).to_be_visible()
    _no_serious_violations(page, "conversions")
    # her transcript: issue it, open it, and the public verify page shows it valid
    page.get_by_role("link", name="我的证明").click()
    page.wait_for_url(f"{url}/me/transcripts")
    _no_serious_violations(page, "transcripts")
    page.get_by_role("button", name="签发新的学习成果证明").click()
    page.wait_for_url(f"{url}/me/transcripts/*")
    expect(page.locator('[data-status="valid"]').first).to_be_visible()
    expect(page.locator('tr[data-unit="CERT-ELEC-4"]')).to_be_visible()
    _no_serious_violations(page, "transcript")
    _shot(page, "transcript-zh", dialect)
    transcript_url = page.url
    page.get_by_role("link", name="打开公开验证页面").click()
    page.wait_for_url(f"{url}/verify/*")
    expect(page.locator('section[data-valid="true"]')).to_be_visible()
    expect(page.get_by_text("本证明证实的内容")).to_be_visible()
    _no_serious_violations(page, "verify")
    _shot(page, "verify-zh", dialect)
    # she shares only MOOC-PY-1 until a month from now; an employer opens the link
    page.goto(transcript_url)
    page.locator('input[name="outcome"][value="MOOC-PY-1"]').check()
    page.get_by_label("分享给（可选）").fill("某某科技公司")
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    page.get_by_label("有效期至").fill(until)
    page.get_by_role("button", name="创建分享").click()
    share_link = page.locator("[data-share-url]")
    expect(share_link).to_be_visible()
    share_url = share_link.inner_text().strip()
    assert "/verify/shares/" in share_url
    expect(page.locator("[data-share-sd-jwt]")).to_be_visible()
    assert page.locator('tr[data-state="active"]').count() == 1
    _no_serious_violations(page, "share-made")
    _shot(page, "share-made-zh", dialect)
    employer = browser.new_context(viewport={"width": 1200, "height": 900})
    verifier = employer.new_page()
    verifier.goto(url + share_url[share_url.index("/verify/shares/") :])
    expect(verifier.locator('section[data-valid="true"]')).to_be_visible()
    expect(verifier.get_by_text("本分享证实的内容")).to_be_visible()
    expect(verifier.locator('tr[data-unit="MOOC-PY-1"]')).to_be_visible()
    shown = verifier.locator("main").inner_text()
    for hidden in ("CERT-ELEC-4", "COMM-FA-16", "SEN-CAL-1", "HBOU-EE-101", "某某科技公司"):
        assert hidden not in shown, hidden
    _no_serious_violations(verifier, "verify-share")
    _shot(verifier, "verify-share-zh", dialect)
    # she revokes it: her list says revoked, the employer's page too
    page.locator('tr[data-state="active"]').get_by_role("button", name="撤销").click()
    expect(page.locator('tr[data-state="revoked"]')).to_be_visible()
    verifier.reload()
    expect(verifier.locator('section[data-share-status="revoked"]')).to_be_visible()
    assert verifier.locator('tr[data-unit="MOOC-PY-1"]').count() == 0
    _shot(verifier, "verify-share-revoked-zh", dialect)
    employer.close()
    page.goto(f"{url}/verify")
    page.get_by_label("粘贴证明").fill("eyJhbGciOiJub25lIn0.e30.")
    page.get_by_role("button", name="验证").click()
    expect(page.locator('section[data-valid="false"]')).to_be_visible()
    page.get_by_role("link", name="学分转换").click()
    page.wait_for_url(f"{url}/me/conversions")
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Credit conversion")).to_be_visible()
    page.get_by_role("link", name="My credits").click()
    page.wait_for_url(f"{url}/me")
    expect(page.locator("dt", has_text="Banked")).to_be_visible()
    _shot(page, "balance-en", dialect)
    page.set_viewport_size({"width": 390, "height": 844})
    _shot(page, "balance-en-phone", dialect)
    page.get_by_role("button", name="Sign out").click()
    context.close()

    # -- 王老师: the queue, C2's evidence, a reason is required, approval --------------------
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    _sign_in(page, url, certifier)
    page.wait_for_url(f"{url}/certify")
    expect(page.locator('[data-application="C2"]')).to_be_visible()
    _no_serious_violations(page, "queue")
    _shot(page, "queue-zh", dialect)
    page.locator('[data-application="C2"] a').click()
    page.wait_for_url(f"{url}/certify/*")
    expect(page.get_by_text("MOOC-PY-1").first).to_be_visible()
    expect(page.get_by_text("0.91").first).to_be_visible()
    _no_serious_violations(page, "application")
    page.get_by_label("批准").check()
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator("#reason-error")).to_be_visible()
    page.get_by_label("理由").fill("Python 成绩 0.91，符合 C2")
    page.get_by_role("button", name="提交决定").click()
    expect(page.locator('[data-status="approved"]')).to_be_visible()
    _shot(page, "application-approved-zh", dialect)
    context.close()

    # The server of this test runs no worker: post the conversion with one worker pass.
    worker = cli(["worker", "--once"], live_server.env)
    assert worker.returncode == 0, worker.stderr

    context = browser.new_context(viewport={"width": 390, "height": 844})
    page = context.new_page()
    _sign_in(page, url, learner)
    page.wait_for_url(f"{url}/me")
    assert _figure(page, "banked") == "10.0"
    assert _figure(page, "available") == "2.0"
    _shot(page, "balance-after-c2-phone-zh", dialect)
    context.close()

    # -- fxvs's administrator: a new LRS credential, its secret shown once ------------------
    admin = demo["users"]["institution_admin"]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    _sign_in(page, url, admin)
    page.wait_for_url(f"{url}/institution")
    expect(page.locator('[data-credential="fxvs-demo"]')).to_be_visible()
    _no_serious_violations(page, "credentials")
    page.get_by_label("名称").fill("Moodle")
    page.get_by_role("button", name="新建凭据").click()
    expect(page.locator("[data-credential-secret]")).to_be_visible()
    _shot(page, "credentials-zh", dialect)
    page.goto(f"{url}/institution")
    assert page.locator("[data-credential-secret]").count() == 0
    # ... and imports a GB18030 CSV: a wrong row is shown in the preview and blocks the
    # commit; the corrected file (the mapping of the first upload reused) is committed
    page.get_by_role("link", name="导入 CSV/Excel 文件").click()
    page.wait_for_url(f"{url}/institution/imports")
    _no_serious_violations(page, "imports")
    bad_row = ["2024009", "", "通过", "abc", "1", "2024-03-01"]
    page.get_by_label("CSV 或 Excel 文件").set_input_files(
        files=[
            {
                "name": "成绩.csv",
                "mimeType": "text/csv",
                "buffer": csv_bytes([*ROWS, bad_row], encoding="gb18030"),
            }
        ]
    )
    page.get_by_label("列映射文件（YAML）").set_input_files(
        files=[{"name": "mapping.yaml", "mimeType": "application/yaml", "buffer": MAPPING.encode()}]
    )
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_url(f"{url}/institution/imports/*")
    assert _figure(page, "errors") == "2"
    expect(page.get_by_text("课程代码为空")).to_be_visible()
    assert page.get_by_role("button", name="确认导入").count() == 0
    _no_serious_violations(page, "import-errors")
    _shot(page, "import-errors-zh", dialect)
    page.get_by_role("link", name="返回导入列表").click()
    page.wait_for_url(f"{url}/institution/imports")
    page.get_by_label("CSV 或 Excel 文件").set_input_files(
        files=[
            {"name": "成绩.csv", "mimeType": "text/csv", "buffer": csv_bytes(encoding="gb18030")}
        ]
    )
    assert page.get_by_label("沿用最近一次导入").is_checked()
    page.get_by_role("button", name="上传并预览").click()
    page.wait_for_url(f"{url}/institution/imports/*")
    assert (_figure(page, "new"), _figure(page, "errors")) == ("3", "0")
    page.get_by_role("button", name="确认导入").click()
    page.wait_for_url("**done=committed")
    assert _figure(page, "created") == "3"
    _no_serious_violations(page, "import-result")
    _shot(page, "import-committed-zh", dialect)
    context.close()

    # -- the operator: institutions and accreditation, in English ---------------------------
    operator = demo["users"]["operator"]
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    _sign_in(page, url, operator)
    page.wait_for_url(f"{url}/operate/institutions")
    page.get_by_role("link", name="English").click()
    shady = page.locator('[data-institution="shady"]')
    expect(shady).to_contain_text("Not accredited")
    _no_serious_violations(page, "institutions")
    _shot(page, "institutions-en", dialect)
    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{url}/operate/dashboard")
    assert float(_figure(page, "recognised")) > 0
    assert page.locator("section[data-chart] svg").count() >= 6
    _no_serious_violations(page, "dashboard")
    _shot(page, "dashboard-en", dialect)
    context.close()
