"""A transcript credential (the signed ClrCredential, or what of it a share disclosed)
read into plain rows for the HTML view, the PDF and the verify page.

Tolerant by design: a selectively disclosed credential lacks whole parts, and a
presented one may be anything; what is missing is simply not shown.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any


@dataclass(frozen=True)
class OutcomeRow:
    unit_code: str
    title_zh: str
    title_en: str
    level: str
    credits: Decimal | None
    credits_available: Decimal | None
    awarded: str
    valid_until: str
    institution_zh: str
    institution_en: str
    evidence: int

    def title(self, lang: str) -> str:
        return (self.title_en if lang == "en" else self.title_zh) or self.title_zh

    def institution(self, lang: str) -> str:
        return (self.institution_en if lang == "en" else self.institution_zh) or (
            self.institution_zh
        )


@dataclass(frozen=True)
class ConversionRow:
    claim_id: str
    programme: str
    target_unit: str
    title_zh: str
    title_en: str
    credits: Decimal | None
    decided: str
    target_institution: str
    source_units: list[str]

    def title(self, lang: str) -> str:
        return (self.title_en if lang == "en" else self.title_zh) or self.title_zh


@dataclass(frozen=True)
class TranscriptView:
    credential_id: str
    name: str
    issuer_id: str
    issuer_name: str
    subject: str
    valid_from: str
    valid_until: str
    as_of: str
    outcomes: list[OutcomeRow] = field(default_factory=list)
    conversions: list[ConversionRow] = field(default_factory=list)
    totals: dict[str, Decimal | None] = field(default_factory=dict)

    @property
    def transcript_id(self) -> str:
        return self.credential_id.removeprefix("urn:uuid:")


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _day(value: Any) -> str:
    """``2026-03-01`` of an ISO timestamp (the view shows dates, the report the instant)."""
    return _text(value)[:10]


def _credits(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _split(bilingual: str) -> tuple[str, str]:
    """``"中文 / English"`` (the credential's bilingual names) into its two sides."""
    zh, sep, en = bilingual.partition(" / ")
    return (zh, en) if sep else (bilingual, "")


def _outcome(vc: dict[str, Any]) -> OutcomeRow:
    subject = _dict(vc.get("credentialSubject"))
    achievement = _dict(subject.get("achievement"))
    source = _dict(subject.get("source")) or _dict(achievement.get("creator"))
    zh, en = _split(_text(achievement.get("description")) or _text(vc.get("name")))
    level = next(
        (_text(a.get("targetCode")) for a in _list(achievement.get("alignment")) if _dict(a)),
        "",
    )
    return OutcomeRow(
        unit_code=_text(achievement.get("humanCode")),
        title_zh=_text(achievement.get("name")) or zh,
        title_en=en,
        level=level,
        credits=_credits(subject.get("creditsEarned")),
        credits_available=_credits(achievement.get("creditsAvailable")),
        awarded=_day(subject.get("activityEndDate") or vc.get("validFrom")),
        valid_until=_day(vc.get("validUntil")),
        institution_zh=_text(source.get("name")),
        institution_en=_text(source.get("name_en")),
        evidence=len(_list(vc.get("evidence"))),
    )


def _conversion(claim: dict[str, Any]) -> ConversionRow:
    title = _dict(claim.get("title"))
    return ConversionRow(
        claim_id=_text(claim.get("id")),
        programme=_text(claim.get("programme")),
        target_unit=_text(claim.get("targetUnit")),
        title_zh=_text(title.get("zh")),
        title_en=_text(title.get("en")),
        credits=_credits(claim.get("credits")),
        decided=_day(claim.get("decisionDate")),
        target_institution=_text(claim.get("targetInstitution")).rsplit("/", 1)[-1],
        source_units=[u for u in _list(claim.get("sourceUnits")) if isinstance(u, str)],
    )


def read(credential: dict[str, Any] | str | None) -> TranscriptView | None:
    """The view of a credential (a dict, or its JSON text); None when it is none."""
    if isinstance(credential, str):
        try:
            credential = json.loads(credential)
        except ValueError:
            return None
    if not isinstance(credential, dict):
        return None
    if "credentialSubject" not in credential and (
        "achievements" in credential or "vct" in credential
    ):
        return _disclosed(credential)
    issuer = credential.get("issuer")
    issuer_d = _dict(issuer)
    subject = _dict(credential.get("credentialSubject"))
    totals = _dict(subject.get("creditTotals"))
    return TranscriptView(
        credential_id=_text(credential.get("id")),
        name=_text(credential.get("name")),
        issuer_id=_text(issuer_d.get("id")) or _text(issuer),
        issuer_name=_text(issuer_d.get("name")),
        subject=_text(subject.get("id")),
        valid_from=_text(credential.get("validFrom")),
        valid_until=_text(credential.get("validUntil")),
        as_of=_text(subject.get("asOf")),
        outcomes=[_outcome(vc) for vc in _list(subject.get("verifiableCredential")) if _dict(vc)],
        conversions=[_conversion(c) for c in _list(subject.get("conversions")) if _dict(c)],
        totals={
            name: _credits(totals[name])
            for name in ("banked", "available", "converted")
            if name in totals
        },
    )


def _instant(value: Any) -> str:
    """An ISO instant of a JWT NumericDate (``nbf``, ``exp``); empty when it is none."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return ""
    try:
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return ""


def _disclosed(claims: dict[str, Any]) -> TranscriptView:
    """The claims an SD-JWT VC share disclosed (its disclosures put in place): outcomes
    as ``achievements``, ``conversions``, and the personal ``sub`` / ``credit_totals``
    only when they were chosen."""
    totals = _dict(claims.get("credit_totals"))
    return TranscriptView(
        credential_id=_text(claims.get("jti")),
        name=_text(claims.get("name")),
        issuer_id=_text(claims.get("iss")),
        issuer_name="",
        subject=_text(claims.get("sub")),
        valid_from=_instant(claims.get("nbf")),
        valid_until=_instant(claims.get("exp")),
        as_of=_text(claims.get("as_of")),
        outcomes=[_outcome(vc) for vc in _list(claims.get("achievements")) if _dict(vc)],
        conversions=[_conversion(c) for c in _list(claims.get("conversions")) if _dict(c)],
        totals={
            name: _credits(totals[name])
            for name in ("banked", "available", "converted")
            if name in totals
        },
    )
