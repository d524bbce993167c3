"""A Python client for institutions: ``from creditbank.client import CreditBankClient``.

Needs only ``httpx`` (it imports nothing else of the server), so a school's
integration script can vendor this one file. What an institution does with the bank:

* push xAPI statements in batches, with retries and exponential backoff; every
  statement gets its id *before* the first attempt, so a retry after a timeout (when
  the first attempt may have been stored) stores nothing twice;
* read statements back as an iterator that follows ``more``;
* State, Activity Profile and Agent Profile documents;
* link learners with the consent code they give the institution, read the bank's
  decision on a statement, and import CSV/xlsx files.

Example::

    with CreditBankClient("https://bank.example.cn", key="fxvs-lrs", secret="…") as bank:
        ids = bank.push_statements(statements)          # batches of 100, retried
        for statement in bank.statements(verb="http://adlnet.gov/expapi/verbs/passed"):
            ...
"""

from __future__ import annotations

import contextlib
import json
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

__all__ = [
    "CreditBankClient",
    "CreditBankError",
    "Document",
    "StatementConflict",
]

#: Answers worth another attempt: the request may not have been handled (or was, and a
#: retry is harmless because statement ids are fixed before the first attempt).
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class CreditBankError(Exception):
    """The bank refused a request; ``status`` and the bank's ``error`` code say why."""

    def __init__(self, status: int, error: str | None, detail: str) -> None:
        super().__init__(f"{status} {error or ''}: {detail}".strip())
        self.status = status
        self.error = error
        self.detail = detail


class StatementConflict(CreditBankError):
    """A different statement is already stored under one of the ids (409)."""


@dataclass(frozen=True)
class Document:
    """An xAPI document: its bytes, content type and ETag (for ``If-Match``)."""

    content: bytes
    content_type: str
    etag: str | None

    def json(self) -> Any:
        return json.loads(self.content)


