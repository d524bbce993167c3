"""The transcript credential: a CLR 2.0 ``ClrCredential`` holding one Open Badges 3.0
``AchievementCredential`` per outcome, the conversions and the totals.

Pure: the service reads the ledger, outcomes and conversions as of a moment and hands
them here as plain values, so the same inputs always give the same claims.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from creditbank.kit.time import isoformat_z

VC_V2 = "https://www.w3.org/ns/credentials/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_V2 = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
#: Maps the terms that neither VC 2.0 nor OB 3.0 / CLR 2.0 define (conversions, totals,
#: English names) to the W3C's undefined-term vocabulary instead of dropping them from
#: the RDF that the Data Integrity proof signs.
UNDEFINED_TERMS_V2 = "https://www.w3.org/ns/credentials/undefined-terms/v2"
#: Names of the bank's own achievement and conversion ids (uuid5 namespace).
_IDS = uuid.UUID("6f1d3a52-6b7e-4d6c-9a51-1e0c2a3b7d10")
ISSUER_NAME = "终身学习学分银行 / Lifelong Learning Credit Bank"


@dataclass(frozen=True)
class OutcomeClaim:
    outcome_id: uuid.UUID
    unit_code: str
    title_zh: str
    title_en: str
    level: int
    category: str
    unit_credits: Decimal
    credits: Decimal
    awarded_at: datetime
    expires_at: datetime | None
    institution_key: str
    institution_name_zh: str
    institution_name_en: str | None
    statement_ids: list[str]


@dataclass(frozen=True)
class ConversionClaim:
    application_id: uuid.UUID
    target_institution_key: str
    programme: str
    target_unit: str | None
    title: dict[str, Any]
    credits: Decimal
    decided_at: datetime
    source_units: list[str]


@dataclass(frozen=True)
class Totals:
    banked: Decimal
    available: Decimal
    converted: Decimal


def _q(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


def _t(value: datetime) -> str:
    """Whole seconds: ``nbf``/``exp`` are whole seconds and must equal these."""
    return isoformat_z(value.replace(microsecond=0)).replace(".000Z", "Z")


def issuer_profile(issuer_id: str, issuer_did: str | None = None) -> dict[str, Any]:
    """The issuer: its ``did:web`` when given (Data Integrity verifiers require the issuer
    to be the controller of the proof's key), else the base URL."""
    return {"id": issuer_did or issuer_id, "type": ["Profile"], "name": ISSUER_NAME}


def achievement_credential(
    claim: OutcomeClaim, *, issuer_id: str, subject_id: str, issuer_did: str | None = None
) -> dict[str, Any]:
    achievement_id = f"{issuer_id}/units/{claim.unit_code}"
    institution: dict[str, Any] = {
        "id": f"{issuer_id}/institutions/{claim.institution_key}",
        "type": ["Profile"],
        "name": claim.institution_name_zh,
    }
    if claim.institution_name_en:
        institution["name_en"] = claim.institution_name_en
    out: dict[str, Any] = {
        "@context": [VC_V2, OB_V3, UNDEFINED_TERMS_V2],
        "id": f"urn:uuid:{uuid.uuid5(_IDS, f'outcome:{claim.outcome_id}')}",
        "type": ["VerifiableCredential", "OpenBadgeCredential", "AchievementCredential"],
        "issuer": issuer_profile(issuer_id, issuer_did),
        "name": f"{claim.title_zh} / {claim.title_en}",
        "validFrom": _t(claim.awarded_at),
        "credentialSubject": {
            "id": subject_id,
            "type": ["AchievementSubject"],
            "creditsEarned": _q(claim.credits),
            "activityEndDate": _t(claim.awarded_at),
            "source": institution,
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Course",
                "humanCode": claim.unit_code,
                "name": claim.title_zh,
                "inLanguage": "zh-CN",
                "description": f"{claim.title_zh} / {claim.title_en}",
                "creditsAvailable": _q(claim.unit_credits),
                "fieldOfStudy": claim.category,
                "alignment": [
                    {
                        "type": ["Alignment"],
                        "targetName": f"level {claim.level} / {claim.level}级",
                        "targetCode": str(claim.level),
                        "targetFramework": "creditbank learning-unit levels",
                        "targetType": "ext:FrameworkLevel",
                        "targetUrl": f"{issuer_id}/levels/{claim.level}",
                    }
                ],
                "creator": institution,
            },
        },
        "evidence": [
            {
                "id": f"urn:uuid:{sid}",
                "type": ["Evidence"],
                "name": "xAPI statement",
            }
            for sid in claim.statement_ids
        ],
    }
    if claim.expires_at is not None:
        out["validUntil"] = _t(claim.expires_at)
    return out


def conversion_claim(claim: ConversionClaim, *, issuer_id: str) -> dict[str, Any]:
    return {
        "id": f"urn:uuid:{uuid.uuid5(_IDS, f'conversion:{claim.application_id}')}",
        "type": ["CreditConversion"],
        "targetInstitution": f"{issuer_id}/institutions/{claim.target_institution_key}",
        "programme": claim.programme,
        "targetUnit": claim.target_unit,
        "title": claim.title,
        "credits": _q(claim.credits),
        "decisionDate": _t(claim.decided_at),
        "certifierRole": "certifier",
        "sourceUnits": sorted(claim.source_units),
    }


def build(
    *,
    transcript_id: uuid.UUID,
    issuer_id: str,
    subject_id: str,
    issued_at: datetime,
    as_of: datetime,
    outcomes: list[OutcomeClaim],
    conversions: list[ConversionClaim],
    totals: Totals,
    valid_until: datetime | None = None,
    issuer_did: str | None = None,
) -> dict[str, Any]:
    """The ClrCredential (unsigned). Order is stable: by unit code, by decision."""
    achievements = [
        achievement_credential(o, issuer_id=issuer_id, subject_id=subject_id, issuer_did=issuer_did)
        for o in sorted(outcomes, key=lambda o: (o.unit_code, str(o.outcome_id)))
    ]
    credential: dict[str, Any] = {
        "@context": [VC_V2, CLR_V2, OB_V3, UNDEFINED_TERMS_V2],
        "id": f"urn:uuid:{transcript_id}",
        "type": ["VerifiableCredential", "ClrCredential"],
        "issuer": issuer_profile(issuer_id, issuer_did),
        "name": "学习成果证明 / Learning record transcript",
        "validFrom": _t(issued_at),
        "credentialSubject": {
            "id": subject_id,
            "type": ["ClrSubject"],
            "asOf": _t(as_of),
            "verifiableCredential": achievements,
            "conversions": [
                conversion_claim(c, issuer_id=issuer_id)
                for c in sorted(conversions, key=lambda c: (c.decided_at, str(c.application_id)))
            ],
            "creditTotals": {
                "banked": _q(totals.banked),
                "available": _q(totals.available),
                "converted": _q(totals.converted),
            },
        },
    }
    if valid_until is not None:
        credential["validUntil"] = _t(valid_until)
    return credential
