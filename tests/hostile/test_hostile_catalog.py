"""The hostile-input catalog (issue 13, Part B item 4).

Well over 150 malformed or hostile requests across the public paths — injection
strings, CRLF, numbers out of range, lone surrogates, NUL, right-to-left overrides,
deep nesting, huge arrays, path traversal, oversized and repeated headers, wrong
and duplicate Content-Types, duplicate JSON keys, bad Basic credentials, empty and
truncated bodies. Each must get the 4xx the table says, with a detail naming the
problem, never a 5xx; and afterwards nothing was stored (read back).

One app per database for the whole table (a single test per dialect): the cases
only ever fail, so they cannot disturb one another.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from tests.hostile.conftest import V1, Demo

FX = "https://fxvs.example.edu.cn"
ACTIVITY = f"{FX}/xapi/activities/elec-4"
AGENT = json.dumps({"objectType": "Agent", "account": {"homePage": FX, "name": "FX1"}})
PASSED = "http://adlnet.gov/expapi/verbs/passed"

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE lrs_statements;--",
    '" OR 1=1 --',
    "$..*",
    "$[?(@.password)]",
    '{"$gt": ""}',
    "../../etc/passwd",
    "x\r\nSet-Cookie: a=b",
]
NUMBERS = ["1e400", str(2**64), str(-(2**64)), "NaN"]


@dataclass
class Case:
    name: str
    method: str
    path: str
    expect: tuple[int, ...]
    who: str = "operator"  # operator | fxvs | anonymous
    params: dict[str, str] | None = None
    body: bytes | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = "application/json"


def _j(value: Any) -> bytes:
    return json.dumps(value).encode()


def _stmt(**patch: Any) -> dict[str, Any]:
    return {
        "actor": {"objectType": "Agent", "account": {"homePage": FX, "name": "FX1"}},
        "verb": {"id": PASSED, "display": {"en-US": "passed"}},
        "object": {"objectType": "Activity", "id": ACTIVITY},
        **patch,
    }


def _nested(depth: int) -> Any:
    value: Any = "deep"
    for _ in range(depth):
        value = {"a": value}
    return value


def _xapi_get(name: str, path: str, params: dict[str, str]) -> Case:
    return Case(name, "GET", path, (400,), "fxvs", params=params, body=None)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for text in INJECTIONS:
        cases += [
            _xapi_get(f"statementId={text!r}", "/xapi/statements", {"statementId": text}),
            _xapi_get(f"verb={text!r}", "/xapi/statements", {"verb": text}),
            _xapi_get(f"agent={text!r}", "/xapi/statements", {"agent": text}),
            _xapi_get(f"registration={text!r}", "/xapi/statements", {"registration": text}),
            _xapi_get(f"since={text!r}", "/xapi/statements", {"since": text}),
            _xapi_get(
                f"state activityId={text!r}",
                "/xapi/activities/state",
                {"activityId": text, "agent": AGENT, "stateId": "s"},
            ),
            _xapi_get(f"profile agent={text!r}", "/xapi/agents/profile", {"agent": text}),
            Case(
                f"learner id {text!r}",
                "GET",
                f"/api/v1/ledger/learners/{text}/balances",
                (404, 422),
            ),
            Case(f"institution key {text!r}", "GET", f"/api/v1/institutions/{text}", (404, 422)),
            Case(
                f"login as {text!r}",
                "POST",
                "/api/v1/auth/login",
                (401, 422),
                "anonymous",
                body=_j({"username": text, "password": "wrong-password-1"}),
            ),
            Case(
                f"institution named {text!r}",
                "POST",
                "/api/v1/institutions",
                (422,),
                body=_j({"key": text, "name_zh": text, "type": "training"}),
            ),
        ]
    for number in NUMBERS:
        raw = number.encode()
        cases += [
            Case(
                f"score raw {number}",
                "POST",
                "/xapi/statements",
                (400,),
                "fxvs",
                body=b'{"actor":{"mbox":"mailto:a@b.cn"},"verb":{"id":"' + PASSED.encode() + b'"},'
                b'"object":{"id":"'
                + ACTIVITY.encode()
                + b'"},"result":{"score":{"raw":'
                + raw
                + b"}}}",
            ),
            Case(
                f"adjustment amount {number}",
                "POST",
                "/api/v1/ledger/learners/{lina}/adjustments",
                (422,),
                body=b'{"amount":' + raw + b',"reason":"r","idempotency_key":"k"}',
            ),
            Case(
                f"adjustment level {number}",
                "POST",
                "/api/v1/ledger/learners/{lina}/adjustments",
                (422,),
                body=b'{"amount":"1","reason":"r","idempotency_key":"k","level":' + raw + b"}",
            ),
            _xapi_get(f"limit={number}", "/xapi/statements", {"limit": number}),
            Case(f"job id {number}", "GET", f"/api/v1/jobs/{number}", (422,), body=None),
            Case(
                f"checkpoint id {number} signed out",
                "GET",
                f"/api/v1/ledger/checkpoints/{number}",
                (422,),
                "anonymous",
                body=None,
            ),
            Case(
                f"audit before_id={number}",
                "GET",
                "/api/v1/audit",
                (422,),
                params={"before_id": number},
                body=None,
            ),
        ]
    for label, text in [
        ("NUL", "a\x00b"),
        ("lone surrogate", "a\ud800b"),
        ("RTL override", "admin\u202egnp"),
    ]:
        strict = label != "RTL override"  # RTL is refused where names are identities
        bad_body = _j({"username": text, "password": "Secret-pass-2024"})
        cases += [
            Case(
                f"{label} in actor name",
                "POST",
                "/xapi/statements",
                (400,) if strict else (200,),
                "fxvs",
                body=_j(_stmt(actor={"name": text, "mbox": "mailto:a@b.cn"})),
            )
            if strict
            else Case(
                f"{label} in an account name",
                "POST",
                "/xapi/statements",
                (400,),
                "fxvs",
                body=_j(_stmt(actor={"account": {"homePage": "not a url", "name": text}})),
            ),
            Case(f"{label} in a user name", "POST", "/api/v1/users", (400, 422), body=bad_body),
            Case(
                f"{label} in a learner's user name",
                "POST",
                "/api/v1/learners",
                (400, 422),
                body=_j({"name": "李娜", "username": text, "password": "Secret-pass-2024"}),
            ),
        ]
        if strict:
            cases += [
                _xapi_get(
                    f"{label} in stateId",
                    "/xapi/activities/state",
                    {"activityId": ACTIVITY, "agent": AGENT, "stateId": text},
                ),
                Case(
                    f"{label} in institution name",
                    "POST",
                    "/api/v1/institutions",
                    (422,),
                    body=_j({"key": "evil-inst", "name_zh": text, "type": "training"}),
                ),
                Case(
                    f"{label} in a query filter",
                    "GET",
                    "/api/v1/audit",
                    (422,),
                    params={"action": text},
                    body=None,
                ),
                Case(
                    f"{label} in client_id",
                    "POST",
                    "/oauth/token",
                    (400,),
                    "anonymous",
                    body=b"grant_type=client_credentials&client_secret=x&client_id="
                    + text.encode("utf-8", "surrogatepass").replace(b"\x00", b"%00"),
                    content_type="application/x-www-form-urlencoded",
                ),
                Case(
                    f"{label} in a login password",
                    "POST",
                    "/api/v1/auth/login",
                    (422,),
                    "anonymous",
                    body=_j({"username": "operator", "password": text}),
                ),
            ]
    deep = _j(_stmt(result={"extensions": {"http://x.cn/e": _nested(100)}}))
    cases += [
        Case("statement nested 100 deep", "POST", "/xapi/statements", (400,), "fxvs", body=deep),
        Case(
            "statement nested 100000 deep",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=b'{"a":' * 100000 + b"1" + b"}" * 100000,
        ),
        Case(
            "API body nested 100000 deep",
            "POST",
            "/api/v1/institutions",
            (422,),
            body=b"[" * 100000 + b"]" * 100000,
        ),
        Case(
            "API body nested 50 deep",
            "POST",
            "/api/v1/rules/dry-run",
            (422,),
            body=_j(_nested(50)),
        ),
        Case(
            "1001 statements in one batch",
            "POST",
            "/xapi/statements",
            (413,),
            "fxvs",
            body=_j([_stmt()] * 1001),
        ),
        Case(
            "1000 home pages",
            "POST",
            "/api/v1/institutions",
            (422,),
            body=_j(
                {
                    "key": "huge",
                    "name_zh": "大",
                    "type": "training",
                    "home_pages": [f"https://h{i}.cn" for i in range(1000)],
                }
            ),
        ),
        Case("empty array of statements", "POST", "/xapi/statements", (400,), "fxvs", body=b"[]"),
    ]
    for label, doc_id in [
        ("traversal", "../../../etc/passwd"),
        ("encoded traversal", "..%2f..%2fetc%2fpasswd"),
        ("absolute path", "/etc/passwd"),
    ]:
        cases += [
            Case(
                f"{label} in stateId (GET)",
                "GET",
                "/xapi/activities/state",
                (404,),
                "fxvs",
                params={"activityId": ACTIVITY, "agent": AGENT, "stateId": doc_id},
                body=None,
            ),
            Case(
                f"{label} in profileId (GET)",
                "GET",
                "/xapi/activities/profile",
                (404,),
                "fxvs",
                params={"activityId": ACTIVITY, "profileId": doc_id},
                body=None,
            ),
            Case(f"{label} in a learner id", "GET", f"/api/v1/learners/{doc_id}", (404, 422)),
            Case(f"{label} in a job id", "GET", f"/api/v1/jobs/{doc_id}", (404, 422), body=None),
        ]
    cases += [
        Case(
            "40 KiB header",
            "GET",
            "/xapi/statements",
            (431,),
            "fxvs",
            headers=[("X-Filler", "a" * 40 * 1024)],
            body=None,
        ),
        Case(
            "150 headers",
            "GET",
            "/api/v1/institutions",
            (431,),
            headers=[(f"X-H{i}", "1") for i in range(150)],
            body=None,
        ),
        Case(
            "NUL in a header",
            "GET",
            "/xapi/statements",
            (400,),
            "fxvs",
            headers=[("X-Evil", "a\x00b")],
            body=None,
        ),
        Case(
            "text/plain statements",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt()),
            content_type="text/plain",
        ),
        Case(
            "statements without Content-Type",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt()),
            content_type=None,
        ),
        Case(
            "statements as latin-1",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt()),
            content_type="application/json; charset=latin-1",
        ),
        Case(
            "two Content-Types on a statement",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt()),
            headers=[("Content-Type", "text/plain")],
        ),
        Case(
            "two Content-Types on an institution",
            "POST",
            "/api/v1/institutions",
            (422,),
            body=_j({"key": "two-ct", "name_zh": "二", "type": "training"}),
            headers=[("Content-Type", "text/plain")],
        ),
        Case(
            "institution as text/plain",
            "POST",
            "/api/v1/institutions",
            (415, 422),
            body=_j({"key": "plain", "name_zh": "文", "type": "training"}),
            content_type="text/plain",
        ),
        Case(
            "duplicate key in a statement",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt())[:-1] + b',"verb":{"id":"http://adlnet.gov/expapi/verbs/failed"}}',
        ),
        Case(
            "duplicate key in an actor",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=b'{"actor":{"mbox":"mailto:a@b.cn","mbox":"mailto:c@d.cn"},"verb":{"id":"'
            + PASSED.encode()
            + b'"},"object":{"id":"'
            + ACTIVITY.encode()
            + b'"}}',
        ),
        Case(
            "duplicate key in an institution",
            "POST",
            "/api/v1/institutions",
            (422,),
            body=b'{"key":"dup","name_zh":"A","type":"training","key":"dup2"}',
        ),
        Case(
            "duplicate key in a login",
            "POST",
            "/api/v1/auth/login",
            (422,),
            "anonymous",
            body=b'{"username":"x","password":"a","username":"operator"}',
        ),
        Case(
            "duplicate key in a document PUT's agent",
            "GET",
            "/xapi/agents/profile",
            (400,),
            "fxvs",
            params={"agent": '{"mbox":"mailto:a@b.cn","mbox":"mailto:c@d.cn"}'},
            body=None,
        ),
    ]
    for label, value in [
        ("bad base64", "Basic !!!not-base64!!!"),
        ("no colon", "Basic " + base64.b64encode(b"fxvs-demo").decode()),
        ("empty key", "Basic " + base64.b64encode(b":secret").decode()),
        ("latin-1 bytes", "Basic " + base64.b64encode(b"\xff\xfe:x").decode()),
        ("unknown scheme", "Digest username=x"),
        ("empty bearer", "Bearer "),
        ("garbage bearer", "Bearer not.a.jwt"),
    ]:
        cases += [
            Case(
                f"xAPI {label}",
                "GET",
                "/xapi/statements",
                (400, 401),
                "anonymous",
                headers=[("Authorization", value)],
                body=None,
            ),
            Case(
                f"API {label}",
                "GET",
                "/api/v1/institutions",
                (401, 422),
                "anonymous",
                headers=[("Authorization", value)],
                body=None,
            ),
        ]
    for label, body in [
        ("empty", b""),
        ("whitespace", b"   "),
        ("truncated", b'{"actor":{"mbox":"mailto:a@b.cn"'),
        ("not JSON", b"<xml/>"),
        ("invalid UTF-8", b'{"a":"\xff"}'),
    ]:
        cases += [
            Case(f"{label} statement body", "POST", "/xapi/statements", (400,), "fxvs", body=body),
            Case(
                f"{label} statement PUT",
                "PUT",
                "/xapi/statements",
                (400,),
                "fxvs",
                params={"statementId": str(uuid.uuid4())},
                body=body,
            ),
            Case(f"{label} institution body", "POST", "/api/v1/institutions", (422,), body=body),
            Case(
                f"{label} login body", "POST", "/api/v1/auth/login", (422,), "anonymous", body=body
            ),
        ]
    cases += [
        Case("TRACE statements", "TRACE", "/xapi/statements", (405,), "fxvs", body=None),
        Case("CONNECT api", "CONNECT", "/api/v1/institutions", (405,), body=None),
        Case(
            "unknown xAPI parameter",
            "GET",
            "/xapi/statements",
            (400,),
            "fxvs",
            params={"verbb": PASSED},
            body=None,
        ),
        Case(
            "xAPI version 9.9",
            "GET",
            "/xapi/statements",
            (400,),
            "fxvs",
            headers=[("X-Experience-API-Version", "9.9")],
            body=None,
        ),
        Case(
            "statement whose id is not a UUID",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt(id="1 OR 1=1")),
        ),
        Case(
            "statement timestamp in the year 10000 UTC",
            "POST",
            "/xapi/statements",
            (400,),
            "fxvs",
            body=_j(_stmt(timestamp="9999-12-31T23:59:59-23:00")),
        ),
        Case(
            "balances as of a naive time",
            "GET",
            "/api/v1/ledger/learners/{lina}/balances",
            (422,),
            params={"as_of": "2024-01-01T00:00:00"},
            body=None,
        ),
        Case(
            "balances as of an epoch number",
            "GET",
            "/api/v1/ledger/learners/{lina}/balances",
            (422,),
            params={"as_of": "-163162"},
            body=None,
        ),
    ]
    return cases


CASES = _cases()


async def _send(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str], case: Case
) -> httpx.Response:
    headers: list[tuple[str, str]] = []
    auth: tuple[str, str] | None = None
    if case.path.startswith("/xapi") and not any(
        n == "X-Experience-API-Version" for n, _ in case.headers
    ):
        headers += list(V1.items())
    if case.who == "operator":
        headers += list(operator.items())
    elif case.who == "fxvs":
        auth = demo.basic("fxvs")
    if case.body is not None and case.content_type:
        headers.append(("Content-Type", case.content_type))
    headers += case.headers
    path = case.path.replace("{lina}", demo.data["users"]["learner"]["learner_id"])
    path = quote(path, safe="/%")
    if case.params:
        # By hand: httpx will not encode a lone surrogate (we send its UTF-8 form).
        path += "?" + "&".join(
            f"{quote(k)}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}"
            for k, v in case.params.items()
        )
    request = client.build_request(case.method, path, content=case.body, headers=headers)
    if auth is not None:
        request.headers["Authorization"] = (
            "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        )
    return await client.send(request)


def _detail_text(response: httpx.Response) -> str:
    if not response.content:
        return ""
    try:
        body = response.json()
    except ValueError:
        return response.text
    return json.dumps(body.get("detail", ""), ensure_ascii=False) if isinstance(body, dict) else ""


def test_catalog_is_large_enough() -> None:
    assert len(CASES) >= 150, len(CASES)
    assert len({c.name for c in CASES}) == len(CASES), "case names must be unique"


async def test_hostile_catalog(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str]
) -> None:
    before = (await client.get("/api/v1/institutions", headers=operator)).json()
    wrong: list[str] = []
    for case in CASES:
        response = await _send(client, demo, operator, case)
        if response.status_code not in case.expect:
            wrong.append(f"{case.name}: {response.status_code} {response.text[:200]}")
        elif response.status_code >= 400 and not _detail_text(response).strip('" []'):
            wrong.append(f"{case.name}: {response.status_code} without a detail")
    assert wrong == [], "\n".join(wrong)
    # Nothing stored: no statement, no document, no institution, no user.
    fxvs = demo.basic("fxvs")
    statements = await client.get("/xapi/statements", headers=V1, auth=fxvs)
    assert statements.json()["statements"] == []
    state_ids = await client.get(
        "/xapi/activities/state",
        params={"activityId": ACTIVITY, "agent": AGENT},
        headers=V1,
        auth=fxvs,
    )
    assert state_ids.json() == []
    after = (await client.get("/api/v1/institutions", headers=operator)).json()
    assert after == before
    users = (await client.get("/api/v1/users", headers=operator)).json()
    users = users.get("users", users) if isinstance(users, dict) else users
    assert {u["username"] for u in users} == {
        u["username"] for u in demo.data["users"].values() if isinstance(u, dict)
    }
