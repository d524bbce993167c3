"""The demo data of the li-na scenario: institutions with LRS credentials, and users:
learner 李娜 with her five institution accounts linked, certifier 王老师 (scoped to
hbou) and an operator.

Demo secrets are derived from the server's secret key, so a second run finds the
same credentials and can print them again (a stored hash cannot be reversed).
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.identity.models import Institution, LrsCredential
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.service import DEFAULT_LRS_SCOPES, hash_secret
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import RoleSpec
from creditbank.identity.signin import sign_in as sign_in_service
from creditbank.identity.tokens import keyring_for


@dataclass(frozen=True)
class DemoInstitution:
    key: str
    name_zh: str
    name_en: str
    type: str
    accredited: bool
    home_page: str
    #: GB/T 2260 code of where it is (the dashboard groups by it)
    region_code: str | None = None


DEMO_INSTITUTIONS = (
    DemoInstitution(
        "fxvs",
        "房县职业技术学校",
        "Fangxian Vocational School",
        "vocational",
        True,
        "https://fxvs.example.edu.cn",
        "420325",
    ),
    DemoInstitution(
        "syu3a",
        "十堰市老年大学",
        "Shiyan University for the Elderly",
        "senior",
        True,
        "https://syu3a.example.edu.cn",
        "420300",
    ),
    DemoInstitution(
        "fxcc",
        "房县社区学院",
        "Fangxian Community College",
        "community",
        True,
        "https://fxcc.example.edu.cn",
        "420325",
    ),
    DemoInstitution(
        "mooc1", "荆楚慕课", "Jingchu MOOC", "mooc", True, "https://mooc1.example.cn", "420100"
    ),
    DemoInstitution(
        "hbou",
        "湖北开放大学",
        "Hubei Open University",
        "degree",
        True,
        "https://hbou.example.edu.cn",
        "420100",
    ),
    DemoInstitution(
        "shady",
        "速成培训中心",
        "Quick Training Centre",
        "training",
        False,
        "https://shady.example.com",
        "420300",
    ),
)

DEMO_ACCREDITED_FROM = datetime(2015, 1, 1, tzinfo=UTC)

#: What an institution's system gets, as for any credential created through the API:
#: it reads back only the statements its institution stored (least privilege).
DEMO_SCOPES = DEFAULT_LRS_SCOPES
#: The separate credential for the ADL LRS conformance suite, which reads statements of
#: every sender (scope ``all``): for that test run only, never for an institution's system.
CONFORMANCE_KEY = "conformance-suite"
CONFORMANCE_INSTITUTION = "fxvs"
CONFORMANCE_SCOPES = ("all",)
CONFORMANCE_LABEL = (
    "ADL LRS conformance suite only (scope all: reads every institution's statements); "
    "not for an institution's system"
)


def demo_secret(settings: Settings, key: str) -> str:
    """The demo LRS secret of institution ``key`` under this server's secret key."""
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(), f"demo-lrs:{key}".encode(), hashlib.sha256
    ).hexdigest()
    return digest[:40]


async def load_demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """Create (or find) the demo institutions and credentials; returns what scripts need."""
    repo = IdentityRepository.from_session(session)
    out: dict[str, Any] = {}
    for demo in DEMO_INSTITUTIONS:
        institution = await repo.institution_by_key(demo.key)
        if institution is None:
            institution = await identity_service.create_institution(
                session,
                key=demo.key,
                name_zh=demo.name_zh,
                name_en=demo.name_en,
                type=demo.type,
                home_pages=[demo.home_page],
                accredited=demo.accredited,
                region_code=demo.region_code,
                # Accredited long before the demo runs, so replayed records dated in
                # the past are judged as the scenario intends.
                accredited_from=DEMO_ACCREDITED_FROM,
            )
        secret = demo_secret(settings, demo.key)
        credential_key = f"{demo.key}-demo"
        credential = await repo.credential_by_key(credential_key)
        if credential is None or credential.revoked_at is not None:
            if credential is not None:
                credential_key = f"{demo.key}-demo-{credential.created_at:%Y%m%d%H%M%S}"
            credential = LrsCredential(
                institution_id=institution.id,
                key=credential_key,
                secret_hash=hash_secret(secret),
                scopes=sorted(DEMO_SCOPES),
                label="demo",
                # None: the server default answers requests that name no xAPI version.
                xapi_version=None,
            )
            session.add(credential)
            await session.flush()
        out[demo.key] = {
            "name": demo.name_zh,
            "type": demo.type,
            "accredited": demo.accredited,
            "lrs_key": credential_key,
            "lrs_secret": secret,
            "xapi_version": credential.xapi_version,
            "home_page": demo.home_page,
        }
    institutions = {demo.key: await repo.institution_by_key(demo.key) for demo in DEMO_INSTITUTIONS}
    users = await _load_demo_users(session, settings, institutions)
    return {
        "institutions": out,
        "conformance": await _load_conformance_credential(session, settings),
        "users": users,
        "standards": await _publish_demo_standards(session),
    }


