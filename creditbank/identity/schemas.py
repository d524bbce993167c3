"""Request and response shapes of the identity JSON API (pydantic v2)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstitutionCreate(_Strict):
    key: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    type: str
    region_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    home_pages: list[str] = Field(default_factory=list, max_length=20)


class InstitutionUpdate(_Strict):
    """A partial update: an absent field is kept. ``name_en`` and ``region_code`` may be
    cleared with ``null``; the Chinese name and the homePages cannot (``null`` is 422,
    not a NOT NULL violation further down)."""

    # None only when absent: the published schema has no null, and a null sent is refused.
    name_zh: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200)
    name_en: str | None = Field(default=None, max_length=200)
    region_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    home_pages: list[str] | SkipJsonSchema[None] = Field(default=None, max_length=20)

    @field_validator("name_zh", "home_pages", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("may be left out but not set to null")
        return value


class AccreditationScope(_Strict):
    categories: list[str] = Field(default_factory=list)
    units: list[str] = Field(default_factory=list)


class Accreditation(_Strict):
    accredited: bool
    accredited_from: datetime | None = None
    accredited_until: datetime | None = None
    scope: AccreditationScope | None = None


class InstitutionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    name_zh: str
    name_en: str | None
    type: str
    region_code: str | None
    home_pages: list[str]
    accredited: bool
    accredited_from: datetime | None
    accredited_until: datetime | None
    accreditation_scope: dict[str, Any]


class CredentialCreate(_Strict):
    scopes: list[str] | None = None
    label: str | None = Field(default=None, max_length=200)
    # The xAPI version its client speaks; stated on answers to requests naming none.
    xapi_version: Literal["1.0.3", "2.0.0"] | None = None


class CredentialRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    key: str
    scopes: list[str]
    label: str | None
    xapi_version: str | None = None
    created_at: datetime
    revoked_at: datetime | None


class CredentialIssued(CredentialRead):
    secret: str = Field(description="shown once; only its hash is stored")


class LearnerCreate(_Strict):
    name: str = Field(min_length=1, max_length=100)
    national_id: str | None = None
    phone: str | None = None
    email: str | None = None
    # Optionally a sign-in for her at once.
    username: str | None = None
    password: str | None = None


class LearnerUpdate(_Strict):
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    national_id: str | None = None


class LearnerRead(BaseModel):
    id: uuid.UUID
    bank_id: str
    name: str | None
    national_id: str | None
    phone: str | None
    email: str | None
    created_at: datetime
    erased: bool
    masked: bool


class LearnerSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    bank_id: str
    created_at: datetime
    erased_at: datetime | None


class NationalIdLookup(_Strict):
    national_id: str


class ConsentCodeCreate(_Strict):
    institution: str | None = Field(default=None, description="restrict to this institution key")


class ConsentCodeIssued(BaseModel):
    id: uuid.UUID
    code: str = Field(description="shown once; give it to the institution")
    expires_at: datetime
    institution: str | None


class LinkAssert(_Strict):
    institution: str | None = Field(
        default=None, description="institution key (defaults to the caller's institution)"
    )
    consent_code: str
    agent: dict[str, Any]


class BulkLinkItem(_Strict):
    national_id: str
    agent: dict[str, Any]


class BulkLink(_Strict):
    institution: str | None = None
    items: list[BulkLinkItem] = Field(min_length=1, max_length=1000)


class LinkRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    learner_id: uuid.UUID
    ifi: str
    kind: str
    method: str
    created_at: datetime


class RoleGrantIn(_Strict):
    role: str
    institution: str | None = None
    programme: str | None = None


class UserCreate(_Strict):
    username: str
    password: str
    display_name: str | None = None
    learner_id: uuid.UUID | None = None
    roles: list[RoleGrantIn] = Field(default_factory=list)


class LoginIn(_Strict):
    username: str = Field(max_length=100)
    password: str = Field(max_length=1024)


class PasswordChange(_Strict):
    current_password: str = Field(max_length=1024)
    new_password: str = Field(max_length=1024)


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor_kind: str
    actor_id: str | None
    actor_label: str | None
    action: str
    outcome: str
    object_type: str
    object_id: str | None
    detail: dict[str, Any]
    ip: str | None
    request_id: str | None


class BulkLinkResult(BaseModel):
    """One item of a bulk link: ``linked`` / ``already_linked`` (with the link and the
    account's bank id) or ``no_learner`` (nothing else is told)."""

    index: int
    status: Literal["linked", "already_linked", "no_learner"]
    link_id: str | None = None
    bank_id: str | None = None


class BulkLinkResults(BaseModel):
    results: list[BulkLinkResult]


class RoleGrantRead(BaseModel):
    role: str
    institution: str | None
    programme: str | None


class UserRead(BaseModel):
    """A sign-in account and its role grants (never its password)."""

    id: str
    username: str
    display_name: str | None
    learner_id: str | None
    active: bool
    roles: list[RoleGrantRead]
    last_login_at: str | None


class TokensRead(BaseModel):
    """A signed-in user's access token (the refresh token travels in a cookie)."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    user: UserRead


class UserMe(BaseModel):
    """``/auth/me`` for a user: who the token belongs to."""

    kind: Literal["user"]
    id: str
    username: str
    display_name: str | None
    learner_id: str | None
    active: bool
    roles: list[RoleGrantRead]
    last_login_at: str | None


class CredentialMe(BaseModel):
    """``/auth/me`` for an institution's credential or client token."""

    kind: Literal["credential", "anonymous"]
    id: str | None
    institution: str | None
    scopes: list[str]


class ClientTokenRead(BaseModel):
    """RFC 6749 §5.1: the access token of an institution system."""

    access_token: str
    token_type: Literal["Bearer"]
    expires_in: int
    scope: str


class JwksRead(BaseModel):
    """A JWK Set (RFC 7517 §5)."""

    keys: list[dict[str, Any]]


class LearnerExport(BaseModel):
    """All the bank holds about a learner; each other context adds its own section."""

    model_config = ConfigDict(extra="allow")

    format: str
    exported_at: str
    learner: dict[str, Any]
    identity_links: list[dict[str, Any]]
    consent_codes: list[dict[str, Any]]
    user: UserRead | None
    audit: list[dict[str, Any]]
