"""The Statement resource: store (validate, deduplicate, void, enqueue) and query.

HTTP-agnostic: callers hand over parsed JSON values (and, once multipart is
wired, the attachment parts by SHA-2). Never commits; the caller's transaction
does, after which the acknowledgement may be sent.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.audit.service import audit as audit_service
from creditbank.config import LrsSettings
from creditbank.db import StandbyBehind, on_standby
from creditbank.errors import BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge
from creditbank.identity import authz
from creditbank.identity.principal import Principal
from creditbank.identity.service import identity as identity_service
from creditbank.jobs.service import affinity_key
from creditbank.jobs.service import jobs as jobs_service
from creditbank.kit.time import isoformat_z, utc_now
from creditbank.lrs.attachments import AttachmentPart, referenced_sha2
from creditbank.lrs.keys import Key, KeySet, agent_key, key_hash, statement_keys
from creditbank.lrs.ownership import check_ownership
from creditbank.lrs.query import Cursor, StatementQuery, encode_more
from creditbank.lrs.repository import AttachmentRepository, StatementRepository, StoredRow
from creditbank.lrs.signatures import SignatureInvalid, is_signature, verify_statement_signature
from creditbank.lrs.xapi.compare import statements_equivalent
from creditbank.lrs.xapi.errors import XAPIValidationError
from creditbank.lrs.xapi.format import downgrade_to_1_0, format_statement
from creditbank.lrs.xapi.ifi import agent_ifi
from creditbank.lrs.xapi.validate import VOIDED_VERB, parse_timestamp, validate_statement

JOB_STORED = "lrs.statement_stored"
JOB_VOIDED = "lrs.statement_voided"
SCOPE_WRITE = "statements/write"
SCOPE_READ = "statements/read"
SCOPE_READ_MINE = "statements/read/mine"
# How far a chain of StatementRefs is followed to inherit its targets' filter keys.
MAX_REF_DEPTH = 10


class StatementInvalid(BadRequest):
    """The statement breaks a rule of the xAPI data model; ``path`` names where."""

    code = "invalid_statement"

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


class StatementConflict(Conflict):
    """A different statement is stored under this id already."""

    code = "statement_conflict"


@dataclass(frozen=True)
class StoreResult:
    """The ids of the request, in request order, and how many were new."""

    ids: list[uuid.UUID]
    created: int


@dataclass(frozen=True)
class ImportResult:
    """What :meth:`StatementService.store_new_statements` did with each id."""

    created: list[uuid.UUID]
    unchanged: list[uuid.UUID]
    conflicts: list[uuid.UUID]


@dataclass(frozen=True)
class StatementPage:
    statements: list[dict[str, Any]]
    more: str | None
    consistent_through: datetime
    last_modified: datetime


@dataclass
class _Prepared:
    id: uuid.UUID
    body: dict[str, Any]
    #: What the sender sent (after validation), with our authority: compared on duplicates.
    incoming: dict[str, Any]
    is_voiding: bool
    target: uuid.UUID | None  # StatementRef object
    own_keys: KeySet
    #: The row without ``seq``/``stored`` (filled under the append lock).
    row: dict[str, Any] = field(default_factory=dict)
    #: ``(key_hash, related)`` of the statement's own keys.
    own_hashes: list[tuple[int, bool]] = field(default_factory=list)
    voided: bool = False
    #: Why its recognition job is parked for the operator (``lrs.foreign_ifi = hold``).
    held: str | None = None


def _state(row: StoredRow | None, item: _Prepared) -> str:
    if row is None:
        return "new"
    return "same" if statements_equivalent(row.body, item.incoming) else "conflict"


def _millis(value: datetime) -> datetime:
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


class StatementService:
    """Statements: the write path (the ingest hot path) and the query path."""

    # -- authorisation ------------------------------------------------------------------

    @staticmethod
    def _require_write(principal: Principal) -> None:
        if principal.is_anonymous:
            raise Forbidden("authentication required", code="forbidden")
        if not principal.has_scope(SCOPE_WRITE):
            raise Forbidden("this credential may not write statements", code="scope_missing")

    @staticmethod
    def read_institution(principal: Principal) -> uuid.UUID | None:
        """``None`` when the principal reads everything, else the institution to filter by."""
        if principal.has_scope(SCOPE_READ):
            return None
        if principal.has_scope(SCOPE_READ_MINE) and principal.institution_id is not None:
            return principal.institution_id
        raise Forbidden("this credential may not read statements", code="scope_missing")

    # -- writes -------------------------------------------------------------------------

    async def put_statement(
        self,
        session: AsyncSession,
        principal: Principal,
        statement_id: uuid.UUID,
        statement: Any,
        *,
        version: str,
        settings: LrsSettings,
        attachments: Mapping[str, bytes] | None = None,
    ) -> StoreResult:
        """``PUT ?statementId=``: the body must be one statement whose id (if any) matches."""
        if not isinstance(statement, dict):
            raise StatementInvalid("$", "PUT takes one statement (a JSON object)")
        sent = statement.get("id")
        if sent is not None:
            if not isinstance(sent, str) or _parse_uuid(sent) != statement_id:
                raise BadRequest(
                    "the statement's id differs from the statementId parameter",
                    code="statement_id_mismatch",
                )
        else:
            statement = {**statement, "id": str(statement_id)}
        return await self.store_statements(
            session,
            principal,
            [statement],
            version=version,
            settings=settings,
            attachments=attachments,
            single=True,
        )

    async def store_statements(
        self,
        session: AsyncSession,
        principal: Principal,
        statements: Sequence[Any],
        *,
        version: str,
        settings: LrsSettings,
        attachments: Mapping[str, bytes] | None = None,
        single: bool = False,
    ) -> StoreResult:
        """Store a batch atomically: all statements or none (``POST``)."""
        self._require_write(principal)
        if not statements:
            raise BadRequest("no statements given", code="empty_batch")
        if len(statements) > settings.max_batch:
            raise PayloadTooLarge(
                f"at most {settings.max_batch} statements per request", code="batch_too_large"
            )
        prepared = self._prepare(principal, statements, version, attachments, single)
        self._check_no_surplus_parts(prepared, attachments)
        unique = self._dedupe_batch(prepared)
        repo = StatementRepository.from_session(session)
        # Before the first query: on SQLite the transaction begins behind the write gate.
        await repo.begin_append()
        held = await check_ownership(
            session,
            principal,
            [("$" if single else f"$[{i}]", p.body) for i, p in enumerate(prepared)],
            policy=settings.foreign_ifi,
        )
        for index, reason in held.items():
            prepared[index].held = reason
        await repo.lock_for_append()
        new = await self._drop_stored(repo, unique)
        if not new:
            return StoreResult(ids=[p.id for p in prepared], created=0)
        if attachments:
            await self._store_attachment_content(session, new, attachments)
        try:
            await self._append(session, repo, principal, new)
        except IntegrityError as exc:
            # The append lock orders writers, so this means a writer that bypassed it
            # stored one of these ids first: SQLite's unique index keeps one copy, we
            # 409. (PostgreSQL partitions by month and has no unique index on the id:
            # the check under the lock is what keeps ids unique there.)
            raise StatementConflict("a statement with this id was stored concurrently") from exc
        return StoreResult(ids=[p.id for p in prepared], created=len(new))

    def check_statement(self, statement: Any, *, version: str, path: str = "$") -> None:
        """Validate one statement exactly as ``POST /xapi/statements`` does (no store)."""
        if not isinstance(statement, dict):
            raise StatementInvalid(path, "a statement must be a JSON object")
        try:
            validate_statement(statement, version=version, path=path)
        except XAPIValidationError as exc:
            raise StatementInvalid(exc.path, exc.message) from None

    async def classify_statements(
        self,
        session: AsyncSession,
        principal: Principal,
        statements: Sequence[Any],
        *,
        version: str,
    ) -> dict[uuid.UUID, str]:
        """For statements with ids: ``"new"``, ``"same"`` (an equivalent one is stored)
        or ``"conflict"`` (a different one is stored under the id). Validates, stores
        nothing."""
        prepared = self._dedupe_batch(self._prepare(principal, statements, version, None, False))
        repo = StatementRepository.from_session(session)
        existing = await repo.rows_by_id([p.id for p in prepared])
        return {item.id: _state(existing.get(item.id), item) for item in prepared}

    async def store_new_statements(
        self,
        session: AsyncSession,
        principal: Principal,
        statements: Sequence[Any],
        *,
        version: str,
    ) -> ImportResult:
        """Store a batch (same validation, same jobs as ``POST``), skipping equivalent
        statements already stored and *reporting* (not storing, not raising) those whose
        id holds a different statement: for imports, where one changed row must not
        block the others nor overwrite what was acknowledged before."""
        self._require_write(principal)
        if not statements:
            return ImportResult(created=[], unchanged=[], conflicts=[])
        prepared = self._dedupe_batch(self._prepare(principal, statements, version, None, False))
        repo = StatementRepository.from_session(session)
        await repo.lock_for_append()
        existing = await repo.rows_by_id([p.id for p in prepared])
        new: list[_Prepared] = []
        unchanged: list[uuid.UUID] = []
        conflicts: list[uuid.UUID] = []
        for item in prepared:
            state = _state(existing.get(item.id), item)
            if state == "new":
                new.append(item)
            elif state == "same":
                unchanged.append(item.id)
            else:
                conflicts.append(item.id)
        if new:
            try:
                await self._append(session, repo, principal, new)
            except IntegrityError as exc:
                raise StatementConflict("a statement with this id was stored concurrently") from exc
        return ImportResult(created=[p.id for p in new], unchanged=unchanged, conflicts=conflicts)

    def _prepare(
        self,
        principal: Principal,
        statements: Sequence[Any],
        version: str,
        attachments: Mapping[str, bytes] | None,
        single: bool,
    ) -> list[_Prepared]:
        default_version = "2.0.0" if version.startswith("2") else "1.0.0"
        out: list[_Prepared] = []
        # Random bits for the ids the LRS assigns: one os.urandom call per batch, not one
        # per statement (what uuid4 does; a system call is dear on a loaded VM).
        entropy = b""
        first = 0
        for index, raw in enumerate(statements):
            path = "$" if single else f"$[{index}]"
            if not isinstance(raw, dict):
                raise StatementInvalid(path, "a statement must be a JSON object")
            try:
                body = validate_statement(raw, version=version, path=path)
            except XAPIValidationError as exc:
                raise StatementInvalid(exc.path, exc.message) from None
            if "id" in body:
                statement_id = _parse_uuid(body["id"])
            else:
                if not entropy:
                    entropy = os.urandom(16 * (len(statements) - index))
                    first = index
                start = 16 * (index - first)
                statement_id = uuid.UUID(bytes=entropy[start : start + 16], version=4)
            self._check_attachments(body, attachments, path, version)
            incoming = dict(body)
            if principal.authority is not None:
                if "authority" in incoming:
                    incoming["authority"] = principal.authority
                body["authority"] = principal.authority
            body["id"] = str(statement_id)
            body.setdefault("version", default_version)
            obj = body.get("object") or {}
            target = None
            if obj.get("objectType") == "StatementRef":
                target = _parse_uuid(obj["id"])
            is_voiding = body["verb"]["id"] == VOIDED_VERB and target is not None
            if is_voiding and target == statement_id:
                raise StatementInvalid(f"{path}.object.id", "a statement cannot void itself")
            own_keys = statement_keys(body)
            item = _Prepared(
                id=statement_id,
                body=body,
                incoming=incoming,
                is_voiding=is_voiding,
                target=target,
                own_keys=own_keys,
                own_hashes=[(key_hash(k, v), related) for k, v, related in own_keys.entries()],
            )
            item.row = self._row(item, principal)
            out.append(item)
        return out

    @staticmethod
    def _check_attachments(
        body: dict[str, Any],
        attachments: Mapping[str, bytes] | None,
        path: str,
        version: str,
    ) -> None:
        """Every attachment without ``fileUrl`` (a SubStatement's too) has its part;
        signatures verify."""
        parts = attachments or {}
        holders = [(body, path)]
        obj = body.get("object") or {}
        if obj.get("objectType") == "SubStatement":
            holders.append((obj, f"{path}.object"))
        for holder, where in holders:
            for index, attachment in enumerate(holder.get("attachments") or ()):
                sha2 = str(attachment.get("sha2", "")).lower()
                content = parts.get(sha2)
                if is_signature(attachment) and holder is body:
                    if content is None:
                        raise SignatureInvalid(
                            f"{where}.attachments[{index}]: a signature attachment must be sent "
                            "as a part of the request (multipart/mixed)"
                        )
                    verify_statement_signature(body, content, version=version)
                elif content is None and not attachment.get("fileUrl"):
                    raise StatementInvalid(
                        f"{where}.attachments[{index}]",
                        "no fileUrl and no attachment part with this sha2 in the request",
                    )

    @staticmethod
    def _check_no_surplus_parts(
        prepared: list[_Prepared], attachments: Mapping[str, bytes] | None
    ) -> None:
        """Every attachment part must be declared by a statement of the request."""
        if not attachments:
            return
        declared = {sha2 for item in prepared for sha2, _ in referenced_sha2(item.body)}
        surplus = sorted(set(attachments) - declared)
        if surplus:
            raise BadRequest(
                f"attachment part(s) {', '.join(surplus)} match no attachment of the statements",
                code="surplus_attachment_part",
            )

    @staticmethod
    async def _store_attachment_content(
        session: AsyncSession, batch: list[_Prepared], attachments: Mapping[str, bytes]
    ) -> None:
        """The content of the new statements' attachments, once per digest."""
        now = utc_now()
        rows: dict[str, dict[str, Any]] = {}
        for item in batch:
            for sha2, metadata in referenced_sha2(item.body):
                content = attachments.get(sha2)
                if content is None or sha2 in rows:
                    continue
                rows[sha2] = {
                    "sha2": sha2,
                    "content_type": str(metadata.get("contentType", "application/octet-stream"))[
                        :255
                    ],
                    "length": len(content),
                    "content": content,
                    "created": now,
                }
        await AttachmentRepository.from_session(session).store(list(rows.values()))

    async def attachment_parts(
        self, session: AsyncSession, statements: Sequence[dict[str, Any]]
    ) -> list[AttachmentPart]:
        """The stored content of the statements' attachments, each digest once, in order.

        Each part is labelled with the digest as the statement spells it (its case) and
        the statement's ``contentType``, so a client matches parts by plain comparison.
        """
        wanted: dict[str, tuple[str, str]] = {}
        for statement in statements:
            for sha2, metadata in referenced_sha2(statement):
                wanted.setdefault(
                    sha2,
                    (
                        str(metadata.get("sha2", sha2)),
                        str(metadata.get("contentType", "application/octet-stream")),
                    ),
                )
        contents = await AttachmentRepository.from_session(session).contents(wanted)
        return [
            AttachmentPart(sha2=label, content_type=content_type, content=contents[sha2])
            for sha2, (label, content_type) in wanted.items()
            if sha2 in contents
        ]

    @staticmethod
    def _dedupe_batch(prepared: list[_Prepared]) -> list[_Prepared]:
        """The same id twice in one batch is a bad request, even with equal content
        (Communication §2.1.2: the LRS SHOULD* reject such a batch; xAPI 2.0 tests it)."""
        seen: set[uuid.UUID] = set()
        for item in prepared:
            if item.id in seen:
                raise BadRequest(
                    f"statement id {item.id} appears more than once in the batch",
                    code="duplicate_in_batch",
                )
            seen.add(item.id)
        return prepared

    async def _drop_stored(
        self, repo: StatementRepository, batch: list[_Prepared]
    ) -> list[_Prepared]:
        """Statements already stored: equivalent ones are skipped, different ones → 409."""
        existing = await repo.rows_by_id([p.id for p in batch])
        new: list[_Prepared] = []
        for item in batch:
            row = existing.get(item.id)
            if row is None:
                new.append(item)
            elif not statements_equivalent(row.body, item.incoming):
                raise StatementConflict(
                    f"a different statement is stored with id {item.id}",
                )
        return new

    async def _append(
        self,
        session: AsyncSession,
        repo: StatementRepository,
        principal: Principal,
        batch: list[_Prepared],
    ) -> None:
        in_batch = {p.id: p for p in batch}
        targets = await self._load_targets(repo, [p.target for p in batch if p.target])
        void_in_db: list[uuid.UUID] = []
        voided_jobs: list[dict[str, str]] = []
        for item in batch:
            if not item.is_voiding or item.target is None:
                continue
            target_in_batch = in_batch.get(item.target)
            target_row = targets.get(item.target)
            if (target_in_batch is not None and target_in_batch.is_voiding) or (
                target_row is not None and target_row.is_voiding
            ):
                raise BadRequest(
                    f"statement {item.target} is a voiding statement and cannot be voided",
                    code="cannot_void_voiding_statement",
                )
            if target_row is not None and target_row.institution_id != principal.institution_id:
                # One institution may never retract another's records; the operator
                # voids on an institution's behalf (``void_on_behalf``, audited).
                raise Forbidden(
                    f"statement {item.target} was stored by another institution; only that"
                    " institution (or an operator, POST /api/v1/statements/{id}/void) may"
                    " void it / 该语句由其他机构存储，本机构无权作废",
                    code="void_not_owner",
                )
            if target_in_batch is not None:
                target_in_batch.voided = True
            elif target_row is not None:
                void_in_db.append(item.target)
            voided_jobs.append(
                {"statement_id": str(item.target), "voiding_statement_id": str(item.id)}
            )

        affinities = await self._affinities(session, [p for p in batch if p.held is None])
        # Everything above ran before the lock or is rare; this part holds it: number
        # the statements, stamp ``stored``, insert, and the caller commits.
        seq, last_stored = await repo.head()
        # ``stored`` never decreases along ``seq`` (even if the clock steps back): the
        # ``since``/``until`` queries rely on it to turn times into a ``seq`` range.
        stored = _millis(utc_now())
        if last_stored is not None and stored < last_stored:
            stored = last_stored
        stored_text = isoformat_z(stored)
        statement_rows: list[dict[str, Any]] = []
        key_rows: list[tuple[int, int, bool]] = []
        resolved: dict[uuid.UUID, list[Key]] = {}
        for item in batch:
            seq += 1
            body = item.body
            body["stored"] = stored_text
            row = item.row
            row["seq"] = seq
            row["stored"] = stored
            row["voided"] = item.voided
            if "timestamp" not in body:
                body["timestamp"] = stored_text
                row["timestamp"] = stored
            if item.target is None:
                key_rows.extend((h, seq, related) for h, related in item.own_hashes)
            else:
                keys = self._inherited_keys(item, in_batch, targets, resolved)
                key_rows.extend((key_hash(k, v), seq, related) for k, v, related in keys)
            statement_rows.append(row)
        await repo.insert_statements(statement_rows)
        await repo.insert_keys(key_rows, stored)
        await repo.mark_voided(void_in_db)
        await jobs_service.enqueue_many(
            session,
            JOB_STORED,
            [{"statement_id": str(p.id)} for p in batch if p.held is None],
            affinities=affinities,
        )
        for item in batch:
            if item.held is not None:
                await jobs_service.park_many(
                    session, JOB_STORED, [{"statement_id": str(item.id)}], reason=item.held
                )
        if voided_jobs:
            await jobs_service.enqueue_many(session, JOB_VOIDED, voided_jobs)

    @staticmethod
    async def _affinities(session: AsyncSession, items: Sequence[_Prepared]) -> list[str | None]:
        """Each statement's job affinity: its actor's learner (any of her accounts), or
        the actor alone while unlinked; none for a Group. One query for the batch, on
        PostgreSQL only (SQLite has one worker: nothing to keep apart)."""
        if session.get_bind().dialect.name != "postgresql":
            return [None] * len(items)
        ifis = [
            agent_ifi(item.body["actor"])
            if item.body["actor"].get("objectType") != "Group"
            else None
            for item in items
        ]
        learners = await identity_service.learner_ids_for_ifis(
            session, sorted({ifi for ifi in ifis if ifi is not None})
        )
        return [
            None
            if ifi is None
            else affinity_key(f"learner:{learners[ifi]}" if ifi in learners else f"ifi:{ifi}")
            for ifi in ifis
        ]

    @staticmethod
    def _row(item: _Prepared, principal: Principal) -> dict[str, Any]:
        body = item.body
        obj = body["object"]
        object_type = obj.get("objectType", "Activity")
        registration = (body.get("context") or {}).get("registration")
        timestamp = body.get("timestamp")
        return {
            "seq": 0,
            "id": item.id,
            "actor_key": agent_key(body["actor"]),
            "verb_id": body["verb"]["id"],
            "object_type": object_type,
            "object_activity_id": obj.get("id") if object_type == "Activity" else None,
            "object_statement_id": item.target,
            "registration": _parse_uuid(registration) if registration else None,
            "stored": None,
            "timestamp": parse_timestamp(timestamp) if timestamp else None,
            "institution_id": principal.institution_id,
            "credential_id": principal.id,
            "voided": False,
            "is_voiding": item.is_voiding,
            "version": body["version"],
            "has_attachments": bool(body.get("attachments")),
            "body": body,
        }

    async def _load_targets(
        self, repo: StatementRepository, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, StoredRow]:
        """Stored StatementRef targets, following chains so keys can be inherited."""
        found: dict[uuid.UUID, StoredRow] = {}
        wanted = set(ids)
        for _ in range(MAX_REF_DEPTH):
            wanted -= found.keys()
            if not wanted:
                break
            rows = await repo.rows_by_id(wanted)
            found.update(rows)
            wanted = {row.object_statement_id for row in rows.values() if row.object_statement_id}
        return found

    def _inherited_keys(
        self,
        item: _Prepared,
        in_batch: dict[uuid.UUID, _Prepared],
        targets: dict[uuid.UUID, StoredRow],
        resolved: dict[uuid.UUID, list[Key]],
    ) -> list[Key]:
        """Own keys plus those of the statement it targets (recursively): spec 2.1.1's
        "statements targeting a statement match the filters the target matches"."""
        keys = KeySet()
        keys.add_all(item.own_keys.entries())
        target = item.target
        depth = 0
        while target is not None and depth < MAX_REF_DEPTH:
            depth += 1
            if target in resolved:
                keys.add_all(resolved[target])
                break
            if target in in_batch:
                ref = in_batch[target]
                keys.add_all(ref.own_keys.entries())
                target = ref.target
            elif target in targets:
                row = targets[target]
                keys.add_all(statement_keys(row.body).entries())
                target = row.object_statement_id
            else:
                break
        result = keys.entries()
        resolved[item.id] = result
        return result

    async def void_on_behalf(
        self,
        session: AsyncSession,
        operator: Principal,
        statement_id: uuid.UUID,
        *,
        reason: str,
        settings: LrsSettings,
        ip: str | None = None,
    ) -> dict[str, str]:
        """The operator voids a statement for the institution that stored it (audited,
        refusals too)."""
        async with audit_service.refusals(
            session,
            actor=operator,
            action="lrs.void_on_behalf",
            object_type="statement",
            object_id=statement_id,
            ip=ip,
        ):
            authz.authorize(operator, "statement.void_on_behalf")
            return await self._void_on_behalf(
                session, operator, statement_id, reason=reason, settings=settings, ip=ip
            )

    async def _void_on_behalf(
        self,
        session: AsyncSession,
        operator: Principal,
        statement_id: uuid.UUID,
        *,
        reason: str,
        settings: LrsSettings,
        ip: str | None = None,
    ) -> dict[str, str]:
        """The operator voids a statement for the institution that stored it (audited).

        The voiding statement is stored as that institution's (its ``institution_id``),
        with an ``authority`` naming both: a Group of the institution's authority and
        the operator, as xAPI describes an assertion made through an intermediary.
        """
        repo = StatementRepository.from_session(session)
        target = (await repo.rows_by_id([statement_id])).get(statement_id)
        if target is None:
            raise NotFound(f"no statement {statement_id}", code="statement_not_found")
        if target.is_voiding:
            raise BadRequest(
                f"statement {statement_id} is a voiding statement and cannot be voided",
                code="cannot_void_voiding_statement",
            )
        if target.voided:
            raise Conflict(f"statement {statement_id} is voided already", code="already_voided")
        stored_by = target.body.get("authority") or {}
        home_page = (stored_by.get("account") or {}).get("homePage") or "urn:creditbank"
        operator_agent = {
            "objectType": "Agent",
            "name": "creditbank operator / 学分银行管理员",
            "account": {"homePage": home_page, "name": f"operator:{operator.label or operator.id}"},
        }
        members = [m for m in (stored_by.get("member") or [stored_by]) if m.get("account")]
        on_behalf = Principal(
            kind="credential",
            institution_id=target.institution_id,
            scopes=frozenset({SCOPE_WRITE}),
            label=f"operator:{operator.label}",
            authority={"objectType": "Group", "member": [*members[:1], operator_agent]},
        )
        voiding_id = uuid.uuid4()
        statement = {
            "id": str(voiding_id),
            "actor": operator_agent,
            "verb": {"id": VOIDED_VERB, "display": {"en-US": "voided", "zh-CN": "作废"}},
            "object": {"objectType": "StatementRef", "id": str(statement_id)},
        }
        await self.store_statements(
            session, on_behalf, [statement], version="1.0.3", settings=settings, single=True
        )
        await audit_service.record(
            session,
            actor=operator,
            action="lrs.void_on_behalf",
            object_type="statement",
            object_id=statement_id,
            detail={
                "voiding_statement_id": str(voiding_id),
                "institution_id": str(target.institution_id),
                "reason": reason,
            },
            ip=ip,
        )
        return {
            "statement_id": str(statement_id),
            "voiding_statement_id": str(voiding_id),
            "institution_id": str(target.institution_id),
        }

    # -- reads --------------------------------------------------------------------------

    async def get_statement(
        self,
        session: AsyncSession,
        principal: Principal,
        statement_id: uuid.UUID,
        *,
        voided: bool,
        fmt: str = "exact",
        languages: Sequence[str] = (),
        downgrade: bool = False,
    ) -> tuple[dict[str, Any], datetime]:
        """One statement by id (``voided`` selects ``voidedStatementId`` semantics)."""
        institution_id = self.read_institution(principal)
        found = await StatementRepository.from_session(session).get_body(
            statement_id, voided=voided, institution_id=institution_id
        )
        if found is None:
            if on_standby(session):
                raise StandbyBehind  # it may be there on the primary: only it may say 404
            raise NotFound(f"no statement {statement_id}", code="statement_not_found")
        body, stored = found
        return _format(body, fmt, languages, downgrade), stored

    async def query_statements(
        self,
        session: AsyncSession,
        principal: Principal,
        query: StatementQuery,
        *,
        languages: Sequence[str] = (),
        downgrade: bool = False,
    ) -> StatementPage:
        """A page of statements; ``more`` continues it without skips or repeats."""
        institution_id = self.read_institution(principal)
        repo = StatementRepository.from_session(session)
        if on_standby(session):
            last_seq, last_stored = await repo.head()
            consistent = _standby_consistent(last_stored)
            if query.cursor is not None and query.cursor.bound > last_seq:
                raise StandbyBehind  # the page's statements are not all replayed yet
        else:
            consistent_point = await self._consistent_point(repo)
            last_seq, last_stored = await repo.head()
            consistent = consistent_point or last_stored or _millis(utc_now())
        bound = query.cursor.bound if query.cursor is not None else last_seq
        page = await repo.query(query, institution_id=institution_id, bound=bound)
        more = None
        if page.more and page.rows:
            more = encode_more(query, Cursor(position=page.rows[-1][0], bound=bound))
        statements = [_format(body, query.format, languages, downgrade) for _, body, _ in page.rows]
        last_modified = max((stored for _, _, stored in page.rows), default=consistent)
        return StatementPage(
            statements=statements,
            more=more,
            consistent_through=consistent,
            last_modified=last_modified,
        )

    @staticmethod
    async def _consistent_point(repo: StatementRepository) -> datetime | None:
        """Now, if no append is in flight (read before the data is); else ``None``."""
        now = _millis(utc_now())
        return now if await repo.writers_idle() else None

    async def consistent_through(self, session: AsyncSession) -> datetime:
        """``X-Experience-API-Consistent-Through``: every statement stored up to then is
        visible to reads that start after this call."""
        repo = StatementRepository.from_session(session)
        if on_standby(session):
            return _standby_consistent(await repo.consistent_through())
        consistent = await self._consistent_point(repo)
        if consistent is not None:
            return consistent
        value = await repo.consistent_through()
        return value or _millis(utc_now())

    async def stored_total(self, session: AsyncSession, principal: Principal) -> int:
        """Statements stored since the LRS began (the last ``seq``), for ``/metrics``."""
        authz.authorize(principal, "metrics.read")
        return await StatementRepository.from_session(session).highest_seq()


def _standby_consistent(last_stored: datetime | None) -> datetime:
    """Consistent-Through on a hot standby: a millisecond before its last replayed
    statement's ``stored``.

    The standby cannot see the primary's append lock, so it can vouch only for what it
    has: appends commit in ``seq`` order and ``stored`` never decreases along ``seq``,
    so every statement stored before that last one's ``stored`` is replayed; another
    with the same ``stored`` may not be yet, hence the millisecond. With no statement
    replayed it can vouch for nothing: the primary answers (``StandbyBehind``)."""
    if last_stored is None:
        raise StandbyBehind
    return last_stored - timedelta(milliseconds=1)


def _format(
    body: dict[str, Any], fmt: str, languages: Sequence[str], downgrade: bool = False
) -> dict[str, Any]:
    """``body`` in ``fmt``; ``downgrade``: as a strict 1.0.3 reader accepts it."""
    if downgrade:
        body = downgrade_to_1_0(body)
    if fmt == "exact":
        return body
    return format_statement(body, fmt, list(languages))  # type: ignore[arg-type]


def _parse_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, AttributeError, TypeError) as exc:
        raise BadRequest(f"{value!r} is not a UUID", code="invalid_statement") from exc


