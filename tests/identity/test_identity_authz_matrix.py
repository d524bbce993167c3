"""The authorization matrix, each cell over real HTTP (plus the certifier rules, which no
HTTP endpoint of this context exercises yet, through ``authz`` directly).

Rows are requests; columns are callers. A cell is the expected status code.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from creditbank.errors import Forbidden
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from tests.identity.conftest import PASSWORD, World, login

CALLERS = ("anonymous", "lina", "zhang", "wang", "fxvs_admin", "hbou_admin", "fxvs_lrs", "operator")


@dataclass
class Row:
    name: str
    method: str
    path: Callable[[World], str]
    expect: dict[str, int]
    body: Callable[[str], Any] | None = None
    params: dict[str, str] = field(default_factory=dict)


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


ROWS = [
    Row("health", "GET", lambda w: "/healthz", cells(200, anonymous=200)),
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
    Row("list users", "GET", lambda w: "/api/v1/users", cells(403, operator=200)),
    Row("audit log", "GET", lambda w: "/api/v1/audit", cells(403, operator=200)),
]


async def _credentials(client: httpx.AsyncClient, world: World) -> dict[str, dict[str, Any]]:
    creds: dict[str, dict[str, Any]] = {"anonymous": {}}
    for user in ("lina", "zhang", "wang", "fxvs_admin", "hbou_admin", "operator"):
        password = world.password("wanglaoshi" if user == "wang" else user)
        username = "wanglaoshi" if user == "wang" else user
        creds[user] = {"headers": await login(client, username, password)}
    creds["fxvs_lrs"] = {"auth": world.basic("fxvs")}
    return creds


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.name)
async def test_matrix_row(row: Row, client: httpx.AsyncClient, world: World):
    assert PASSWORD  # the world fixture's users exist
    creds = await _credentials(client, world)
    got: dict[str, int] = {}
    for who in CALLERS:
        response = await client.request(
            row.method,
            row.path(world),
            json=row.body(who) if row.body else None,
            params=row.params,
            **creds[who],
        )
        got[who] = response.status_code
    mismatches = {
        who: (got[who], row.expect[who]) for who in CALLERS if got[who] != row.expect[who]
    }
    assert not mismatches, f"{row.name}: (got, expected) {mismatches}"


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
