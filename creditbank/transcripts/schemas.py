"""What the transcripts API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

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
    sd_jwt: str | None = Field(
        default=None, description="SD-JWT VC (typ dc+sd-jwt, ES256) with every disclosure"
    )
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


class ShareStatusRead(BaseModel):
    """A share's own status bits (its Bitstring Status List entries)."""

    id: uuid.UUID
    transcript_id: uuid.UUID
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
    vct: Any = None
    disclosed: dict[str, Any] | None = Field(
        default=None, description="SD-JWT: the personal claims, outcomes, conversions disclosed"
    )


class JwkRead(BaseModel):
    """One issuer key as a JWK (RFC 7517); its other members are kept as they are."""

    model_config = ConfigDict(extra="allow")

    kty: str


class ShareCreate(BaseModel):
    """What a share discloses (nothing that is not named), to whom, until when."""

    model_config = ConfigDict(extra="forbid")

    outcomes: list[str] = Field(
        default_factory=list, max_length=500, description="unit codes of the outcomes shown"
    )
    conversions: list[str] = Field(
        default_factory=list,
        max_length=500,
        description="conversions shown: their id (urn:uuid:...) or target unit",
    )
    personal: list[Literal["sub", "credit_totals"]] = Field(
        default_factory=list,
        description="personal claims shown: sub (the pseudonymous subject), credit_totals",
    )
    audience: str | None = Field(default=None, max_length=500, description="who it is for")
    expires_at: AwareDatetime | None = Field(default=None, description="the share's exp")
    holder_jwk: dict[str, Any] | None = Field(
        default=None,
        description="the holder's public JWK (cnf.jwk): presentations then need a KB-JWT",
    )


class ShareRead(BaseModel):
    id: uuid.UUID
    transcript_id: uuid.UUID
    created_at: datetime
    audience: str | None
    expires_at: datetime | None
    disclosed: dict[str, Any]
    key_bound: bool
    revoked_at: datetime | None
    sd_jwt: str = Field(description="the SD-JWT VC presentation: issuer JWT~disclosures~")
    url: str = Field(description="where anyone holding it fetches the presentation")


class SdJwtVerifyRequest(BaseModel):
    """An SD-JWT presentation with the nonce and audience the verifier expects."""

    model_config = ConfigDict(extra="forbid")

    sd_jwt: str = Field(min_length=1, max_length=1_000_000)
    nonce: str | None = Field(default=None, max_length=1000)
    audience: str | None = Field(default=None, max_length=1000)


class DidDocumentRead(BaseModel):
    """The bank's ``did:web`` DID document (W3C DID 1.0); other members kept as they are."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    context: list[str] = Field(alias="@context")
    id: str
    verificationMethod: list[dict[str, Any]]
    assertionMethod: list[str]
