"""The SSRF guard on webhook and forwarding URLs (``creditbank.webhooks.targets``): the
addresses it refuses, its setting and default per environment, 422 naming the field
over the API on both databases, and the second check when the worker sends (a URL
stored while allowed, or whose DNS changed since, is not requested)."""

from __future__ import annotations

import asyncio
import ipaddress

import httpx
import pytest
from sqlalchemy import select

from creditbank.config import Settings
from creditbank.db import Database
from creditbank.jobs.models import Job
from creditbank.webhooks.targets import UnsafeTarget, address_problem, pinned, url_problem
from tests.rules_processing.conftest import World, store
from tests.webhooks.test_webhooks import Receiver, deliveries, drain_until, elec, login
from tests.webhooks.test_webhooks import receiver as receiver

HOOKS = "/api/v1/institutions/fxvs/webhooks"
FORWARDING = "/api/v1/institutions/fxvs/forwarding"
PUBLIC = "https://93.184.215.14/hooks"  # a public address: stored, never requested here

UNSAFE = [
    "127.0.0.1",
    "127.8.9.10",
    "0.0.0.0",  # noqa: S104 (an address refused, not bound)
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "100.64.0.1",  # shared (CGNAT)
    "169.254.169.254",  # cloud metadata
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "fec0::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:169.254.169.254",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2001:db8::1",
]
SAFE = ["93.184.215.14", "8.8.8.8", "2606:4700::1111", "2002:808:808::1"]


