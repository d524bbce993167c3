"""State, Activity Profile and Agent Profile documents (xAPI Communication 2.2, 2.3, 2.6, 2.7).

HTTP-agnostic: the caller hands over the parsed address, the body bytes with their
Content-Type and the ``If-Match`` / ``If-None-Match`` values. Never commits.

Rules:

* Any content type is stored byte-exact with its Content-Type; a document sent as
  ``application/json`` must be JSON (a POST: a JSON object).
* POST merges the top-level properties of a JSON object into an existing JSON
  object; anything else over an existing document is ``400`` and changes nothing.
* ``If-Match`` (a list of ETags or ``*``) and ``If-None-Match: *`` are honoured on
  PUT, POST and DELETE: a failed precondition is ``412``.
* A PUT over an existing document without either header is ``409`` for the
  profile resources (1.0.3 and 2.0) and, under 2.0, for the State resource too
  (1.0.3 lets State PUTs go without concurrency headers). A PUT to a profile
  resource without either header is ``400`` even when nothing is stored yet: the
  client MUST send one (Communication 3.1; the ADL conformance suite checks it).
* The ETag is the lowercase hex SHA-1 of the content; ``updated`` only grows.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.config import LrsSettings
from creditbank.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from creditbank.errors import PreconditionFailed as PreconditionFailedError
from creditbank.identity.principal import CROSS_INSTITUTION_DOCUMENTS, Principal
from creditbank.identity.service import identity as identity_service
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.documents.models import Document, DocumentKind
from creditbank.lrs.documents.repository import DocumentRepository
from creditbank.lrs.payload import parse_json

JSON_MEDIA = "application/json"
DEFAULT_CONTENT_TYPE = "application/octet-stream"
#: A racing writer changed the document between our read and our write: re-read.
MAX_ATTEMPTS = 3

_WRITE_SCOPE = {
    DocumentKind.STATE: "state",
    DocumentKind.ACTIVITY_PROFILE: "profile",
    DocumentKind.AGENT_PROFILE: "profile",
}
_READ_ALL_SCOPE = "all/read"


_CONFLICT_HELP = (
    "the document exists already: GET it, then PUT again with If-Match set to its ETag "
    "(or If-None-Match: * to create only) / 文档已存在：请先获取当前文档，"
    "并在 If-Match 中携带其 ETag 后重试"
)


class DocumentConflict(Conflict):
    """A PUT over an existing document without ``If-Match`` / ``If-None-Match``."""

    code = "document_conflict"


class DocumentPreconditionFailed(PreconditionFailedError):
    code = "precondition_failed"


class DocumentNotMergeable(BadRequest):
    """POST over a document where one of the two is not a JSON object."""

    code = "document_not_mergeable"


def media_type(content_type: str | None) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def sha1_hex(content: bytes) -> str:
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class DocumentAddress:
    """Which documents a request is about (everything but the document id)."""

    kind: DocumentKind
    activity_id: str | None = None
    agent_ifi: str | None = None
    registration: uuid.UUID | None = None
    #: Whose documents: an institution's id, or ``""`` for the space shared by the
    #: credentials holding ``documents/cross-institution`` (see ``namespace_of``).
    namespace: str = ""

    def _prefix(self) -> tuple[str, ...]:
        # The shared space keeps the keys documents had before namespaces existed.
        return (f"ns:{self.namespace}",) if self.namespace else ()

    @property
    def scope_key(self) -> str:
        return _digest(
            *self._prefix(), self.kind.value, self.activity_id or "", self.agent_ifi or ""
        )

    def doc_key(self, doc_id: str) -> str:
        registration = str(self.registration) if self.registration is not None else ""
        return _digest(
            *self._prefix(),
            self.kind.value,
            self.activity_id or "",
            self.agent_ifi or "",
            registration,
            doc_id,
        )


def namespace_of(principal: Principal) -> str:
    """The document space of a caller: its institution's, unless its credential holds
    the cross-institution scope (then the one space such credentials share, as the
    xAPI spec has documents per LRS). Another institution's documents are never
    visible: a read is a 404, a write creates the caller's own document."""
    if principal.has_scope(CROSS_INSTITUTION_DOCUMENTS):
        return ""
    if principal.institution_id is not None:
        return str(principal.institution_id)
    return f"principal:{principal.kind}:{principal.id}"


