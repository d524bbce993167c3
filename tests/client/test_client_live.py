"""creditbank.client against a real ``creditbank serve`` and worker, on both databases."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from creditbank.client import CreditBankClient, CreditBankError, Document, StatementConflict
from creditbank.config import Settings
from creditbank.db import Database
from tests.acceptance.li_na import PASSED, Bank, login, run_bank

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parents[2]
CERT = "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment"


@pytest.fixture
def bank(settings: Settings, db: Database, tmp_path: Path) -> Iterator[Bank]:
    yield from run_bank(settings, tmp_path)


def fxvs(bank: Bank, **kwargs) -> CreditBankClient:
    item = bank.demo["institutions"]["fxvs"]
    return CreditBankClient(bank.url, key=item["lrs_key"], secret=item["lrs_secret"], **kwargs)


def lina_fxvs(bank: Bank) -> dict[str, Any]:
    account = next(
        a["account"] for a in bank.demo["users"]["learner"]["linked_accounts"]
        if a["institution"] == "fxvs"
    )  # fmt: skip
    return {"objectType": "Agent", "account": account}


def statement(actor: dict[str, Any], registration: str, n: int = 0) -> dict[str, Any]:
    return {
        "actor": actor,
        "verb": {"id": PASSED, "display": {"en-US": "passed"}},
        "object": {"objectType": "Activity", "id": f"https://fxvs.example.edu.cn/quiz/{n}"},
        "context": {"registration": registration},
    }


def test_the_client_needs_nothing_of_the_server_but_httpx(bank: Bank):
    """Imported with every server dependency and server package blocked."""
    item = bank.demo["institutions"]["fxvs"]
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys
        BLOCKED = {{"fastapi", "starlette", "sqlalchemy", "pydantic", "pydantic_settings",
                   "alembic", "asyncpg", "aiosqlite", "orjson", "yaml", "jinja2", "jwt",
                   "cryptography", "argon2", "openpyxl", "rich", "api", "workers"}}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                top = name.split(".")[0]
                if top in BLOCKED or (top == "creditbank" and name not in
                        ("creditbank", "creditbank.client")):
                    raise ImportError("blocked: " + name)
                return None
        sys.meta_path.insert(0, Block())
        from creditbank.client import CreditBankClient
        with CreditBankClient({bank.url!r}, key={item["lrs_key"]!r},
                              secret={item["lrs_secret"]!r}) as client:
            (sid,) = client.push_statements([{{
                "actor": {{"objectType": "Agent",
                          "account": {{"homePage": "https://fxvs.example.edu.cn",
                                      "name": "isolated"}}}},
                "verb": {{"id": "http://adlnet.gov/expapi/verbs/passed"}},
                "object": {{"id": "https://fxvs.example.edu.cn/quiz/isolated"}}}}])
            assert client.get_statement(sid)["id"] == sid
        print("ok", sid)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")


def test_push_in_batches_and_read_back_through_more(bank: Bank):
    registration = str(uuid.uuid4())
    actor = lina_fxvs(bank)
    posts = []
    with fxvs(bank, batch_size=100) as client:
        client._http.event_hooks["request"].append(
            lambda request: posts.append(request) if request.method == "POST" else None
        )
        ids = client.push_statements(statement(actor, registration, n) for n in range(250))
        assert len(ids) == len(set(ids)) == 250
        assert len(posts) == 3
        read = [s["id"] for s in client.statements(registration=registration, limit=40)]
        assert sorted(read) == sorted(ids)
        # Pushing the same statements again (same ids) stores nothing new.
        again = [{**statement(actor, registration, n), "id": ids[n]} for n in range(250)]
        assert client.push_statements(again) == ids
        assert len(list(client.statements(registration=registration))) == 250
        changed = {**again[0], "verb": {"id": "http://adlnet.gov/expapi/verbs/failed"}}
        with pytest.raises(StatementConflict):
            client.push_statement(changed)


class _SlowFirstPost(BaseHTTPRequestHandler):
    """Forwards to the bank; the first POST's answer comes after the client gave up."""

    upstream = ""
    posts = 0

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in {"host"}}
        response = httpx.request(
            self.command, self.upstream + self.path, content=body, headers=headers, timeout=30
        )
        if self.command == "POST":
            type(self).posts += 1
            if type(self).posts == 1:
                time.sleep(1.5)  # stored upstream; the client's 0.5 s timeout fires first
        self.send_response(response.status_code)
        for key, value in response.headers.items():
            if key.lower() not in {"content-length", "transfer-encoding", "connection",
                                   "content-encoding"}:  # fmt: skip
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(response.content)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(response.content)

    do_GET = do_POST = _forward

    def log_message(self, *args) -> None:
        pass


