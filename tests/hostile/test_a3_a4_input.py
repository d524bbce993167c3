"""A3 and A4: input that used to answer 500 (or be accepted) is refused at the edge
with a 4xx naming the problem, and nothing is stored. Every case runs on both
databases; PostgreSQL is where NUL bytes and out-of-range values used to fail."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from tests.hostile.conftest import V1, Demo, new_id, statement

FX = "https://fxvs.example.edu.cn"
ACTIVITY = f"{FX}/xapi/activities/elec-4"
AGENT = orjson.dumps({"objectType": "Agent", "account": {"homePage": FX, "name": "FX1"}}).decode()
BIG = 2**64


def _j(value: Any) -> bytes:
    # The standard library writes integers of any size (orjson stops at 64 bits).
    return json.dumps(value).encode()


def _more(payload: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(_j(payload)).decode().rstrip("=")


@dataclass
class Case:
    name: str
    method: str
    path: str
    who: str = "operator"  # operator | fxvs | anonymous
    params: dict[str, str] | str | None = None
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    expect: tuple[int, ...] = (400, 422)
    #: a word the answer's detail must contain
    names: str | None = None


def _stmt(**patch: Any) -> bytes:
    return _j({**statement(FX), "id": new_id(), **patch})


XAPI_CASES = [
    Case(
        "NUL in actor name",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(
            actor={
                "objectType": "Agent",
                "name": "a\x00b",
                "account": {"homePage": FX, "name": "x"},
            }
        ),
        expect=(400,),
        names="NUL",
    ),
    Case(
        "NUL in verb display",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(verb={"id": "http://adlnet.gov/expapi/verbs/passed", "display": {"en": "\x00"}}),
        expect=(400,),
        names="verb",
    ),
    Case(
        "NUL in an extension value",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(result={"extensions": {"http://x.cn/e": "\x00"}}),
        expect=(400,),
        names="extensions",
    ),
    Case(
        "NUL in mbox",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(actor={"mbox": "mailto:a\x00@b.cn"}),
        expect=(400,),
        names="mbox",
    ),
    Case(
        "lone surrogate in a name",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=b'{"actor":{"name":"\\ud800","mbox":"mailto:a@b.cn"},'
        b'"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},'
        b'"object":{"id":"http://x.cn/a"}}',
        expect=(400,),
        names="surrogate",
    ),
    Case(
        "duplicate key in a statement",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=b'{"actor":{"mbox":"mailto:a@b.cn"},"verb":{"id":"http://adlnet.gov/expapi/verbs/passed"},'
        b'"object":{"id":"http://x.cn/a"},"verb":{"id":"http://adlnet.gov/expapi/verbs/failed"}}',
        expect=(400,),
        names="verb",
    ),
    Case(
        "raw score beyond 64 bits",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(result={"score": {"raw": 2**64 + 1}}),
        expect=(400,),
        names="64",
    ),
    Case(
        "statement timestamp past year 9999 in UTC",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(timestamp="9999-12-31T23:59:59-23:00"),
        expect=(400,),
        names="timestamp",
    ),
    Case(
        "statement timestamp before year 1 in UTC",
        "POST",
        "/xapi/statements",
        "fxvs",
        body=_stmt(timestamp="0001-01-01T00:00:00+23:00"),
        expect=(400,),
        names="timestamp",
    ),
    Case(
        "since past year 9999",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"since": "9999-12-31T23:59:59-23:00"},
        body=None,
        expect=(400,),
        names="since",
    ),
    Case(
        "until before year 1",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"until": "0001-01-01T00:00:00+23:00"},
        body=None,
        expect=(400,),
        names="until",
    ),
    Case(
        "limit in superscript digits",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"limit": "²"},
        body=None,
        expect=(400,),
        names="limit",
    ),
    Case(
        "limit in Arabic-Indic digits",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"limit": "٣"},
        body=None,
        expect=(400,),
        names="limit",
    ),
    Case(
        "more with a position beyond 64 bits",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"more": _more({"q": {}, "p": BIG, "b": 1})},
        body=None,
        expect=(400,),
        names="more",
    ),
    Case(
        "more with a superscript limit",
        "GET",
        "/xapi/statements",
        "fxvs",
        params={"more": _more({"q": {"limit": "²"}, "p": 1, "b": 1})},
        body=None,
        expect=(400,),
        names="limit",
    ),
    Case(
        "NUL in stateId",
        "GET",
        "/xapi/activities/state",
        "fxvs",
        params={"activityId": ACTIVITY, "agent": AGENT, "stateId": "a\x00b"},
        body=None,
        expect=(400,),
        names="stateId",
    ),
    Case(
        "NUL in stateId (PUT)",
        "PUT",
        "/xapi/activities/state",
        "fxvs",
        params={"activityId": ACTIVITY, "agent": AGENT, "stateId": "a\x00b"},
        body=b"{}",
        expect=(400,),
        names="stateId",
    ),
    Case(
        "NUL in profileId",
        "GET",
        "/xapi/activities/profile",
        "fxvs",
        params={"activityId": ACTIVITY, "profileId": "p\x00"},
        body=None,
        expect=(400,),
        names="profileId",
    ),
    Case(
        "document since past year 9999",
        "GET",
        "/xapi/activities/state",
        "fxvs",
        params={"activityId": ACTIVITY, "agent": AGENT, "since": "9999-12-31T23:59:59-23:00"},
        body=None,
        expect=(400,),
        names="since",
    ),
    Case(
        "document since before year 1",
        "GET",
        "/xapi/agents/profile",
        "fxvs",
        params={"agent": AGENT, "since": "0001-01-01T00:00:00+23:00"},
        body=None,
        expect=(400,),
        names="since",
    ),
    Case(
        "Basic auth whose key holds a NUL",
        "GET",
        "/xapi/statements",
        "anonymous",
        headers={"Authorization": "Basic " + base64.b64encode(b"fxvs\x00-demo:x").decode()},
        body=None,
        expect=(400,),
        names="Authorization",
    ),
    Case(
        "invalid UTF-8 in a query parameter",
        "GET",
        "/xapi/statements?verb=%ff%fe",
        "fxvs",
        body=None,
        expect=(400,),
        names="UTF-8",
    ),
]

V1_CASES = [
    Case(
        "NUL in a path parameter",
        "GET",
        "/api/v1/institutions/%00",
        body=None,
        expect=(422,),
        names="path",
    ),
    *[
        Case(
            f"NUL in {path}?{name}",
            "GET",
            path,
            params={name: "x\x00"},
            body=None,
            expect=(422,),
            names=name,
        )
        for path, name in [
            ("/api/v1/audit", "actor_id"),
            ("/api/v1/standards", "set_id"),
            ("/api/v1/conversions/applications", "status"),
            ("/api/v1/learners/{lina}/outcomes", "status"),
            ("/api/v1/ledger/learners/{lina}/entries", "kind"),
            ("/api/v1/jobs/dead", "name"),
        ]
    ],
    Case(
        "NUL in a login user name",
        "POST",
        "/api/v1/auth/login",
        "anonymous",
        body=_j({"username": "operator\x00", "password": "x" * 12}),
        expect=(422,),
        names="username",
    ),
    Case(
        "NUL in client_id of the token endpoint",
        "POST",
        "/oauth/token",
        "anonymous",
        body=b"grant_type=client_credentials&client_id=fxvs%00&client_secret=x",
        content_type="application/x-www-form-urlencoded",
        expect=(400,),
        names="client_id",
    ),
    Case(
        "NUL in an institution name",
        "POST",
        "/api/v1/institutions",
        body=_j({"key": "nul-inst", "name_zh": "坏\x00", "type": "training"}),
        expect=(422,),
        names="name_zh",
    ),
    Case(
        "NUL in a home page",
        "POST",
        "/api/v1/institutions",
        body=_j(
            {
                "key": "nul-home",
                "name_zh": "好",
                "type": "training",
                "home_pages": ["https://a\x00.cn"],
            }
        ),
        expect=(422,),
        names="home_pages",
    ),
    Case(
        "duplicate key in an institution",
        "POST",
        "/api/v1/institutions",
        body=b'{"key":"dup-inst","name_zh":"A","type":"training","name_zh":"B"}',
        expect=(422,),
        names="name_zh",
    ),
    Case(
        "NUL in a user name",
        "POST",
        "/api/v1/users",
        body=_j({"username": "eve\x00", "password": "Secret-pass-2024"}),
        expect=(422,),
        names="username",
    ),
    Case(
        "right-to-left override in a user name",
        "POST",
        "/api/v1/users",
        body=_j({"username": "operator\u202egnp.exe", "password": "Secret-pass-2024"}),
        expect=(400, 422),
        names="username",
    ),
    Case(
        "zero-width joiner in a user name",
        "POST",
        "/api/v1/users",
        body=_j({"username": "oper\u200dator", "password": "Secret-pass-2024"}),
        expect=(400, 422),
        names="username",
    ),
    Case(
        "NUL in a learner name",
        "POST",
        "/api/v1/learners",
        body=_j({"name": "李\x00娜"}),
        expect=(422,),
        names="name",
    ),
    Case(
        "NUL in a learner e-mail",
        "POST",
        "/api/v1/learners",
        body=_j({"name": "李娜", "email": "a\x00@b.cn"}),
        expect=(422,),
        names="email",
    ),
    *[
        Case(
            f"adjustment {label}",
            "POST",
            "/api/v1/ledger/learners/{lina}/adjustments",
            body=_j({"amount": "1.0", "reason": "r", "idempotency_key": new_id(), **patch})  # type: ignore[dict-item]
            if not isinstance(patch, bytes)
            else patch,
            expect=(422,),
            names=word,
        )
        for label, patch, word in [
            ("reason with NUL", {"reason": "\x00"}, "reason"),
            ("idempotency key with NUL", {"idempotency_key": "k\x00"}, "idempotency_key"),
            ("category with NUL", {"category": "c\x00"}, "category"),
            ("amount 2**64", {"amount": BIG}, "amount"),
            ("amount '1e30'", {"amount": "1e30"}, "amount"),
            ("level 2**64", {"level": BIG}, "level"),
            (
                "amount 2**64 as a JSON number",
                b'{"amount": 18446744073709551616, "reason": "r", "idempotency_key": "k"}',
                "amount",
            ),
        ]
    ],
    Case(
        "decision reason with NUL",
        "POST",
        f"/api/v1/conversions/applications/{new_id()}/decisions",
        body=_j({"decision": "approve", "reason": "ok\x00"}),
        expect=(422,),
        names="reason",
    ),
    Case(
        "checkpoint id beyond 64 bits, signed out",
        "GET",
        f"/api/v1/ledger/checkpoints/{BIG}",
        "anonymous",
        body=None,
        expect=(422,),
        names="checkpoint_id",
    ),
    Case(
        "job id beyond 64 bits",
        "GET",
        f"/api/v1/jobs/{BIG}",
        body=None,
        expect=(422,),
        names="job_id",
    ),
    *[
        Case(
            f"{path}?{name}=2**64",
            "GET",
            path,
            params={name: str(BIG)},
            body=None,
            expect=(422,),
            names=name,
        )
        for path, name in [
            ("/api/v1/audit", "before_id"),
            ("/api/v1/jobs/dead", "before_id"),
            ("/api/v1/ledger/checkpoints", "before_id"),
            ("/api/v1/ledger/learners/{lina}/entries", "after_seq"),
            ("/api/v1/learners", "offset"),
            ("/api/v1/ledger/learners/{lina}/inclusion-proof", "checkpoint_id"),
        ]
    ],
    *[
        Case(
            f"{path}?{name}={value}",
            "GET",
            path,
            params={name: value},
            body=None,
            expect=(422,),
            names=name,
        )
        for path, name, value in [
            ("/api/v1/ledger/learners/{lina}/balances", "as_of", "0001-01-01T00:00:00+01:00"),
            ("/api/v1/ledger/learners/{lina}/balances", "as_of", "2024-01-01T00:00:00"),
            ("/api/v1/ledger/learners/{lina}/balances", "as_of", "-163162"),
            ("/api/v1/ledger/learners/{lina}/balances", "as_of", "9999-12-31T23:59:59-23:00"),
            ("/api/v1/audit", "since", "0001-01-01T00:00:00+01:00"),
            ("/api/v1/audit", "since", "2024-01-01T00:00:00"),
            ("/api/v1/audit", "until", "0001-01-01T00:00:00+01:00"),
        ]
    ],
]


async def _send(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str], case: Case
) -> httpx.Response:
    headers: dict[str, str] = {}
    auth: tuple[str, str] | None = None
    if case.path.startswith("/xapi"):
        headers.update(V1)
    if case.who == "operator":
        headers.update(operator)
    elif case.who == "fxvs":
        auth = demo.basic("fxvs")
    if case.body is not None and case.content_type:
        headers["Content-Type"] = case.content_type
    headers.update(case.headers)
    path = case.path.replace("{lina}", demo.data["users"]["learner"]["learner_id"])
    return await client.request(
        case.method, path, params=case.params, content=case.body, headers=headers, auth=auth
    )


async def test_refused_at_the_edge(
    client: httpx.AsyncClient, demo: Demo, operator: dict[str, str]
) -> None:
    """Every reproduction against one app per database (they only ever fail, so they
    cannot disturb one another); each failure is reported by name."""
    wrong: list[str] = []
    for case in XAPI_CASES + V1_CASES:
        response = await _send(client, demo, operator, case)
        if response.status_code not in case.expect:
            wrong.append(f"{case.name}: {response.status_code} {response.text[:200]}")
        elif case.names and case.names.lower() not in response.text.lower():
            wrong.append(f"{case.name}: detail does not name {case.names!r}: {response.text}")
        elif case.path.startswith("/xapi") and not response.headers.get("X-Experience-API-Version"):
            wrong.append(f"{case.name}: no X-Experience-API-Version")
        # Nothing of it stored: no statement at all.
        check = await client.get("/xapi/statements", headers=V1, auth=demo.basic("fxvs"))
        if check.json()["statements"] != []:
            wrong.append(f"{case.name}: a statement was stored")
            break
    assert wrong == [], "\n".join(wrong)
