"""Job bodies of the conversions context: signed decision webhooks.

The body is canonical JSON; the signature header is
``X-Creditbank-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``
(the timestamp is signed so a receiver can refuse replays). A non-2xx answer or a
network error raises, and the job table retries with backoff, then dead-letters.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import httpx

from creditbank.config import Settings
from creditbank.jobs.context import PermanentJobError, TaskContext

SIGNATURE_HEADER = "X-Creditbank-Signature"


def webhook_secret(settings: Settings) -> bytes:
    """The HMAC key: configured, or derived from the bank's secret key."""
    configured = settings.conversions.webhook_secret
    if configured is not None:
        return configured.get_secret_value().encode()
    return hashlib.sha256(
        b"creditbank-webhooks\x00" + settings.secret_key.get_secret_value().encode()
    ).digest()


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: bytes, header: str, body: bytes) -> bool:
    """Receiver side: True when ``header`` signs ``body`` with ``secret``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        expected = sign(secret, int(parts["t"]), body)
    except (ValueError, KeyError):
        return False
    return hmac.compare_digest(expected, header)


async def deliver_webhook(ctx: TaskContext, payload: dict[str, Any]) -> None:
    """POST one decision to the target institution; raise (retry) unless it answers 2xx."""
    url = payload.get("url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise PermanentJobError(f"webhook job without a usable url: {url!r}")
    body = json.dumps(
        payload["body"], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    timestamp = int(ctx.now.timestamp())
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: sign(webhook_secret(ctx.settings), timestamp, body),
        "X-Creditbank-Event": str(payload["body"].get("event", "")),
        "X-Creditbank-Delivery": str(payload["body"].get("id", ctx.job_id)),
        "X-Creditbank-Attempt": str(ctx.attempt),
    }
    async with httpx.AsyncClient(
        timeout=ctx.settings.conversions.webhook_timeout_seconds
    ) as client:
        response = await client.post(url, content=body, headers=headers)
    if response.status_code >= 300:
        raise RuntimeError(f"webhook {url} answered {response.status_code}")
