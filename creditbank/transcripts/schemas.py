"""What the transcripts API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


class TranscriptCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: AwareDatetime | None = Field(
        default=None,
        description="read the ledger, outcomes and conversions as of this moment (default: now)",
    )


class TranscriptRead(BaseModel):
    """An issued transcript: the credential (JSON-LD) and its VC-JWT."""

    id: uuid.UUID
    issued_at: datetime
    as_of: datetime
    kid: str = Field(description="the JOSE kid: a URL returning the issuer's JWK")
    vc_jwt: str = Field(description="1EdTech VC-JWT (typ JWT)")
    vc_jose: str = Field(description="the same credential with typ vc+jwt (W3C VC-JOSE-COSE)")
    credential: dict[str, Any]
    sm2: dict[str, Any] | None = Field(
        default=None,
        description="detached SM2/SM3 signature of vc_jwt's JWS signing input (transcripts.sm2)",
    )


class TranscriptSummary(BaseModel):
    id: uuid.UUID
    issued_at: datetime
    as_of: datetime
    kid: str
    units: list[str]


class TranscriptStatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=500, description="kept in the audit log")


class TranscriptStatusRead(BaseModel):
    """A transcript's own status bits (its Bitstring Status List entries)."""

    id: uuid.UUID
    revoked: bool
    suspended: bool


class StatusListRead(BaseModel):
    """A Bitstring Status List credential as published (its JSON form)."""

    vc_jwt: str = Field(description="the BitstringStatusListCredential as a VC-JWT (typ JWT)")
    vc_jose: str = Field(description="the same with typ vc+jwt")
    credential: dict[str, Any]


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vc_jwt: str = Field(min_length=1, max_length=1_000_000)
    sm2: dict[str, Any] | None = Field(default=None, description="the issue answer's sm2 proof")


class VerifyReport(BaseModel):
    """``valid`` is true only when every check holds."""

    valid: bool
    format: str
    checks: dict[str, Any]
    errors: list[str]
    issuer: Any = None
    credential_id: Any = None
    subject: Any = None
    credential: dict[str, Any] | None = None


class JwkRead(BaseModel):
    """One issuer key as a JWK (RFC 7517); its other members are kept as they are."""

    model_config = ConfigDict(extra="allow")

    kty: str


class DidDocumentRead(BaseModel):
    """The bank's ``did:web`` DID document (W3C DID 1.0); other members kept as they are."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str] = Field(alias="@context")
    id: str
    verificationMethod: list[dict[str, Any]]
    assertionMethod: list[str]
