"""Security headers on every answer: successes, errors, the body limit's 413, preflights."""

from __future__ import annotations

import httpx
import pytest

from api.security_headers import DOCS_CSP, HSTS, SecurityHeaderRules, default_rules
from creditbank.config import Settings

STRICT = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def _assert_secured(response: httpx.Response, csp: str = STRICT) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["content-security-policy"] == csp
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/xapi/about", 200),
        ("GET", "/xapi/statements", 400),  # no version header
        ("GET", "/api/v1/auth/me", 401),
        ("GET", "/api/v1/nowhere", 404),
        ("DELETE", "/healthz", 405),
        ("GET", "/openapi.json", 200),
    ],
)
async def test_every_answer_is_secured(client, method, path, status):
    response = await client.request(method, path)
    assert response.status_code == status
    _assert_secured(response)
    assert "strict-transport-security" not in response.headers  # not prod


async def test_body_limit_rejection_and_preflight_are_secured(client, settings):
    too_big = await client.post(
        "/xapi/statements",
        content=b"x",
        headers={"Content-Length": str(settings.max_body_bytes + 1)},
    )
    assert too_big.status_code == 413
    _assert_secured(too_big)
    preflight = await client.options(
        "/xapi/statements",
        headers={"Origin": "https://lms.example.cn", "Access-Control-Request-Method": "POST"},
    )
    _assert_secured(preflight)


async def test_docs_page_gets_its_own_csp(client):
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    _assert_secured(response, DOCS_CSP)


def test_prefix_rules_longest_wins_and_endpoint_headers_survive():
    rules = SecurityHeaderRules()
    rules.add_prefix("/", {"Content-Security-Policy": "default-src 'self'"})
    rules.add_prefix("/portal/embed", {"X-Frame-Options": "", "Content-Security-Policy": "x"})
    by_name = dict(rules.headers_for("/portal/embed/1"))
    assert by_name[b"content-security-policy"] == b"x"
    assert b"x-frame-options" not in by_name
    assert dict(rules.headers_for("/learners"))[b"content-security-policy"] == b"default-src 'self'"


def test_hsts_only_in_prod():
    prod = Settings(env="prod", secret_key="s" * 40)
    assert dict(default_rules(prod).headers_for("/"))[b"strict-transport-security"] == HSTS.encode()
    assert b"strict-transport-security" not in dict(
        default_rules(Settings(env="test")).headers_for("/")
    )
