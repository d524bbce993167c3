"""The authorization matrix, each cell over real HTTP (plus the certifier rules, which no
HTTP endpoint of this context exercises yet, through ``authz`` directly).

Rows are requests; columns are callers. A cell is the expected status code. The matrix
is checked against the application's route table: every route has a row or is
declared public in :data:`PUBLIC`, so a new route without a rule fails
``test_every_route_has_a_row_or_is_public``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import pytest
from fastapi.routing import APIRoute

from api.app import create_app
from creditbank.config import Settings
from creditbank.errors import Forbidden
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from tests.identity.conftest import PASSWORD, ZHANG_NATIONAL_ID, World, login

CALLERS = ("anonymous", "lina", "zhang", "wang", "fxvs_admin", "hbou_admin", "fxvs_lrs", "operator")


@dataclass
class Row:
    name: str
    method: str
    path: Callable[[World], str]
    expect: dict[str, int]
    body: Callable[[str], Any] | None = None
    params: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    #: A multipart body (name -> (filename, content)) instead of JSON.
    files: dict[str, tuple[str, bytes]] | None = None


def cells(default: int, anonymous: int = 401, **overrides: int) -> dict[str, int]:
    out = dict.fromkeys(CALLERS, default)
    out["anonymous"] = anonymous
    out.update(overrides)
    return out


def _learner_row(name: str, suffix: str, method: str = "GET", ok: int = 200) -> Row:
    return Row(
        name,
        method,
        lambda w: f"/api/v1/learners/{w.lina_id}{suffix}",
        cells(403, lina=ok, operator=ok),
    )


NO_SUCH = "00000000-0000-4000-8000-000000000000"


ROWS = [
    Row("health", "GET", lambda w: "/healthz", cells(200, anonymous=200)),
    # the operator, or a scraper with the configured metrics token (none in this world)
    Row("metrics", "GET", lambda w: "/metrics", cells(403, operator=200)),
    Row("access-token keys", "GET", lambda w: "/oauth/jwks.json", cells(200, anonymous=200)),
    Row("list institutions", "GET", lambda w: "/api/v1/institutions", cells(200)),
    Row(
        "register institution",
        "POST",
        lambda w: "/api/v1/institutions",
        cells(403, operator=201),
        body=lambda who: {
            "key": f"new-{who}".replace("_", "-"),
            "name_zh": "新机构",
            "type": "training",
        },
    ),
    Row(
        "update own institution",
        "PATCH",
        lambda w: "/api/v1/institutions/fxvs",
        cells(403, fxvs_admin=200, operator=200),
        body=lambda who: {"name_en": "Fangxian Vocational School"},
    ),
    Row(
        "accredit",
        "PUT",
        lambda w: "/api/v1/institutions/shady/accreditation",
        cells(403, operator=200),
        body=lambda who: {"accredited": False},
    ),
    Row(
        "list credentials",
        "GET",
        lambda w: "/api/v1/institutions/fxvs/credentials",
        cells(403, fxvs_admin=200, operator=200),
    ),
    Row(
        "create credential",
        "POST",
        lambda w: "/api/v1/institutions/hbou/credentials",
        cells(403, hbou_admin=201, operator=201),
        body=lambda who: {"label": who},
    ),
    Row(
        "credential reading every institution (scope escalation)",
        "POST",
        lambda w: "/api/v1/institutions/hbou/credentials",
        cells(403, operator=201),
        body=lambda who: {"scopes": ["statements/write", "all/read"]},
    ),
    Row(
        "set the homePages an institution owns",
        "PATCH",
        lambda w: "/api/v1/institutions/fxvs",
        cells(403, operator=200),
        body=lambda who: {"home_pages": ["https://fxvs.example.edu.cn"]},
    ),
    _learner_row("read a learner", ""),
    _learner_row("her identity links", "/links"),
    _learner_row("export her data", "/export"),
    Row(
        "read a learner in clear",
        "GET",
        lambda w: f"/api/v1/learners/{w.lina_id}",
        cells(403, lina=200, operator=200),
        params={"reveal": "true"},
    ),
    Row(
        "consent code",
        "POST",
        lambda w: f"/api/v1/learners/{w.lina_id}/consent-codes",
        cells(403, lina=201),
        body=lambda who: {},
    ),
    Row("my profile", "GET", lambda w: "/api/v1/learners/me", cells(404, lina=200, zhang=200)),
    Row("list learners", "GET", lambda w: "/api/v1/learners", cells(403, operator=200)),
    Row(
        "open a learner account",
        "POST",
        lambda w: "/api/v1/learners",
        cells(403, operator=201),
        body=lambda who: {"name": "新学员"},
    ),
    Row(
        "issue a transcript",
        "POST",
        lambda w: f"/api/v1/learners/{w.lina_id}/transcripts",
        cells(403, lina=201, operator=201),
        body=lambda who: {},
    ),
    _learner_row("her transcripts", "/transcripts"),
    Row(
        "verify a transcript (no login)",
        "POST",
        lambda w: "/api/v1/verify",
        cells(400, anonymous=400),
        body=lambda who: {"vc_jwt": "not.a.jwt"},
    ),
    Row("issuer keys", "GET", lambda w: "/.well-known/jwks.json", cells(200, anonymous=200)),
    Row("issuer DID document", "GET", lambda w: "/.well-known/did.json", cells(200, anonymous=200)),
    Row("list users", "GET", lambda w: "/api/v1/users", cells(403, operator=200)),
    Row("audit log", "GET", lambda w: "/api/v1/audit", cells(403, operator=200)),
    Row("read an institution", "GET", lambda w: "/api/v1/institutions/fxvs", cells(200)),
    Row(
        "rotate a credential (authorized first, then looked up)",
        "POST",
        lambda w: f"/api/v1/institutions/fxvs/credentials/{NO_SUCH}/rotate",
        cells(403, fxvs_admin=404, operator=404),
    ),
    Row(
        "revoke a credential (authorized first, then looked up)",
        "DELETE",
        lambda w: f"/api/v1/institutions/fxvs/credentials/{NO_SUCH}",
        cells(403, fxvs_admin=404, operator=404),
    ),
    Row(
        "look up by national ID",
        "POST",
        lambda w: "/api/v1/learners/lookup",
        cells(403, operator=200),
        body=lambda who: {"national_id": ZHANG_NATIONAL_ID},
    ),
    Row(
        "update a learner",
        "PATCH",
        lambda w: f"/api/v1/learners/{w.lina_id}",
        cells(403, lina=200, operator=200),
        body=lambda who: {"phone": "13900000000"},
    ),
    Row(
        "erase a learner (the second erasure is a no-op)",
        "POST",
        lambda w: f"/api/v1/learners/{w.zhang_id}/erasure",
        cells(403, zhang=200, operator=200),
    ),
    Row(
        "link with a consent code (an unknown code is refused after the check)",
        "POST",
        lambda w: "/api/v1/identity-links",
        cells(403, fxvs_admin=400, fxvs_lrs=400, operator=400),
        body=lambda who: {
            "institution": "fxvs",
            "consent_code": "NOPE-NOPE",
            "agent": {"account": {"homePage": "https://fxvs.example.edu.cn", "name": who}},
        },
    ),
    Row(
        "link in bulk by national ID",
        "POST",
        lambda w: "/api/v1/identity-links/bulk",
        cells(403, fxvs_admin=200, fxvs_lrs=200, operator=200),
        body=lambda who: {
            "institution": "fxvs",
            "items": [
                {
                    "national_id": ZHANG_NATIONAL_ID,
                    "agent": {
                        "account": {
                            "homePage": "https://fxvs.example.edu.cn",
                            "name": f"bulk-{who}",
                        }
                    },
                }
            ],
        },
    ),
    Row(
        "remove a link",
        "DELETE",
        lambda w: f"/api/v1/identity-links/{NO_SUCH}",
        cells(404),
    ),
    Row(
        "create a user",
        "POST",
        lambda w: "/api/v1/users",
        cells(403, operator=201),
        body=lambda who: {"username": f"new-{who}".replace("_", "-"), "password": PASSWORD},
    ),
    Row(
        "grant a role (the user is looked up first)",
        "POST",
        lambda w: f"/api/v1/users/{NO_SUCH}/roles",
        cells(404),
        body=lambda who: {"role": "learner"},
    ),
    Row("who am I", "GET", lambda w: "/api/v1/auth/me", cells(200)),
    Row(
        "change password (a wrong current password)",
        "POST",
        lambda w: "/api/v1/auth/password",
        cells(401, anonymous=401),
        body=lambda who: {"current_password": "Wrong-pass-2024", "new_password": PASSWORD + "x"},
    ),
]

# Rows of the other contexts' routes, grouped by context: a group shares one world and
# one sign-in per caller (rows are cheap then), so its rows must not depend on each
# other's writes. Ids that do not exist show the order of lookup and check: 404 for
# every caller means the resource is looked up first.
LEARNER_DATA = cells(403, lina=200, operator=200)


def _transcript_status_row(change: str) -> Row:
    path = f"/api/v1/transcripts/{NO_SUCH}/{change}"
    return Row(f"{change} a transcript (looked up first)", "POST", lambda w: path, cells(404))


OPERATOR_ONLY = cells(403, operator=200)
XAPI = {"X-Experience-API-Version": "1.0.3"}
FXVS_ACTIVITY = "https://fxvs.example.edu.cn/xapi/activities/matrix"
FXVS_AGENT = '{"account": {"homePage": "https://fxvs.example.edu.cn", "name": "matrix"}}'


def _statement(who: str) -> dict[str, Any]:
    return {
        "actor": {"account": {"homePage": "https://fxvs.example.edu.cn", "name": f"m-{who}"}},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": FXVS_ACTIVITY},
    }


def _documents(resource: str, params: dict[str, str]) -> list[Row]:
    path = f"/xapi/{resource}"
    return [
        Row(
            f"{resource}: read (none yet)",
            "GET",
            lambda w: path,
            cells(403, fxvs_lrs=404),
            params=params,
            headers=XAPI,
        ),
        Row(
            f"{resource}: write",
            "PUT",
            lambda w: path,
            cells(403, fxvs_lrs=204),
            body=lambda who: {"who": who},
            params=params,
            headers={**XAPI, "If-None-Match": "*"},
        ),
        Row(
            f"{resource}: merge",
            "POST",
            lambda w: path,
            cells(403, fxvs_lrs=204),
            body=lambda who: {"who": who},
            params=params,
            headers=XAPI,
        ),
        Row(
            f"{resource}: delete",
            "DELETE",
            lambda w: path,
            cells(403, fxvs_lrs=204),
            params=params,
            headers=XAPI,
        ),
    ]


GROUPS: dict[str, list[Row]] = {
    "ledger": [
        Row(
            "balances",
            "GET",
            lambda w: f"/api/v1/ledger/learners/{w.lina_id}/balances",
            LEARNER_DATA,
        ),
        Row(
            "entries",
            "GET",
            lambda w: f"/api/v1/ledger/learners/{w.lina_id}/entries",
            LEARNER_DATA,
        ),
        Row(
            "verify a chain",
            "GET",
            lambda w: f"/api/v1/ledger/learners/{w.lina_id}/verify",
            LEARNER_DATA,
        ),
        Row(
            "adjust (operator only)",
            "POST",
            lambda w: f"/api/v1/ledger/learners/{w.lina_id}/adjustments",
            cells(403, operator=201),
            body=lambda who: {"amount": "1.00", "reason": "matrix", "idempotency_key": who},
        ),
        Row(
            "inclusion proof (no checkpoint yet)",
            "GET",
            lambda w: f"/api/v1/ledger/learners/{w.lina_id}/inclusion-proof",
            cells(403, lina=404, operator=404),
        ),
        Row(
            "one entry (looked up first)",
            "GET",
            lambda w: f"/api/v1/ledger/entries/{NO_SUCH}",
            cells(404),
        ),
        Row(
            "explain an entry (looked up first)",
            "GET",
            lambda w: f"/api/v1/ledger/entries/{NO_SUCH}/explain",
            cells(404),
        ),
        Row(
            "sign a checkpoint",
            "POST",
            lambda w: "/api/v1/ledger/checkpoints",
            cells(403, operator=201),
        ),
        Row(
            "a checkpoint's full document (checked first)",
            "GET",
            lambda w: "/api/v1/ledger/checkpoints/999999/document",
            cells(403, operator=404),
        ),
    ],
    "outcomes": [
        Row(
            "a learner's outcomes",
            "GET",
            lambda w: f"/api/v1/learners/{w.lina_id}/outcomes",
            LEARNER_DATA,
        ),
        Row(
            "one outcome (looked up first)",
            "GET",
            lambda w: f"/api/v1/outcomes/{NO_SUCH}",
            cells(404),
        ),
        Row(
            "explain an outcome (looked up first)",
            "GET",
            lambda w: f"/api/v1/outcomes/{NO_SUCH}/explain",
            cells(404),
        ),
        Row(
            "explain a statement (looked up first)",
            "GET",
            lambda w: f"/api/v1/statements/{NO_SUCH}/explain",
            cells(404),
        ),
        Row(
            "dry run",
            "POST",
            lambda w: "/api/v1/rules/dry-run",
            cells(200),
            body=lambda who: {"statement": _statement(who), "institution_key": "fxvs"},
        ),
    ],
    "conversions": [
        Row(
            "conversion options",
            "GET",
            lambda w: f"/api/v1/conversions/learners/{w.lina_id}/options",
            LEARNER_DATA,
        ),
        Row(
            "apply (an unknown rule)",
            "POST",
            lambda w: f"/api/v1/conversions/learners/{w.lina_id}/applications",
            cells(403, lina=404, operator=404),
            body=lambda who: {"rule_id": "no-such-rule"},
        ),
        Row(
            "a learner's applications",
            "GET",
            lambda w: f"/api/v1/conversions/learners/{w.lina_id}/applications",
            LEARNER_DATA,
        ),
        Row(
            "the review queue",
            "GET",
            lambda w: "/api/v1/conversions/applications",
            cells(403, wang=200, operator=200),
        ),
        Row(
            "one application (looked up first)",
            "GET",
            lambda w: f"/api/v1/conversions/applications/{NO_SUCH}",
            cells(404),
        ),
        Row(
            "decide (looked up first)",
            "POST",
            lambda w: f"/api/v1/conversions/applications/{NO_SUCH}/decisions",
            cells(404),
            body=lambda who: {"decision": "approve", "reason": "matrix"},
        ),
        Row(
            "withdraw (looked up first)",
            "POST",
            lambda w: f"/api/v1/conversions/applications/{NO_SUCH}/withdraw",
            cells(404),
        ),
        Row(
            "appeal (looked up first)",
            "POST",
            lambda w: f"/api/v1/conversions/applications/{NO_SUCH}/appeal",
            cells(404),
            body=lambda who: {"reason": "matrix"},
        ),
        Row(
            "inbox",
            "GET",
            lambda w: f"/api/v1/inbox/learners/{w.lina_id}/messages",
            LEARNER_DATA,
        ),
        Row(
            "mark a message read (looked up first)",
            "POST",
            lambda w: f"/api/v1/inbox/messages/{NO_SUCH}/read",
            cells(404),
        ),
    ],
    "transcripts": [
        Row(
            "a learner's transcripts",
            "GET",
            lambda w: f"/api/v1/learners/{w.lina_id}/transcripts",
            LEARNER_DATA,
        ),
        Row(
            "one transcript (looked up first)",
            "GET",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}",
            cells(404),
        ),
        Row(
            "issue a transcript",
            "POST",
            lambda w: f"/api/v1/learners/{w.lina_id}/transcripts",
            cells(403, lina=201, operator=201),
        ),
        *(_transcript_status_row(change) for change in ("revoke", "suspend", "unsuspend")),
        Row(
            "share a transcript (looked up first)",
            "POST",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}/shares",
            cells(404),
            body=lambda who: {"outcomes": []},
        ),
        Row(
            "a transcript's shares (looked up first)",
            "GET",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}/shares",
            cells(404),
        ),
        Row(
            "revoke a share (looked up first)",
            "DELETE",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}/shares/{NO_SUCH}",
            cells(404),
        ),
        Row(
            "suspend a share (looked up first)",
            "POST",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}/shares/{NO_SUCH}/suspend",
            cells(404),
        ),
        Row(
            "reinstate a share (looked up first)",
            "POST",
            lambda w: f"/api/v1/transcripts/{NO_SUCH}/shares/{NO_SUCH}/unsuspend",
            cells(404),
        ),
        Row(
            "a share's presentation (public, none)",
            "GET",
            lambda w: f"/api/v1/shares/{NO_SUCH}",
            cells(404, anonymous=404),
        ),
    ],
    "imports": [
        Row(
            "preview an import (an unreadable mapping)",
            "POST",
            lambda w: "/api/v1/institutions/fxvs/imports",
            cells(403, fxvs_admin=400, fxvs_lrs=400, operator=400),
            files={"file": ("a.csv", b"name\n"), "mapping": ("m.yaml", b"columns: [")},
        ),
        Row(
            "an institution's imports",
            "GET",
            lambda w: "/api/v1/institutions/fxvs/imports",
            cells(403, fxvs_admin=200, fxvs_lrs=200, operator=200),
        ),
        Row(
            "one import (checked first)",
            "GET",
            lambda w: f"/api/v1/institutions/fxvs/imports/{NO_SUCH}",
            cells(403, fxvs_admin=404, fxvs_lrs=404, operator=404),
        ),
        Row(
            "commit an import (checked first)",
            "POST",
            lambda w: f"/api/v1/institutions/fxvs/imports/{NO_SUCH}/commit",
            cells(403, fxvs_admin=404, fxvs_lrs=404, operator=404),
        ),
    ],
    "webhooks": [
        Row(
            "subscribe to an institution's events",
            "POST",
            lambda w: "/api/v1/institutions/fxvs/webhooks",
            cells(403, fxvs_admin=201, operator=201),
            body=lambda who: {
                "url": "https://mis.fxvs.example.edu.cn/hooks",
                "event_types": ["statement.recognised"],
            },
        ),
        Row(
            "an institution's webhook subscriptions",
            "GET",
            lambda w: "/api/v1/institutions/fxvs/webhooks",
            cells(403, fxvs_admin=200, operator=200),
        ),
        Row(
            "one subscription (checked first)",
            "GET",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}",
            cells(403, fxvs_admin=404, operator=404),
        ),
        Row(
            "disable a subscription (checked first)",
            "PATCH",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}",
            cells(403, fxvs_admin=404, operator=404),
            body=lambda who: {"enabled": False},
        ),
        Row(
            "delete a subscription (checked first)",
            "DELETE",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}",
            cells(403, fxvs_admin=404, operator=404),
        ),
        Row(
            "a subscription's delivery log (checked first)",
            "GET",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}/deliveries",
            cells(403, fxvs_admin=404, operator=404),
        ),
        Row(
            "one delivery with its attempts (checked first)",
            "GET",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}/deliveries/{NO_SUCH}",
            cells(403, fxvs_admin=404, operator=404),
        ),
        Row(
            "replay a delivery (checked first)",
            "POST",
            lambda w: f"/api/v1/institutions/fxvs/webhooks/{NO_SUCH}/deliveries/{NO_SUCH}/replay",
            cells(403, fxvs_admin=404, operator=404),
        ),
    ],
    "forwarding": [
        Row(
            "forward an institution's statements to another LRS",
            "PUT",
            lambda w: "/api/v1/institutions/fxvs/forwarding",
            cells(403, fxvs_admin=200, operator=200),
            body=lambda who: {
                "endpoint": "https://lrs.fxvs.example.edu.cn/xapi",
                "username": "bank",
                "password": "s3cret",
            },
        ),
        Row(
            "an institution's forwarding",
            "GET",
            lambda w: "/api/v1/institutions/hbou/forwarding",
            cells(403, hbou_admin=404, operator=404),
        ),
        Row(
            "stop forwarding",
            "DELETE",
            lambda w: "/api/v1/institutions/hbou/forwarding",
            cells(403, hbou_admin=404, operator=404),
        ),
    ],
    "standards and jobs": [
        Row("standards versions", "GET", lambda w: "/api/v1/standards", cells(200)),
        Row("standards in force", "GET", lambda w: "/api/v1/standards/in-force", cells(200)),
        Row(
            "one standards version",
            "GET",
            lambda w: "/api/v1/standards/{id}/{version}".format(**w.demo["standards"]),
            cells(200),
        ),
        Row(
            "publish (an invalid set)",
            "POST",
            lambda w: "/api/v1/standards",
            cells(403, operator=422),
            body=lambda who: {},
        ),
        Row(
            "re-evaluate (report only)",
            "POST",
            lambda w: "/api/v1/standards/{id}/{version}/reevaluate".format(**w.demo["standards"]),
            OPERATOR_ONLY,
        ),
        Row("job counts", "GET", lambda w: "/api/v1/jobs/stats", OPERATOR_ONLY),
        Row("dead letters", "GET", lambda w: "/api/v1/jobs/dead", OPERATOR_ONLY),
        Row(
            "replay every dead letter", "POST", lambda w: "/api/v1/jobs/dead/replay", OPERATOR_ONLY
        ),
        Row(
            "one job (checked first)",
            "GET",
            lambda w: "/api/v1/jobs/999999",
            cells(403, operator=404),
        ),
        Row(
            "replay one job (checked first)",
            "POST",
            lambda w: "/api/v1/jobs/999999/replay",
            cells(403, operator=404),
        ),
    ],
    "xapi": [
        Row(
            "void for an institution (checked first)",
            "POST",
            lambda w: f"/api/v1/statements/{NO_SUCH}/void",
            cells(403, operator=404),
            body=lambda who: {"reason": "matrix"},
        ),
        Row(
            "store statements",
            "POST",
            lambda w: "/xapi/statements",
            cells(403, fxvs_lrs=200),
            body=_statement,
            headers=XAPI,
        ),
        Row(
            "store a statement by id",
            "PUT",
            lambda w: "/xapi/statements",
            cells(403, fxvs_lrs=204),
            body=lambda who: {**_statement(who), "id": "5e1f0e1c-0000-4000-8000-00000000b0b0"},
            params={"statementId": "5e1f0e1c-0000-4000-8000-00000000b0b0"},
            headers=XAPI,
        ),
        Row(
            "query statements",
            "GET",
            lambda w: "/xapi/statements",
            cells(403, fxvs_lrs=200),
            headers=XAPI,
        ),
        Row(
            "an activity",
            "GET",
            lambda w: "/xapi/activities",
            cells(403, fxvs_lrs=200),
            params={"activityId": FXVS_ACTIVITY},
            headers=XAPI,
        ),
        Row(
            "a person",
            "GET",
            lambda w: "/xapi/agents",
            cells(403, fxvs_lrs=200),
            params={"agent": FXVS_AGENT},
            headers=XAPI,
        ),
        *_documents(
            "activities/state",
            {"activityId": FXVS_ACTIVITY, "agent": FXVS_AGENT, "stateId": "s1"},
        ),
        *_documents("activities/profile", {"activityId": FXVS_ACTIVITY, "profileId": "p1"}),
        *_documents("agents/profile", {"agent": FXVS_AGENT, "profileId": "p1"}),
    ],
}

#: Routes anyone may call (the caller authenticates inside, or nothing is private).
PUBLIC = {
    "GET /healthz",
    "GET /readyz",
    "GET /xapi/about",
    "GET /oauth/jwks.json",
    "POST /oauth/token",  # the client authenticates itself (RFC 6749 §4.4)
    "POST /api/v1/auth/login",
    "POST /api/v1/auth/refresh",  # the refresh cookie is the credential
    "POST /api/v1/auth/logout",
    "GET /api/v1/ledger/checkpoints",
    "GET /api/v1/ledger/checkpoints/keys",
    "GET /api/v1/ledger/checkpoints/latest",
    "GET /api/v1/ledger/checkpoints/{checkpoint_id}",
    "POST /api/v1/verify",  # anyone verifies a presented transcript
    "GET /.well-known/jwks.json",
    "GET /.well-known/jwks/{kid}",
    "GET /api/v1/shares/{share_id}",  # the share URL is the capability the learner hands out
    "GET /.well-known/did.json",
    "GET /status/{list_id}",  # Bitstring Status Lists are public
}


async def _credentials(client: httpx.AsyncClient, world: World) -> dict[str, dict[str, Any]]:
    creds: dict[str, dict[str, Any]] = {"anonymous": {}}
    for user in ("lina", "zhang", "wang", "fxvs_admin", "hbou_admin", "operator"):
        password = world.password("wanglaoshi" if user == "wang" else user)
        username = "wanglaoshi" if user == "wang" else user
        creds[user] = {"headers": await login(client, username, password)}
    creds["fxvs_lrs"] = {"auth": world.basic("fxvs")}
    return creds


async def _mismatches(
    row: Row, client: httpx.AsyncClient, world: World, creds: dict[str, dict[str, Any]]
) -> dict[str, tuple[int, int]]:
    got: dict[str, int] = {}
    for who in CALLERS:
        response = await client.request(
            row.method,
            row.path(world),
            json=row.body(who) if row.body else None,
            files=row.files,
            params=row.params,
            headers={**row.headers, **creds[who].get("headers", {})},
            auth=creds[who].get("auth"),
        )
        got[who] = response.status_code
    return {who: (got[who], row.expect[who]) for who in CALLERS if got[who] != row.expect[who]}


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
async def test_matrix_row(row: Row, client: httpx.AsyncClient, world: World):
    assert PASSWORD  # the world fixture's users exist
    creds = await _credentials(client, world)
    mismatches = await _mismatches(row, client, world, creds)
    assert not mismatches, f"{row.name}: (got, expected) {mismatches}"


@pytest.mark.parametrize("group", sorted(GROUPS))
async def test_matrix_group(group: str, client: httpx.AsyncClient, world: World):
    creds = await _credentials(client, world)
    failures = {}
    for row in GROUPS[group]:
        mismatches = await _mismatches(row, client, world, creds)
        if mismatches:
            failures[row.name] = mismatches
    assert not failures, f"{group}: (got, expected) {failures}"


class TestStatementsVisibility:
    """An institution reads only the statements it stored unless granted statements/read."""

    async def test_read_mine_versus_read_all(self, client: httpx.AsyncClient, world: World):
        headers = await login(client, "operator", world.password("operator"))
        made = {}
        for key, scopes in (
            ("fxvs", ["statements/write", "statements/read/mine"]),
            ("mooc1", ["statements/write", "statements/read/mine"]),
            ("hbou", ["statements/read"]),
        ):
            response = await client.post(
                f"/api/v1/institutions/{key}/credentials",
                json={"scopes": scopes},
                headers=headers,
            )
            assert response.status_code == 201
            made[key] = (response.json()["key"], response.json()["secret"])
        xapi = {"X-Experience-API-Version": "1.0.3"}
        for key, home in (
            ("fxvs", "https://fxvs.example.edu.cn"),
            ("mooc1", "https://mooc1.example.cn"),
        ):
            statement = {
                "actor": {"account": {"homePage": home, "name": "s1"}},
                "verb": {"id": "http://adlnet.gov/expapi/verbs/completed"},
                "object": {"id": f"{home}/xapi/activities/c1"},
            }
            posted = await client.post(
                "/xapi/statements", json=statement, headers=xapi, auth=made[key]
            )
            assert posted.status_code == 200, posted.text

        async def seen(auth: tuple[str, str]) -> set[str]:
            page = (await client.get("/xapi/statements", headers=xapi, auth=auth)).json()
            return {s["actor"]["account"]["homePage"] for s in page["statements"]}

        assert await seen(made["fxvs"]) == {"https://fxvs.example.edu.cn"}
        assert await seen(made["mooc1"]) == {"https://mooc1.example.cn"}
        assert await seen(made["hbou"]) == {
            "https://fxvs.example.edu.cn",
            "https://mooc1.example.cn",
        }


class TestCertifierScope:
    """``authz.require_certifier_scope``: the conversions context calls it."""

    LEARNER = uuid.uuid4()
    WANG = Principal(
        kind="user",
        id=uuid.uuid4(),
        roles=frozenset({"certifier"}),
        certifier_scopes=frozenset({("institution", "hbou")}),
    )
    WANG_AS_LEARNER = Principal(
        kind="user",
        id=uuid.uuid4(),
        roles=frozenset({"certifier", "learner"}),
        learner_id=LEARNER,
        certifier_scopes=frozenset({("institution", "hbou")}),
    )
    PROGRAMME = Principal(
        kind="user",
        id=uuid.uuid4(),
        roles=frozenset({"certifier"}),
        certifier_scopes=frozenset({("programme", "hbou-mech-associate")}),
    )
    OPERATOR = Principal(kind="user", id=uuid.uuid4(), roles=frozenset({"operator"}))
    LEARNER_ONLY = Principal(
        kind="user", id=uuid.uuid4(), roles=frozenset({"learner"}), learner_id=LEARNER
    )

    @pytest.mark.parametrize(
        ("principal", "target", "programme", "applicant", "allowed"),
        [
            ("WANG", "hbou", None, None, True),
            ("WANG", "fxvs", None, None, False),
            ("WANG_AS_LEARNER", "hbou", None, LEARNER, False),  # never her own
            ("WANG_AS_LEARNER", "hbou", None, uuid.uuid4(), True),
            ("PROGRAMME", "hbou", "hbou-mech-associate", None, True),
            ("PROGRAMME", "hbou", "other", None, False),
            ("OPERATOR", "fxvs", None, None, True),
            ("LEARNER_ONLY", "hbou", None, None, False),
        ],
    )
    def test_review(
        self,
        principal: str,
        target: str,
        programme: str | None,
        applicant: uuid.UUID | None,
        allowed: bool,
    ):
        who = getattr(self, principal)
        if allowed:
            authz.require_certifier_scope(
                who, target, programme=programme, applicant_learner_id=applicant
            )
        else:
            with pytest.raises(Forbidden):
                authz.require_certifier_scope(
                    who, target, programme=programme, applicant_learner_id=applicant
                )

    def test_listing_filter(self):
        assert authz.certifier_scopes(self.OPERATOR) is None
        assert authz.certifier_scopes(self.WANG) == frozenset({("institution", "hbou")})
        assert authz.certifier_scopes(self.LEARNER_ONLY) == frozenset()

    def test_learner_data_access(self):
        authz.require_learner_access(self.LEARNER_ONLY, self.LEARNER)
        authz.require_learner_access(self.OPERATOR, self.LEARNER)
        with pytest.raises(Forbidden):
            authz.require_learner_access(self.WANG, self.LEARNER)

    def test_every_action_is_in_the_table(self):
        assert not authz.allowed(self.OPERATOR, "no.such.action")


def _routes(routes: list[Any]) -> list[APIRoute]:
    """Every API route, also inside included routers (however FastAPI nests them)."""
    out: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            out.append(route)
        elif hasattr(route, "original_router"):
            # An included router (FastAPI >= 0.16x); ours carry their prefix themselves.
            assert not route.include_context.prefix, "teach _routes about include prefixes"
            out += _routes(route.original_router.routes)
    return out


def route_table(settings: Settings) -> list[APIRoute]:
    """Every API route of the application, in matching order."""
    return _routes(list(create_app(settings).routes))


def _name(route: APIRoute, method: str) -> str:
    return f"{method} {route.path}"


def _route_of(table: list[APIRoute], method: str, path: str) -> str:
    """The route a request is routed to (the first whose path and method match)."""
    for route in table:
        if route.path_regex.match(path) and method in (route.methods or ()):
            return _name(route, method)
    raise AssertionError(f"no route serves {method} {path}")


class _AnyWorld:
    """Stands in for the world when a row's path is routed without a database."""

    lina_id = zhang_id = NO_SUCH
    demo: ClassVar[dict[str, Any]] = {"standards": {"id": "demo", "version": "1"}}


def test_every_route_has_a_row_or_is_public(settings: Settings):
    table = route_table(settings)
    rows = [*ROWS, *(row for rows in GROUPS.values() for row in rows)]
    world: Any = _AnyWorld()
    covered = {_route_of(table, row.method, row.path(world)) for row in rows}
    every = {_name(r, m) for r in table for m in r.methods or () if m != "HEAD"}
    missing = sorted(every - covered - PUBLIC)
    assert not missing, f"routes without an authorization row (or PUBLIC entry): {missing}"
    stale = sorted(PUBLIC - every)
    assert not stale, f"PUBLIC names no route: {stale}"