def parse_etag_list(header: str) -> frozenset[str]:
    """The entity tags of an ``If-Match`` / ``If-None-Match`` value (``*`` kept as is).

    Quotes and the weak prefix are dropped and tags compared in lowercase (ours are
    lowercase hex); an unquoted value is taken as the tag itself, so garbage simply
    matches nothing.
    """
    tags = set()
    for raw in header.split(","):
        tag = raw.strip()
        if tag.startswith(("W/", "w/")):
            tag = tag[2:]
        if len(tag) >= 2 and tag[0] == '"' and tag[-1] == '"':
            tag = tag[1:-1]
        if tag:
            tags.add(tag if tag == "*" else tag.lower())
    return frozenset(tags)


@dataclass(frozen=True)
class Preconditions:
    """``If-Match`` / ``If-None-Match`` of a write (``None``: the header was absent)."""

    if_match: frozenset[str] | None = None
    if_none_match: frozenset[str] | None = None

    @classmethod
    def from_headers(cls, if_match: str | None, if_none_match: str | None) -> Preconditions:
        return cls(
            if_match=parse_etag_list(if_match) if if_match is not None else None,
            if_none_match=parse_etag_list(if_none_match) if if_none_match is not None else None,
        )

    @property
    def given(self) -> bool:
        return self.if_match is not None or self.if_none_match is not None

    def check(self, current: Document | None) -> None:
        """RFC 7232 evaluation against the stored document (``None``: none stored)."""
        if self.if_match is not None and (
            current is None or ("*" not in self.if_match and current.etag not in self.if_match)
        ):
            raise DocumentPreconditionFailed(
                "If-Match does not match the document's current ETag"
                if current is not None
                else "If-Match given but no such document exists"
            )
        if (
            self.if_none_match is not None
            and current is not None
            and ("*" in self.if_none_match or current.etag in self.if_none_match)
        ):
            raise DocumentPreconditionFailed(
                "If-None-Match: the document exists (or has this ETag) already"
            )


@dataclass(frozen=True)
class StoredDocument:
    content: bytes
    content_type: str
    etag: str
    updated: datetime


@dataclass(frozen=True)
class DocumentIds:
    ids: list[str]
    #: The latest ``updated`` among them; ``None`` when there are none.
    last_modified: datetime | None


def _stored(document: Document) -> StoredDocument:
    return StoredDocument(
        content=document.content,
        content_type=document.content_type,
        etag=document.etag,
        updated=document.updated,
    )