async def _load_conformance_credential(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """The clearly labelled credential the conformance suite runs with (scope ``all``)."""
    repo = IdentityRepository.from_session(session)
    institution = await repo.institution_by_key(CONFORMANCE_INSTITUTION)
    assert institution is not None  # noqa: S101 - created by load_demo just before
    secret = demo_secret(settings, CONFORMANCE_KEY)
    credential = await repo.credential_by_key(CONFORMANCE_KEY)
    if credential is None:
        session.add(
            LrsCredential(
                institution_id=institution.id,
                key=CONFORMANCE_KEY,
                secret_hash=hash_secret(secret),
                scopes=list(CONFORMANCE_SCOPES),
                label=CONFORMANCE_LABEL,
                xapi_version=None,
            )
        )
        await session.flush()
    return {
        "institution": CONFORMANCE_INSTITUTION,
        "lrs_key": CONFORMANCE_KEY,
        "lrs_secret": secret,
        "scopes": list(CONFORMANCE_SCOPES),
        "label": CONFORMANCE_LABEL,
    }


#: The li-na demo standards set shipped with the code (top-level ``standards/demo``).
DEMO_STANDARDS_DIR = Path(__file__).resolve().parents[1] / "standards" / "demo"


async def _publish_demo_standards(session: AsyncSession) -> dict[str, Any]:
    """Publish the demo standards set unless that version is published (idempotent)."""
    from creditbank.standards.service import standards as standards_service

    published = await standards_service.publish_directory(session, DEMO_STANDARDS_DIR, actor="demo")
    return {
        "id": published.row.set_id,
        "version": published.row.version,
        "hash": published.row.content_hash,
    }


#: 李娜's account (student number) at each institution she studied with.
LI_NA_ACCOUNTS = {
    "fxvs": "FX2019001",
    "mooc1": "lina_1988",
    "fxcc": "C-0042",
    "syu3a": "S2024-17",
    "hbou": "HB2024-0001",
}
LI_NA_NATIONAL_ID = "420325198803150028"


def demo_password(settings: Settings, username: str) -> str:
    """A demo password that meets the password rules, derived like the LRS secrets."""
    digest = hmac.new(
        settings.secret_key.get_secret_value().encode(),
        f"demo-user:{username}".encode(),
        hashlib.sha256,
    ).hexdigest()
    return f"Cb{digest[:12]}7x"


async def ensure_demo_user(
    session: AsyncSession,
    settings: Settings,
    username: str,
    *,
    display_name: str,
    roles: list[RoleSpec],
) -> None:
    """Create a demo staff user (password from ``demo_password``) unless it exists."""
    repo = IdentityRepository.from_session(session)
    if await repo.user_by_username(username) is None:
        await sign_in_service.create_user(
            session,
            "demo",
            settings=settings,
            username=username,
            password=demo_password(settings, username),
            display_name=display_name,
            roles=roles,
        )


async def _load_demo_users(
    session: AsyncSession, settings: Settings, institutions: dict[str, Institution | None]
) -> dict[str, Any]:
    repo = IdentityRepository.from_session(session)
    keyring = keyring_for(settings)
    hbou = institutions["hbou"]
    out: dict[str, Any] = {}

    lina = await repo.user_by_username("lina")
    if lina is None or lina.learner_id is None:
        learner = await repo.learner_by_national_id_index(
            keyring.blind_index(LI_NA_NATIONAL_ID, context="learners.national_id")
        )
        if learner is None:
            learner = await identity_service.create_learner(
                session,
                "demo",
                keyring=keyring,
                name="李娜",
                national_id=LI_NA_NATIONAL_ID,
                phone="13800138000",
                email="li.na@example.cn",
            )
        lina = await sign_in_service.create_user(
            session,
            "demo",
            settings=settings,
            username="lina",
            password=demo_password(settings, "lina"),
            display_name="李娜",
            learner=learner,
            roles=[RoleSpec("learner")],
        )
    learner_id = lina.learner_id
    assert learner_id is not None  # noqa: S101 - set just above
    learner = await identity_service.get_learner(session, learner_id)
    linked = []
    for key, name in LI_NA_ACCOUNTS.items():
        institution = institutions[key]
        if institution is None:
            continue
        agent = {"account": {"homePage": institution.home_pages[0], "name": name}}
        # The demo creates the credentials too, so no statement of these accounts can be
        # waiting for the link: no re-processing job (keeps the outbox empty for tests).
        link = await identity_service.link_by_operator(
            session, "demo", learner, agent=agent, institution=institution, process_waiting=False
        )
        linked.append({"institution": key, "ifi": link.ifi, "account": agent["account"]})
    out["learner"] = {
        "username": "lina",
        "password": demo_password(settings, "lina"),
        "name": "李娜",
        "learner_id": str(learner.id),
        "bank_id": learner.bank_id,
        "linked_accounts": linked,
    }

    await ensure_demo_user(
        session,
        settings,
        "wanglaoshi",
        display_name="王老师",
        roles=[RoleSpec("certifier", institution=hbou)],
    )
    out["certifier"] = {
        "username": "wanglaoshi",
        "password": demo_password(settings, "wanglaoshi"),
        "name": "王老师",
        "scope": {"institution": "hbou"},
    }

    await ensure_demo_user(
        session,
        settings,
        "operator",
        display_name="运营管理员 Operator",
        roles=[RoleSpec("operator")],
    )
    out["operator"] = {"username": "operator", "password": demo_password(settings, "operator")}

    # The vocational school's administrator: its LRS credentials in the portal.
    await ensure_demo_user(
        session,
        settings,
        "fxvsadmin",
        display_name="房县职校管理员",
        roles=[RoleSpec("institution_admin", institution=institutions["fxvs"])],
    )
    out["institution_admin"] = {
        "username": "fxvsadmin",
        "password": demo_password(settings, "fxvsadmin"),
        "institution": "fxvs",
    }
    return out


# -- the story: statements 1-7 through the LRS, recognition, conversions C1 and C2 ---------

#: Fixed ids, so a second ``demo`` finds its statements stored (an equivalent duplicate
#: is a no-op) and changes nothing.
STORY_NAMESPACE = uuid.UUID("6a3c1f4e-2b7d-4c55-9e0a-5d8f1b2c3a41")
PASSED = "http://adlnet.gov/expapi/verbs/passed"
COMPLETED = "http://adlnet.gov/expapi/verbs/completed"
ATTENDED = "http://adlnet.gov/expapi/verbs/attended"


def story_statements() -> list[tuple[str, dict[str, Any]]]:
    """Statements 1-7 of the scenario, each with the key of the institution sending it."""

    def account(key: str) -> dict[str, Any]:
        home = next(d.home_page for d in DEMO_INSTITUTIONS if d.key == key)
        name = LI_NA_ACCOUNTS.get(key, "LN-0001")
        return {"objectType": "Agent", "account": {"homePage": home, "name": name}}

    plan: list[tuple[str, str, str, dict[str, Any], str]] = [
        (
            "fxvs",
            PASSED,
            "https://fxvs.example.edu.cn/xapi/activities/cert-elec-4-assessment",
            {"score": {"scaled": 0.82}},
            "2025-06-20T09:00:00Z",
        ),
        (
            "mooc1",
            COMPLETED,
            "https://mooc1.example.cn/courses/python",
            {"success": True, "score": {"scaled": 0.91}},
            "2025-03-15T10:00:00Z",
        ),
        (
            "mooc1",
            COMPLETED,
            "https://mooc1.example.cn/courses/data-structures",
            {"success": True, "score": {"scaled": 0.55}},
            "2025-04-10T10:00:00Z",
        ),
        (
            "fxcc",
            ATTENDED,
            "https://fxcc.example.edu.cn/courses/first-aid-16h",
            {"duration": "PT16H"},
            "2025-05-08T14:00:00Z",
        ),
        (
            "syu3a",
            COMPLETED,
            "https://syu3a.example.edu.cn/courses/calligraphy",
            {"duration": "PT20H"},
            "2025-07-01T15:00:00Z",
        ),
        (
            "shady",
            COMPLETED,
            "https://shady.example.com/courses/data-structures",
            {"success": True, "completion": True},
            "2025-08-01T08:00:00Z",
        ),
        (
            "mooc1",
            COMPLETED,
            "https://mooc1.example.cn/courses/python",
            {"success": True, "score": {"scaled": 0.95}},
            "2025-09-12T10:00:00Z",
        ),
    ]
    out = []
    for number, (key, verb, activity, result, timestamp) in enumerate(plan, start=1):
        out.append(
            (
                key,
                {
                    "id": str(uuid.uuid5(STORY_NAMESPACE, f"statement-{number}")),
                    "actor": account(key),
                    "verb": {"id": verb, "display": {"zh-CN": verb.rsplit("/", 1)[-1]}},
                    "object": {"objectType": "Activity", "id": activity},
                    "result": result,
                    "timestamp": timestamp,
                },
            )
        )
    return out


async def replay_statements(
    database: Database, settings: Settings, data: dict[str, Any]
) -> list[str]:
    """Send statements 1-7 through the LRS service, each with its institution's credential."""
    from creditbank.lrs.service import statements as lrs_service

    ids = []
    for key, body in story_statements():
        item = data["institutions"][key]
        async with database.session_scope() as session:
            principal = await identity_service.authenticate_basic(
                session, item["lrs_key"], item["lrs_secret"]
            )
            await lrs_service.store_statements(
                session, principal, [body], version="1.0.3", settings=settings.lrs
            )
        ids.append(body["id"])
    return ids


async def story_conversions(database: Database, settings: Settings) -> dict[str, Any]:
    """李娜 applies for C1 and C2; 王老师 approves C1; C2 waits in the queue (idempotent)."""
    from creditbank.conversions.service import conversions as conversion_service
    from creditbank.identity.signin import user_principal

    out: dict[str, Any] = {}
    for rule_id in ("C1", "C2"):
        async with database.session_scope() as session:
            repo = IdentityRepository.from_session(session)
            lina = await repo.user_by_username("lina")
            if lina is None or lina.learner_id is None:
                return out
            principal = user_principal(lina)
            existing = [
                a
                for a in await conversion_service.of_learner(session, principal, lina.learner_id)
                if a.rule_id == rule_id and a.status not in ("withdrawn", "rejected")
            ]
            if existing:
                application = existing[0]
            else:
                application = await conversion_service.apply(
                    session,
                    principal,
                    settings,
                    learner_id=lina.learner_id,
                    rule_id=rule_id,
                    note="演示申请 demo application",
                )
            if rule_id == "C1" and application.status == "pending":
                certifier = await repo.user_by_username("wanglaoshi")
                if certifier is not None:
                    from creditbank.conversions.schemas import DecisionCreate

                    reason = "电工证书（中级）对应电工基础 / the certificate matches the unit"
                    application = await conversion_service.review(
                        session,
                        user_principal(certifier),
                        settings,
                        application.id,
                        decision=DecisionCreate(decision="approve", reason=reason).decision,
                        reason=reason,
                    )
            out[rule_id] = {"id": str(application.id), "status": application.status}
    return out


async def tell_the_story(
    database: Database,
    settings: Settings,
    data: dict[str, Any],
    drain: Callable[[], Awaitable[int]],
) -> dict[str, Any]:
    """Replay the scenario through the real pipeline; ``drain`` runs the queued jobs to
    completion (the CLI passes the worker's, so recognition runs in-process)."""
    statements = await replay_statements(database, settings, data)
    await drain()
    applications = await story_conversions(database, settings)
    await drain()
    return {"statements": statements, "applications": applications}
