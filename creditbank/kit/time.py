"""Clock helpers: everything is UTC with a timezone."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def isoformat_z(value: datetime) -> str:
    """RFC 3339 with a ``Z`` suffix and millisecond precision, as xAPI clients expect."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