class DocumentService:
    """The three document resources share one implementation."""

    # -- authorisation ------------------------------------------------------------------

    @staticmethod
    def _require_read(principal: Principal, kind: DocumentKind) -> None:
        scope = _WRITE_SCOPE[kind]
        if not (principal.has_scope(scope) or principal.has_scope(_READ_ALL_SCOPE)):
            raise Forbidden(f"this credential lacks the {scope!r} scope", code="scope_missing")

    @staticmethod
    def _require_write(principal: Principal, kind: DocumentKind) -> None:
        scope = _WRITE_SCOPE[kind]
        if not principal.has_scope(scope):
            raise Forbidden(f"this credential lacks the {scope!r} scope", code="scope_missing")

    # -- reads --------------------------------------------------------------------------

    async def get(
        self, session: AsyncSession, principal: Principal, address: DocumentAddress, doc_id: str
    ) -> StoredDocument:
        self._require_read(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        document = await DocumentRepository.from_session(session).get(address.doc_key(doc_id))
        if document is None:
            raise NotFound("no such document", code="document_not_found")
        return _stored(document)

    async def list_ids(
        self,
        session: AsyncSession,
        principal: Principal,
        address: DocumentAddress,
        *,
        since: datetime | None = None,
    ) -> DocumentIds:
        """The ids in this scope (State: one registration when given, else all)."""
        self._require_read(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        ids, latest = await DocumentRepository.from_session(session).list_ids(
            address.scope_key, registration=address.registration, since=since
        )
        return DocumentIds(ids=ids, last_modified=latest)

    # -- writes -------------------------------------------------------------------------

    def _check_body(self, content: bytes, settings: LrsSettings) -> None:
        if len(content) > settings.max_document_bytes:
            raise PayloadTooLarge(
                f"documents are limited to {settings.max_document_bytes} bytes",
                code="document_too_large",
            )

    async def put(
        self,
        session: AsyncSession,
        principal: Principal,
        address: DocumentAddress,
        doc_id: str,
        *,
        content: bytes,
        content_type: str | None,
        preconditions: Preconditions,
        version: str,
        settings: LrsSettings,
    ) -> StoredDocument:
        """Store or replace the document."""
        self._require_write(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        self._check_body(content, settings)
        content_type = content_type or DEFAULT_CONTENT_TYPE
        if media_type(content_type) == JSON_MEDIA:
            parse_json(content, max_depth=settings.max_depth, strict=False)
        repo = DocumentRepository.from_session(session)
        key = address.doc_key(doc_id)
        needs_header = self._put_needs_header(address.kind, version)
        for _ in range(MAX_ATTEMPTS):
            current = await repo.get(key, lock=True)
            preconditions.check(current)
            if (
                current is None
                and not preconditions.given
                and address.kind is not DocumentKind.STATE
            ):
                # The client MUST send one of them to the profile resources (Communication
                # 3.1); over an existing document that is the 409 below.
                raise BadRequest(
                    "a PUT to a profile resource needs If-Match (the ETag you read) or "
                    "If-None-Match: * / 写入档案文档须携带 If-Match 或 If-None-Match: *",
                    code="precondition_required",
                )
            if current is not None:
                if not preconditions.given and needs_header:
                    raise DocumentConflict(_CONFLICT_HELP)
                return await self._replace(repo, principal, current, content, content_type)
            try:
                return await self._insert(
                    repo, principal, address, doc_id, key, content, content_type
                )
            except _CreatedConcurrently:
                if preconditions.given:
                    raise DocumentPreconditionFailed(
                        "the document was created concurrently"
                    ) from None
                if needs_header:
                    raise DocumentConflict(_CONFLICT_HELP) from None
        raise DocumentPreconditionFailed("the document was changed concurrently; read it again")

    async def post(
        self,
        session: AsyncSession,
        principal: Principal,
        address: DocumentAddress,
        doc_id: str,
        *,
        content: bytes,
        content_type: str | None,
        preconditions: Preconditions,
        version: str,
        settings: LrsSettings,
    ) -> StoredDocument:
        """Create the document, or merge a JSON object into the stored JSON object."""
        del version  # the merge rules are the same in 1.0.3 and 2.0
        self._require_write(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        self._check_body(content, settings)
        content_type = content_type or DEFAULT_CONTENT_TYPE
        posted: dict[str, Any] | None = None
        if media_type(content_type) == JSON_MEDIA:
            value = parse_json(content, max_depth=settings.max_depth, strict=False)
            if not isinstance(value, dict):
                raise DocumentNotMergeable("a JSON document POSTed must be a JSON object")
            posted = value
        repo = DocumentRepository.from_session(session)
        key = address.doc_key(doc_id)
        for _ in range(MAX_ATTEMPTS):
            current = await repo.get(key, lock=True)
            preconditions.check(current)
            if current is None:
                try:
                    return await self._insert(
                        repo, principal, address, doc_id, key, content, content_type
                    )
                except _CreatedConcurrently:
                    if preconditions.given:
                        raise DocumentPreconditionFailed(
                            "the document was created concurrently"
                        ) from None
                    continue  # another writer created it: merge into theirs
            if posted is None or media_type(current.content_type) != JSON_MEDIA:
                raise DocumentNotMergeable(
                    "POST merges JSON objects only: both the stored and the posted document "
                    "must be application/json"
                )
            try:
                stored = orjson.loads(current.content)
            except orjson.JSONDecodeError:
                stored = None
            if not isinstance(stored, dict):
                raise DocumentNotMergeable("the stored document is not a JSON object")
            merged = orjson.dumps({**stored, **posted})
            self._check_body(merged, settings)
            updated = self._next_updated(current)
            values = self._values(principal, merged, current.content_type, updated)
            if await repo.update_if(current.id, current.etag, values):
                return StoredDocument(merged, current.content_type, values["etag"], updated)
            if preconditions.given:
                break
        raise DocumentPreconditionFailed("the document was changed concurrently; read it again")

    async def delete(
        self,
        session: AsyncSession,
        principal: Principal,
        address: DocumentAddress,
        doc_id: str,
        *,
        preconditions: Preconditions,
    ) -> None:
        """Delete one document (deleting a missing one without If-Match is a no-op)."""
        self._require_write(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        repo = DocumentRepository.from_session(session)
        key = address.doc_key(doc_id)
        for _ in range(MAX_ATTEMPTS):
            current = await repo.get(key, lock=True)
            preconditions.check(current)
            if current is None:
                return
            if await repo.delete_if(current.id, current.etag):
                return
            if preconditions.given:
                break
        raise DocumentPreconditionFailed("the document was changed concurrently; read it again")

    async def delete_all(
        self, session: AsyncSession, principal: Principal, address: DocumentAddress
    ) -> int:
        """Delete every document of the scope (State without ``stateId``)."""
        self._require_write(principal, address.kind)
        address = replace(address, namespace=namespace_of(principal))
        return await DocumentRepository.from_session(session).delete_scope(
            address.scope_key, registration=address.registration
        )

    # -- helpers ------------------------------------------------------------------------

    @staticmethod
    def _put_needs_header(kind: DocumentKind, version: str) -> bool:
        return kind is not DocumentKind.STATE or version.startswith("2.")

    @staticmethod
    def _next_updated(current: Document | None) -> datetime:
        now = utc_now()
        if current is not None and now <= current.updated:
            return current.updated + timedelta(microseconds=1)
        return now

    @staticmethod
    def _values(
        principal: Principal, content: bytes, content_type: str, updated: datetime
    ) -> dict[str, Any]:
        return {
            "content": content,
            "content_type": content_type,
            "etag": sha1_hex(content),
            "updated": updated,
            "institution_id": principal.institution_id,
            "credential_id": principal.id if principal.kind == "credential" else None,
        }

    async def _replace(
        self,
        repo: DocumentRepository,
        principal: Principal,
        current: Document,
        content: bytes,
        content_type: str,
    ) -> StoredDocument:
        updated = self._next_updated(current)
        values = self._values(principal, content, content_type, updated)
        if not await repo.update_if(current.id, current.etag, values):
            raise DocumentPreconditionFailed("the document was changed concurrently; read it again")
        return StoredDocument(content, content_type, values["etag"], updated)

    async def _insert(
        self,
        repo: DocumentRepository,
        principal: Principal,
        address: DocumentAddress,
        doc_id: str,
        key: str,
        content: bytes,
        content_type: str,
    ) -> StoredDocument:
        updated = self._next_updated(None)
        values = self._values(principal, content, content_type, updated)
        try:
            await repo.insert(
                {
                    **values,
                    "id": uuid.uuid4(),
                    "kind": address.kind.value,
                    "doc_key": key,
                    "scope_key": address.scope_key,
                    "activity_id": address.activity_id,
                    "agent_ifi": address.agent_ifi,
                    "registration": address.registration,
                    "doc_id": doc_id,
                }
            )
        except IntegrityError as exc:
            raise _CreatedConcurrently from exc
        return StoredDocument(content, content_type, values["etag"], updated)


class _CreatedConcurrently(Exception):
    """Another writer inserted the document between our read and our insert."""


documents = DocumentService()


# -- the learner's data rights (creditbank.bootstrap registers these with identity) -----


def _exported_content(document: Document) -> dict[str, str]:
    media = media_type(document.content_type)
    if media == JSON_MEDIA or media.startswith("text/"):
        try:
            return {"content": document.content.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"content_base64": base64.b64encode(document.content).decode("ascii")}


async def export_learner_documents(
    session: AsyncSession, learner_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The State and Agent Profile documents stored for the learner's linked agents."""
    ifis = await identity_service.ifis_of(session, learner_id)
    found = await DocumentRepository.from_session(session).of_agents(ifis)
    return [
        {
            "kind": document.kind,
            "agent": document.agent_ifi,
            "activity_id": document.activity_id,
            "registration": str(document.registration) if document.registration else None,
            "id": document.doc_id,
            "content_type": document.content_type,
            "updated": isoformat_z(document.updated),
            **_exported_content(document),
        }
        for document in found
    ]


async def erase_learner_documents(session: AsyncSession, learner_id: uuid.UUID) -> None:
    """Delete the State and Agent Profile documents of the learner's linked agents.

    Needs the learner's identity links, so it must run before they are deleted.
    """
    ifis = await identity_service.ifis_of(session, learner_id)
    await DocumentRepository.from_session(session).delete_of_agents(ifis)
