"""B3: schemathesis over our own OpenAPI document (the harness; the tests are
``test_fuzz_operator.py`` and ``test_fuzz_institution.py``, two files so that
``make test``'s two workers run them side by side).

Every operation the app publishes (``/api/v1``, ``/oauth``, ``/.well-known``, and the
xAPI resources as far as their OpenAPI describes them) gets generated requests on the
demo data of both databases: positive cases with random ids, positive cases with the
demo's real ids (``fxvs``, 李娜's learner id) so requests get past the 404, and
negative cases (schema-violating input). Each answer must not be a 5xx and must
conform to the published document: status code, content type, headers and body
schema (``response_schema_conformance``).

Bounded and deterministic for ``make test``: ``derandomize=True`` (the seed is fixed
by the test itself), no example database, ``CREDITBANK_FUZZ_EXAMPLES`` examples per
operation and mode (3 by default). ``bench/fuzz.py`` runs the same harness with many
more examples and a random seed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given
from hypothesis import seed as hypothesis_seed
from hypothesis import settings as hypothesis_settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis import checks as st_checks
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import Settings
from creditbank.demo import load_demo

EXAMPLES = int(os.environ.get("CREDITBANK_FUZZ_EXAMPLES", "3"))
#: ``bench/fuzz.py`` sets a seed: random generation reproducible by that seed.
SEED = os.environ.get("CREDITBANK_FUZZ_SEED")

CHECKS = [
    st_checks.not_a_server_error,
    st_checks.status_code_conformance,
    st_checks.content_type_conformance,
    st_checks.response_headers_conformance,
    st_checks.response_schema_conformance,
]

#: Not fuzzed: signing out revokes the token the rest of the run needs.
SKIPPED = {("POST", "/api/v1/auth/logout")}


@dataclass
class Run:
    requests: int = 0
    sending: float = 0.0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: dict[str, list[str]] = field(default_factory=dict)


async def _bearer(client: httpx.AsyncClient, user: dict[str, Any]) -> str:
    response = await client.post(
        "/api/v1/auth/login", json={"username": user["username"], "password": user["password"]}
    )
    assert response.status_code == 200, response.text
    return f"Bearer {response.json()['access_token']}"


def _basic(key: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()


def _order(path: str) -> int:
    # The OAuth token endpoint last: its failed secrets count against our address.
    return 1 if path.startswith("/oauth/token") else 0


def fuzz(
    schema: Any,
    send: Any,
    auth: dict[str, str],
    known: dict[str, str],
    examples: int,
    seed: int | None,
) -> Run:
    """Run every operation of ``schema`` through ``send``; collect, not raise, failures."""
    run = Run()
    operations = [result.ok() for result in schema.get_all_operations()]
    operations.sort(key=lambda op: _order(op.path))
    for op in operations:
        if (op.method.upper(), op.path) in SKIPPED:
            continue
        headers = {"Authorization": auth["xapi" if op.path.startswith("/xapi") else "api"]}
        if op.path.startswith("/xapi"):
            headers["X-Experience-API-Version"] = "1.0.3"
        fixed = {name: value for name, value in known.items() if "{" + name + "}" in op.path}
        passes: list[tuple[str, Any]] = [
            ("positive", op.as_strategy(GenerationMode.POSITIVE)),
            ("negative", op.as_strategy(GenerationMode.NEGATIVE)),
        ]
        if fixed:
            passes.append(
                ("known ids", op.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
            )
        for label, strategy in passes:
            _one_pass(
                run,
                f"{op.method.upper()} {op.path} ({label})",
                strategy,
                send,
                headers,
                examples,
                seed,
            )
    return run


def _one_pass(
    run: Run,
    name: str,
    strategy: Any,
    send: Any,
    headers: dict[str, str],
    examples: int,
    seed: int | None,
) -> None:
    """``examples`` cases of one operation and mode, each sent and checked."""

    def one(case: Any) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        began = time.monotonic()
        response = send(kwargs)
        run.sending += time.monotonic() - began
        if response is None:
            return
        run.requests += 1
        run.statuses[response.status_code] = run.statuses.get(response.status_code, 0) + 1
        try:
            case.validate_response(response, checks=CHECKS, transport_kwargs=kwargs)
        except BaseException as exc:  # schemathesis' FailureGroup is a BaseExceptionGroup
            run.failures.setdefault(name, []).append(str(exc)[:3000])

    test = hypothesis_settings(
        max_examples=examples,
        derandomize=seed is None,  # make test: the same cases every run
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(given(case=strategy)(one))
    if seed is not None:
        test = hypothesis_seed(seed)(test)
    with contextlib.suppress(Unsatisfiable):  # nothing to violate: no parameters, no body
        test()


def asgi_sender(client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop) -> Any:
    """Send a schemathesis request (requests-style keywords) to the app on ``loop``."""

    async def request(kwargs: dict[str, Any]) -> httpx.Response:
        options: dict[str, Any] = {
            "headers": kwargs.get("headers") or {},
            "params": kwargs.get("params") or None,
            "cookies": kwargs.get("cookies") or None,
        }
        if "json" in kwargs:
            options["json"] = kwargs["json"]
        data = kwargs.get("data")
        if isinstance(data, bytes | str):
            options["content"] = data
        elif data is not None:
            options["data"] = data
        if "files" in kwargs:
            options["files"] = kwargs["files"]
        built = client.build_request(kwargs["method"], kwargs["url"], **options)
        built.read()  # multipart bodies stream; the checks read the request back
        return await client.send(built)

    def send(kwargs: dict[str, Any]) -> httpx.Response | None:
        try:
            return asyncio.run_coroutine_threadsafe(request(kwargs), loop).result(120)
        except (TypeError, AttributeError):
            return None  # a negative case no HTTP client can send (an int as a file)

    return send


def report(run: Run) -> str:
    lines = [f"{len(run.failures)} operation(s) failed:"]
    for name, messages in run.failures.items():
        lines.append(f"== {name}: {len(messages)} failing example(s); the first:")
        lines.append(messages[0])
    return "\n".join(lines)


async def fuzz_as(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    role: str,
) -> Run:
    """Fuzz every operation as ``role`` on the demo data; assert no 5xx, no nonconformance."""
    data = await load_demo(session, settings)
    await session.commit()
    users = data["users"]
    lina = await _bearer(client, users["learner"])
    me = await client.get("/api/v1/learners/me", headers={"Authorization": lina})
    assert me.status_code == 200, me.text
    known = {"key": "fxvs", "learner_id": str(me.json()["id"])}
    if role == "operator":
        conformance = data["conformance"]
        auth = {
            "api": await _bearer(client, users["operator"]),
            "xapi": _basic(conformance["lrs_key"], conformance["lrs_secret"]),
        }
    else:
        fxvs = data["institutions"]["fxvs"]
        auth = {
            "api": await _bearer(client, users["institution_admin"]),
            "xapi": _basic(fxvs["lrs_key"], fxvs["lrs_secret"]),
        }
    schema = schemathesis.openapi.from_dict(app.openapi())
    # A 500 comes back as an answer to check, not as the app's exception.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    fuzzer = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    send = asgi_sender(fuzzer, asyncio.get_running_loop())
    started = time.monotonic()
    run = await asyncio.to_thread(
        fuzz, schema, send, auth, known, EXAMPLES, int(SEED) if SEED else None
    )
    await fuzzer.aclose()
    elapsed = time.monotonic() - started
    print(  # noqa: T201 - the run's figures, shown with -s (bench/fuzz.py shows them)
        f"fuzz {role}: {run.requests} requests in {elapsed:.1f} s "
        f"({run.sending:.1f} s waiting for answers), statuses {dict(sorted(run.statuses.items()))}"
    )
    assert run.requests >= 100
    assert not run.failures, report(run)
    assert not any(status >= 500 for status in run.statuses)
    return run
