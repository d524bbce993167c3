"""``verify_webhook``: the receiver's check of Standard Webhooks signatures."""

from __future__ import annotations

from creditbank.client import sign_webhook, verify_webhook

# The published Standard Webhooks test vector.
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = b'{"test": 2432232314}'
SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP) -> dict[str, str]:
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
    }


def test_sign_matches_the_standard_vector() -> None:
    assert sign_webhook(SECRET, MSG_ID, TIMESTAMP, BODY) == SIGNATURE


def test_verify_accepts_a_fresh_signed_body() -> None:
    assert verify_webhook(SECRET, headers(), BODY, now=TIMESTAMP + 10)
    assert verify_webhook(SECRET, headers("v1,b3RoZXI= " + SIGNATURE), BODY, now=TIMESTAMP)
    upper = {key.title(): value for key, value in headers().items()}
    assert verify_webhook(SECRET, upper, BODY, now=TIMESTAMP)


def test_verify_rejects_tampering_and_replays() -> None:
    assert not verify_webhook(SECRET, headers(), BODY + b" ", now=TIMESTAMP)
    assert not verify_webhook("whsec_b3RoZXI=", headers(), BODY, now=TIMESTAMP)
    assert not verify_webhook(SECRET, headers(), BODY, now=TIMESTAMP + 301)
    assert not verify_webhook(SECRET, headers(), BODY, now=TIMESTAMP - 301)
    assert not verify_webhook(SECRET, headers(timestamp=TIMESTAMP + 1), BODY, now=TIMESTAMP)
    assert not verify_webhook(SECRET, {"webhook-id": MSG_ID}, BODY, now=TIMESTAMP)
    assert not verify_webhook(SECRET, headers(), BODY)  # 2021 is outside the window now
