"""What the webhooks API takes and answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from creditbank.webhooks.targets import url_problem

EventType = Literal[
    "statement.recognised", "statement.held", "outcome.revoked", "conversion.decided"
]


def _check_url(value: str) -> str:
    """The shapes refused whatever the settings (addresses: the service, at store and send)."""
    problem = url_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return value


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str
    event_types: list[EventType] = Field(min_length=1)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool = True

    _url = field_validator("url")(_check_url)


class SubscriptionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    event_types: list[EventType] | None = Field(default=None, min_length=1)
    description: str | None = Field(default=None, max_length=200)
    enabled: bool | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    institution_key: str
    url: str
    event_types: list[str]
    description: str | None
    enabled: bool
    created_at: datetime
    updated_at: datetime


class SubscriptionCreated(SubscriptionRead):
    """The answer to a new subscription: the signing secret, shown this once."""

    secret: str


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    started_at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    replay: bool


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: str
    event_type: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None


class DeliveryDetail(DeliveryRead):
    payload: dict[str, Any]
    log: list[AttemptRead]


class ForwardingSet(BaseModel):
    """Copy the institution's statements to another LRS (``endpoint``: its xAPI base URL,
    e.g. ``https://lrs.example.cn/xapi``) with its Basic credentials."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str
    username: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=500)
    only_recognised: bool = False
    enabled: bool = True

    _endpoint = field_validator("endpoint")(_check_url)


class ForwardingRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    institution_key: str
    endpoint: str
    username: str
    only_recognised: bool
    enabled: bool
    created_at: datetime
    updated_at: datetime