class CreditBankClient:
    """An institution's connection to the bank (xAPI with Basic credentials or a token).

    ``retries``: further attempts after a timeout, a dropped connection or a 408/429/5xx
    answer, waiting ``backoff × 2^n`` seconds (with jitter, at most ``max_backoff``, or
    what ``Retry-After`` asks).
    """

    def __init__(
        self,
        base_url: str,
        *,
        key: str | None = None,
        secret: str | None = None,
        token: str | None = None,
        xapi_version: str = "1.0.3",
        timeout: float = 30.0,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        batch_size: int = 100,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if (key is None) != (secret is None):
            raise ValueError("give key and secret together")
        headers = {"X-Experience-API-Version": xapi_version}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=(key, secret) if key is not None and secret is not None else None,
            headers=headers,
            timeout=timeout,
            transport=transport,
        )
        self.retries = retries
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.batch_size = batch_size

    # -- plumbing -----------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> CreditBankClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send, retrying what may succeed on another attempt; raise for refusals."""
        attempt = 0
        while True:
            try:
                response = self._http.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError):
                if attempt >= self.retries:
                    raise
                self._sleep(attempt, None)
                attempt += 1
                continue
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                self._sleep(attempt, response.headers.get("Retry-After"))
                attempt += 1
                continue
            if response.status_code >= 400:
                raise _error(response)
            return response

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = min(self.max_backoff, self.backoff * (2**attempt))
        delay *= 0.5 + random.random() / 2  # noqa: S311 - jitter, not crypto
        if retry_after is not None:
            with contextlib.suppress(ValueError):
                delay = min(self.max_backoff, max(delay, float(retry_after)))
        time.sleep(delay)

    # -- statements ---------------------------------------------------------------------

    def push_statements(
        self, statements: Iterable[Mapping[str, Any]], *, batch_size: int | None = None
    ) -> list[str]:
        """Store statements in batches; returns their ids in order.

        A statement without ``id`` gets a new UUID here, before any attempt, so retrying
        a batch whose answer was lost cannot store it twice (the LRS answers an equal
        statement under a known id as already stored). A different statement under a
        known id raises :class:`StatementConflict`.
        """
        size = batch_size or self.batch_size
        ids: list[str] = []
        batch: list[dict[str, Any]] = []
        for statement in statements:
            item = dict(statement)
            item.setdefault("id", str(uuid.uuid4()))
            batch.append(item)
            if len(batch) >= size:
                ids += self._post_batch(batch)
                batch = []
        if batch:
            ids += self._post_batch(batch)
        return ids

    def push_statement(self, statement: Mapping[str, Any]) -> str:
        return self.push_statements([statement])[0]

    def _post_batch(self, batch: list[dict[str, Any]]) -> list[str]:
        response = self._request(
            "POST",
            "/xapi/statements",
            content=json.dumps(batch, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/json"},
        )
        stored: list[str] = response.json()
        return stored

    def get_statement(self, statement_id: str, *, voided: bool = False) -> dict[str, Any]:
        name = "voidedStatementId" if voided else "statementId"
        result: dict[str, Any] = self._request(
            "GET", "/xapi/statements", params={name: statement_id}
        ).json()
        return result

    def statements(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every statement matching the xAPI query parameters, following ``more``.

        ``agent`` may be a mapping (sent as JSON); booleans are sent as ``true``/``false``.
        """
        params = {k: _param(v) for k, v in filters.items() if v is not None}
        page = self._request("GET", "/xapi/statements", params=params).json()
        while True:
            yield from page["statements"]
            more = page.get("more")
            if not more:
                return
            page = self._request("GET", more).json()

    # -- documents ----------------------------------------------------------------------

    def get_state(
        self,
        activity_id: str,
        agent: Mapping[str, Any],
        state_id: str,
        *,
        registration: str | None = None,
    ) -> Document | None:
        params = _state_params(activity_id, agent, state_id, registration)
        return self._get_document("/xapi/activities/state", params)

    def put_state(
        self,
        activity_id: str,
        agent: Mapping[str, Any],
        state_id: str,
        content: bytes | Any,
        *,
        content_type: str | None = None,
        registration: str | None = None,
    ) -> None:
        params = _state_params(activity_id, agent, state_id, registration)
        body, kind = _body(content, content_type)
        self._request(
            "PUT", "/xapi/activities/state", params=params, content=body,
            headers={"Content-Type": kind},
        )  # fmt: skip

    def delete_state(
        self,
        activity_id: str,
        agent: Mapping[str, Any],
        state_id: str,
        *,
        registration: str | None = None,
    ) -> None:
        params = _state_params(activity_id, agent, state_id, registration)
        self._request("DELETE", "/xapi/activities/state", params=params)

    def get_activity_profile(self, activity_id: str, profile_id: str) -> Document | None:
        params = {"activityId": activity_id, "profileId": profile_id}
        return self._get_document("/xapi/activities/profile", params)

    def put_activity_profile(
        self,
        activity_id: str,
        profile_id: str,
        content: bytes | Any,
        *,
        content_type: str | None = None,
        etag: str | None = None,
    ) -> None:
        """Create (``etag=None``: only if absent) or replace the document with ``etag``."""
        params = {"activityId": activity_id, "profileId": profile_id}
        self._put_profile("/xapi/activities/profile", params, content, content_type, etag)

    def get_agent_profile(self, agent: Mapping[str, Any], profile_id: str) -> Document | None:
        params = {"agent": json.dumps(dict(agent)), "profileId": profile_id}
        return self._get_document("/xapi/agents/profile", params)

    def put_agent_profile(
        self,
        agent: Mapping[str, Any],
        profile_id: str,
        content: bytes | Any,
        *,
        content_type: str | None = None,
        etag: str | None = None,
    ) -> None:
        params = {"agent": json.dumps(dict(agent)), "profileId": profile_id}
        self._put_profile("/xapi/agents/profile", params, content, content_type, etag)

    def _get_document(self, path: str, params: dict[str, str]) -> Document | None:
        try:
            response = self._request("GET", path, params=params)
        except CreditBankError as exc:
            if exc.status == 404:
                return None
            raise
        return Document(
            content=response.content,
            content_type=response.headers.get("content-type", "application/octet-stream"),
            etag=response.headers.get("etag"),
        )

    def _put_profile(
        self,
        path: str,
        params: dict[str, str],
        content: bytes | Any,
        content_type: str | None,
        etag: str | None,
    ) -> None:
        body, kind = _body(content, content_type)
        headers = {"Content-Type": kind}
        if etag is None:
            headers["If-None-Match"] = "*"
        else:
            headers["If-Match"] = etag
        self._request("PUT", path, params=params, content=body, headers=headers)

    # -- the bank's API -----------------------------------------------------------------

    def link_learner(
        self, consent_code: str, agent: Mapping[str, Any], *, institution: str | None = None
    ) -> dict[str, Any]:
        """Link a learner's account at this institution to her bank account, with the
        consent code she created in the bank and gave the institution."""
        body: dict[str, Any] = {"consent_code": consent_code, "agent": dict(agent)}
        if institution is not None:
            body["institution"] = institution
        result: dict[str, Any] = self._request("POST", "/api/v1/identity-links", json=body).json()
        return result

    def decision(self, statement_id: str) -> dict[str, Any]:
        """The bank's decision on a statement this institution sent: recognised (the
        outcome, rule and version), not recognised (why), held for review, or waiting."""
        result: dict[str, Any] = self._request(
            "GET", f"/api/v1/statements/{statement_id}/explain"
        ).json()
        return result

    def wait_for_decision(
        self, statement_id: str, *, timeout: float = 60.0, interval: float = 0.5
    ) -> dict[str, Any]:
        """:meth:`decision`, polled until the bank has judged the statement."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.decision(statement_id)
            if found.get("status") not in {"pending", "waiting", None} or (
                time.monotonic() >= deadline
            ):
                return found
            time.sleep(interval)

    def preview_import(
        self, institution: str, filename: str, content: bytes, mapping: str
    ) -> dict[str, Any]:
        """Upload a CSV/xlsx file with its column mapping; the preview (row errors)."""
        result: dict[str, Any] = self._request(
            "POST",
            f"/api/v1/institutions/{institution}/imports",
            files={
                "file": (filename, content, "application/octet-stream"),
                "mapping": ("mapping.yaml", mapping.encode(), "application/yaml"),
            },
        ).json()
        return result

    def commit_import(self, institution: str, import_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "POST", f"/api/v1/institutions/{institution}/imports/{import_id}/commit"
        ).json()
        return result


def _param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value))
    return str(value)


def _state_params(
    activity_id: str, agent: Mapping[str, Any], state_id: str, registration: str | None
) -> dict[str, str]:
    params = {"activityId": activity_id, "agent": json.dumps(dict(agent)), "stateId": state_id}
    if registration is not None:
        params["registration"] = registration
    return params


def _body(content: bytes | Any, content_type: str | None) -> tuple[bytes, str]:
    if isinstance(content, bytes):
        return content, content_type or "application/octet-stream"
    return json.dumps(content, ensure_ascii=False).encode(), content_type or "application/json"


def _error(response: httpx.Response) -> CreditBankError:
    error: str | None = None
    detail = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error") or body.get("code")
        detail = str(body.get("detail") or body.get("message") or detail)
    kind = StatementConflict if response.status_code == 409 else CreditBankError
    return kind(response.status_code, error, detail)