def test_a_retry_after_a_timeout_stores_nothing_twice(bank: Bank):
    handler: Any = type("Handler", (_SlowFirstPost,), {"upstream": bank.url, "posts": 0})
    proxy = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    registration = str(uuid.uuid4())
    item = bank.demo["institutions"]["fxvs"]
    try:
        with CreditBankClient(
            f"http://127.0.0.1:{proxy.server_address[1]}",
            key=item["lrs_key"],
            secret=item["lrs_secret"],
            timeout=0.5,
            backoff=0.1,
        ) as client:
            ids = client.push_statements(
                [statement(lina_fxvs(bank), registration, n) for n in range(3)]
            )
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert handler.posts >= 2  # the first attempt timed out and was retried
    with fxvs(bank) as client:
        stored = [s["id"] for s in client.statements(registration=registration)]
    assert sorted(stored) == sorted(ids)


def _found(document: Document | None) -> Document:
    assert document is not None
    return document


def test_documents(bank: Bank):
    actor = lina_fxvs(bank)
    activity = "https://fxvs.example.edu.cn/courses/welding"
    with fxvs(bank) as client:
        assert client.get_state(activity, actor, "bookmark") is None
        client.put_state(activity, actor, "bookmark", {"page": 7})
        assert _found(client.get_state(activity, actor, "bookmark")).json() == {"page": 7}
        client.delete_state(activity, actor, "bookmark")
        assert client.get_state(activity, actor, "bookmark") is None

        client.put_activity_profile(activity, "syllabus", {"hours": 64})
        profile = _found(client.get_activity_profile(activity, "syllabus"))
        assert profile.json() == {"hours": 64}
        assert profile.etag
        with pytest.raises(CreditBankError) as caught:
            client.put_activity_profile(activity, "syllabus", {"hours": 1})  # exists
        assert caught.value.status == 412
        client.put_activity_profile(activity, "syllabus", {"hours": 72}, etag=profile.etag)
        assert _found(client.get_activity_profile(activity, "syllabus")).json() == {"hours": 72}

        client.put_agent_profile(actor, "preferences", b"zh-CN", content_type="text/plain")
        assert _found(client.get_agent_profile(actor, "preferences")).content == b"zh-CN"


def test_link_a_learner_by_consent_code_and_read_the_decision(bank: Bank):
    learner = bank.demo["users"]["learner"]
    with httpx.Client(base_url=bank.url, timeout=30) as http:
        lina = login(http, learner)
        issued = http.post(
            f"/api/v1/learners/{learner['learner_id']}/consent-codes",
            json={"institution": "fxvs"},
            headers=lina,
        )
        assert issued.status_code == 201, issued.text
    second = {
        "objectType": "Agent",
        "account": {"homePage": "https://fxvs.example.edu.cn", "name": "FX2024-0099"},
    }
    with fxvs(bank) as client:
        link = client.link_learner(issued.json()["code"], second)
        assert link["learner_id"] == learner["learner_id"]
        sid = client.push_statement(
            {
                "actor": second,
                "verb": {"id": PASSED},
                "object": {"id": CERT},
                "result": {"score": {"scaled": 0.82}},
            }
        )
        decision = client.wait_for_decision(sid)
        assert decision["status"] == "recognised", decision
        assert decision["outcomes"][0]["unit_code"] == "CERT-ELEC-4"
        with pytest.raises(CreditBankError) as caught:
            client.link_learner(issued.json()["code"], second)  # single use
        assert caught.value.status in {403, 409, 410}
    mooc1 = bank.demo["institutions"]["mooc1"]
    with CreditBankClient(bank.url, key=mooc1["lrs_key"], secret=mooc1["lrs_secret"]) as other:
        with pytest.raises(CreditBankError) as caught:
            other.decision(sid)
        assert caught.value.status == 403