@pytest.mark.parametrize("address", UNSAFE)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", SAFE)
def test_public_unicast_addresses_pass(address: str) -> None:
    assert address_problem(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize(
    "url",
    [
        "ftp://93.184.215.14/x",
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_",
        "javascript:alert(1)",
        "https://user:pass@93.184.215.14/x",
        "https://token@93.184.215.14/x",
        "https:///x",
        "https://93.184.215.14:99999/x",
    ],
)
async def test_some_urls_are_refused_whatever_the_setting(url: str) -> None:
    problem = url_problem(url)
    assert problem is not None
    assert " / " in problem
    for allow in (True, False):
        with pytest.raises(UnsafeTarget):
            await pinned(url, allow_private=allow)


async def test_names_and_odd_spellings_are_checked_by_what_they_resolve_to() -> None:
    for url in (
        "https://localhost/x",
        "https://127.1/x",
        "https://2130706433/x",
        "https://0x7f000001/x",
        "https://[::ffff:7f00:1]/x",
    ):
        with pytest.raises(UnsafeTarget) as refused:
            await pinned(url, allow_private=False)
        assert "127.0.0.1" in refused.value.detail
        assert "不允许" in refused.value.detail
    with pytest.raises(UnsafeTarget, match="does not resolve"):
        await pinned("https://nowhere.invalid/x", allow_private=False)
    with pytest.raises(UnsafeTarget, match="https"):
        await pinned("http://93.184.215.14/x", allow_private=False)
    assert (await pinned(PUBLIC, allow_private=False)).url == PUBLIC
    assert (await pinned("http://localhost:8/x", allow_private=True)).url == "http://localhost:8/x"


def test_allowed_outside_production_refused_in_it_unless_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS", raising=False)
    secret = "s" * 40
    assert Settings(env="dev").private_targets_allowed is True
    assert Settings(env="test").private_targets_allowed is True
    assert Settings(env="prod", secret_key=secret).private_targets_allowed is False
    monkeypatch.setenv("CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "true")
    assert Settings(env="prod", secret_key=secret).private_targets_allowed is True
    monkeypatch.setenv("CREDITBANK_WEBHOOKS__ALLOW_PRIVATE_TARGETS", "false")
    assert Settings(env="dev").private_targets_allowed is False


def _refusal(response: httpx.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] in ("unsafe_target", "validation_failed")
    (item,) = body["detail"]
    assert item["loc"] == ["body", field]
    message: str = item["msg"]
    return message


@pytest.mark.usefixtures("admin")
async def test_the_api_refuses_unsafe_targets_naming_the_field(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    settings.webhooks.allow_private_targets = False
    headers = await login(client)

    def hook(url: str) -> dict[str, object]:
        return {"url": url, "event_types": ["statement.recognised"]}

    for url in (
        "https://127.0.0.1:8000/hooks",
        "https://localhost/hooks",
        "https://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hooks",
        "https://[::1]/hooks",
        "https://[::ffff:192.168.0.1]/hooks",
        "https://[fe80::1]/hooks",
        "https://224.0.0.1/hooks",
    ):
        message = _refusal(await client.post(HOOKS, json=hook(url), headers=headers), "url")
        assert "不允许发送" in message, message
        assert "address" in message, message
    message = _refusal(
        await client.post(HOOKS, json=hook("http://93.184.215.14/hooks"), headers=headers), "url"
    )
    assert "https" in message
    assert "必须使用 https" in message
    message = _refusal(
        await client.post(HOOKS, json=hook("https://a:b@93.184.215.14/"), headers=headers), "url"
    )
    assert "credentials" in message

    created = await client.post(HOOKS, json=hook(PUBLIC), headers=headers)
    assert created.status_code == 201, created.text
    patched = await client.patch(
        f"{HOOKS}/{created.json()['id']}", json={"url": "https://127.0.0.1/x"}, headers=headers
    )
    _refusal(patched, "url")
    kept = await client.get(f"{HOOKS}/{created.json()['id']}", headers=headers)
    assert kept.json()["url"] == PUBLIC

    lrs = {"username": "k", "password": "s", "endpoint": "https://10.0.0.5/xapi"}
    _refusal(await client.put(FORWARDING, json=lrs, headers=headers), "endpoint")
    lrs["endpoint"] = "http://93.184.215.14/xapi"
    _refusal(await client.put(FORWARDING, json=lrs, headers=headers), "endpoint")
    lrs["endpoint"] = "https://93.184.215.14/xapi"
    assert (await client.put(FORWARDING, json=lrs, headers=headers)).status_code == 200

    # Allowed (the default outside production): local receivers are fine; credentials never.
    settings.webhooks.allow_private_targets = True
    local = await client.post(HOOKS, json=hook("http://127.0.0.1:9/hooks"), headers=headers)
    assert local.status_code == 201, local.text
    _refusal(await client.post(HOOKS, json=hook("http://a:b@127.0.0.1:9/"), headers=headers), "url")
    lrs["endpoint"] = "http://127.0.0.1:9/xapi"
    assert (await client.put(FORWARDING, json=lrs, headers=headers)).status_code == 200


@pytest.mark.usefixtures("admin")
async def test_the_worker_checks_again_before_sending(
    client: httpx.AsyncClient,
    db: Database,
    settings: Settings,
    world: World,
    receiver: Receiver,
) -> None:
    """Stored while allowed (or resolving elsewhere then), refused when it is sent."""
    settings.webhooks.max_attempts = 1
    headers = await login(client)
    created = await client.post(
        HOOKS, json={"url": receiver.url, "event_types": ["statement.recognised"]}, headers=headers
    )
    assert created.status_code == 201, created.text
    forwarded = await client.put(
        FORWARDING,
        json={
            "endpoint": f"http://127.0.0.1:{receiver.port}/xapi",
            "username": "k",
            "password": "s",
        },
        headers=headers,
    )
    assert forwarded.status_code == 200, forwarded.text

    settings.webhooks.allow_private_targets = False
    await store(db, settings, world, "fxvs", elec(world))

    await drain_until(db, settings, lambda: False, rounds=20)
    assert receiver.requests == []  # neither the webhook nor the forwarded statement
    (log,) = await deliveries(client, created.json()["id"], headers)
    assert log["status"] == "dead"
    assert log["last_status_code"] is None
    assert "not sent" in (log["last_error"] or "")
    assert "127.0.0.1" in (log["last_error"] or "")
    async with db.read_scope() as session:
        jobs = (
            await session.execute(
                select(Job.status, Job.last_error).where(Job.name == "webhooks.forward")
            )
        ).all()
    assert [status for status, _ in jobs] == ["dead"]
    assert "not forwarded" in (jobs[0][1] or "")

    # Allowed again: a replay goes out.
    settings.webhooks.allow_private_targets = True
    replay = await client.post(
        f"{HOOKS}/{created.json()['id']}/deliveries/{log['id']}/replay", headers=headers
    )
    assert replay.status_code == 200, replay.text
    await drain_until(db, settings, lambda: len(receiver.requests) >= 1)
    await asyncio.sleep(0)
    assert len(receiver.requests) == 1
