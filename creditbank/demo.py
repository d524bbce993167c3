"""The demo data of the li-na scenario: institutions with LRS credentials.

Demo secrets are derived from the server's secret key, so a second run finds the
same credentials and can print them again (a stored hash cannot be reversed).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.identity.models import LrsCredential
from creditbank.identity.repository import IdentityRepository
from creditbank.identity.service import hash_secret
from creditbank.identity.service import identity as identity_service


@dataclass(frozen=True)
class DemoInstitution:
    key: str
    name_zh: str
    name_en: str
    type: str
    accredited: bool
    home_page: str


DEMO_INSTITUTIONS = (
    DemoInstitution(
        "fxvs",
        "房县职业技术学校",
        "Fangxian Vocational School",
        "vocational",
        True,
        "https://fxvs.example.edu.cn",
    ),
    DemoInstitution(
        "syu3a",
        "十堰市老年大学",
        "Shiyan University for the Elderly",
        "senior",
        True,
        "https://syu3a.example.edu.cn",
    ),
    DemoInstitution(
        "fxcc",
        "房县社区学院",
        "Fangxian Community College",
        "community",
        True,
        "https://fxcc.example.edu.cn",
    ),
    DemoInstitution("mooc1", "荆楚慕课", "Jingchu MOOC", "mooc", True, "https://mooc1.example.cn"),
    DemoInstitution(
        "hbou",
        "湖北开放大学",
        "Hubei Open University",
        "degree",
        True,
        "https://hbou.example.edu.cn",
    ),
    DemoInstitution(
        "shady",
        "速成培训中心",
        "Quick Training Centre",
        "training",
        False,
        "https://shady.example.com",
    ),
)

DEMO_SCOPES = ("statements/write", "statements/read", "state", "profile", "define")


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
            )
        secret = demo_secret(settings, demo.key)
        credential_key = f"{demo.key}-demo"
        credential = await repo.credential_by_key(credential_key)
        if credential is None or credential.revoked_at is not None:
            if credential is not None:
                credential_key = f"{demo.key}-demo-{credential.created_at:%Y%m%d%H%M%S}"
            session.add(
                LrsCredential(
                    institution_id=institution.id,
                    key=credential_key,
                    secret_hash=hash_secret(secret),
                    scopes=sorted(DEMO_SCOPES),
                    label="demo",
                )
            )
            await session.flush()
        out[demo.key] = {
            "name": demo.name_zh,
            "type": demo.type,
            "accredited": demo.accredited,
            "lrs_key": credential_key,
            "lrs_secret": secret,
            "home_page": demo.home_page,
        }
    return {"institutions": out}
