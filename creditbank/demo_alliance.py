"""The demo data of the university alliance story (校际学分互认, ``standards/hubei-alliance``).

Three universities with LRS credentials; 陈晓, a primary-education student of
湖北师范大学 who took online courses at 黄冈师范学院 and 湖北第二师范学院, with her
three university accounts linked; 刘老师, certifier of 湖北师范大学; the operator of
the li-na demo. Loaded by ``creditbank demo --alliance``; serve with
``CREDITBANK_RULES__STANDARDS_SET=hubei-alliance`` so the alliance set is in force.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import (
    DEMO_ACCREDITED_FROM,
    DEMO_SCOPES,
    DemoInstitution,
    demo_password,
    demo_secret,
    ensure_demo_user,
)
from creditbank.identity.models import LrsCredential
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.service import hash_secret
from creditbank.identity.service import identity as identity_service
from creditbank.identity.signin import RoleSpec
from creditbank.identity.signin import sign_in as sign_in_service
from creditbank.identity.tokens import keyring_for

ALLIANCE_INSTITUTIONS = (
    DemoInstitution(
        "hbnu", "湖北师范大学", "Hubei Normal University", "degree", True,
        "https://hbnu.example.edu.cn", "420200",
    ),
    DemoInstitution(
        "hgnu", "黄冈师范学院", "Huanggang Normal University", "degree", True,
        "https://hgnu.example.edu.cn", "421100",
    ),
    DemoInstitution(
        "hue", "湖北第二师范学院", "Hubei University of Education", "degree", True,
        "https://hue.example.edu.cn", "420100",
    ),
)  # fmt: skip
ALLIANCE_STANDARDS_DIR = Path(__file__).resolve().parents[1] / "standards" / "hubei-alliance"
#: 陈晓's student number at each university.
CHEN_XIAO_ACCOUNTS = {"hbnu": "2023110042", "hgnu": "HX-2025-0917", "hue": "E25O-3381"}
CHEN_XIAO_NATIONAL_ID = "420202200309150022"


async def load_alliance_demo(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    """Create (or find) the alliance's institutions, credentials and users; publish the set."""
    repo = IdentityRepository.from_session(session)
    institutions: dict[str, Any] = {}
    out: dict[str, Any] = {}
    for demo in ALLIANCE_INSTITUTIONS:
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
                accredited_from=DEMO_ACCREDITED_FROM,
            )
        institutions[demo.key] = institution
        secret = demo_secret(settings, demo.key)
        credential_key = f"{demo.key}-demo"
        if await repo.credential_by_key(credential_key) is None:
            session.add(
                LrsCredential(
                    institution_id=institution.id,
                    key=credential_key,
                    secret_hash=hash_secret(secret),
                    scopes=sorted(DEMO_SCOPES),
                    label="demo",
                    xapi_version=None,
                )
            )
            await session.flush()
        out[demo.key] = {
            "name": demo.name_zh,
            "type": demo.type,
            "lrs_key": credential_key,
            "lrs_secret": secret,
            "home_page": demo.home_page,
        }

    keyring = keyring_for(settings)
    user = await repo.user_by_username("chenxiao")
    if user is None or user.learner_id is None:
        learner = await identity_service.create_learner(
            session,
            "demo",
            keyring=keyring,
            name="陈晓",
            national_id=CHEN_XIAO_NATIONAL_ID,
            phone="13900139000",
            email="chen.xiao@example.cn",
        )
        user = await sign_in_service.create_user(
            session,
            "demo",
            settings=settings,
            username="chenxiao",
            password=demo_password(settings, "chenxiao"),
            display_name="陈晓",
            learner=learner,
            roles=[RoleSpec("learner")],
        )
    assert user.learner_id is not None  # noqa: S101 - set just above
    learner = await identity_service.get_learner(session, user.learner_id)
    linked = []
    for key, name in CHEN_XIAO_ACCOUNTS.items():
        institution = institutions[key]
        agent = {"account": {"homePage": institution.home_pages[0], "name": name}}
        await identity_service.link_by_operator(
            session, "demo", learner, agent=agent, institution=institution, process_waiting=False
        )
        linked.append({"institution": key, "account": agent["account"]})

    await ensure_demo_user(
        session,
        settings,
        "liulaoshi",
        display_name="刘老师",
        roles=[RoleSpec("certifier", institution=institutions["hbnu"])],
    )
    await ensure_demo_user(
        session,
        settings,
        "operator",
        display_name="运营管理员 Operator",
        roles=[RoleSpec("operator")],
    )

    from creditbank.standards.service import standards as standards_service

    published = await standards_service.publish_directory(
        session, ALLIANCE_STANDARDS_DIR, actor="demo"
    )
    return {
        "institutions": out,
        "users": {
            "learner": {
                "username": "chenxiao",
                "password": demo_password(settings, "chenxiao"),
                "name": "陈晓",
                "learner_id": str(learner.id),
                "linked_accounts": linked,
            },
            "certifier": {
                "username": "liulaoshi",
                "password": demo_password(settings, "liulaoshi"),
                "name": "刘老师",
                "scope": {"institution": "hbnu"},
            },
            "operator": {"username": "operator", "password": demo_password(settings, "operator")},
        },
        "standards": {
            "id": published.row.set_id,
            "version": published.row.version,
            "hash": published.row.content_hash,
        },
    }