statements = StatementService()


@dataclass(frozen=True)
class StatementForProcessing:
    """What the rules worker reads of a stored statement (no principal: internal use)."""

    id: uuid.UUID
    body: dict[str, Any]
    institution_id: uuid.UUID | None
    voided: bool
    is_voiding: bool
    stored: datetime
    timestamp: datetime


async def get_statement_for_processing(
    session: AsyncSession, statement_id: uuid.UUID
) -> StatementForProcessing | None:
    """A stored statement with its sender and voided flag, for background processing."""
    row = await StatementRepository.from_session(session).get(statement_id)
    if row is None:
        return None
    return StatementForProcessing(
        id=row.id,
        body=row.body,
        institution_id=row.institution_id,
        voided=row.voided,
        is_voiding=row.is_voiding,
        stored=row.stored,
        timestamp=row.timestamp,
    )


async def get_statements_for_processing(
    session: AsyncSession, statement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, StatementForProcessing]:
    """Batch :func:`get_statement_for_processing`: id -> statement, the missing left out."""
    rows = await StatementRepository.from_session(session).for_processing(statement_ids)
    return {
        row.id: StatementForProcessing(
            id=row.id,
            body=row.body,
            institution_id=row.institution_id,
            voided=row.voided,
            is_voiding=row.is_voiding,
            stored=row.stored,
            timestamp=row.timestamp,
        )
        for row in rows
    }


# -- the learner's data rights (creditbank.bootstrap registers this with identity) -----


async def export_learner_statements(
    session: AsyncSession, learner_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The statements about the learner's linked agents (as actor or as Agent object).

    Erasure keeps them (docs/data-classification.md, "Erasure").
    """
    agents = set(await identity_service.ifis_of(session, learner_id))
    exported = []
    for row in await StatementRepository.from_session(session).of_agents(sorted(agents)):
        target = row.body.get("object")
        target_key = agent_key(target) if isinstance(target, dict) else None
        if agent_key(row.body["actor"]) not in agents and target_key not in agents:
            continue  # a 64-bit key collision: someone else's statement
        exported.append(
            {
                "id": str(row.id),
                "stored": isoformat_z(row.stored),
                "voided": row.voided,
                "statement": row.body,
            }
        )
    return exported
