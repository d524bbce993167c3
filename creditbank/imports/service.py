"""Imports: preview a CSV/xlsx file under a column mapping, then commit it as statements.

A file is read (:mod:`creditbank.imports.reader`), every row converted and checked
(:mod:`creditbank.imports.rows`) and validated by the LRS exactly as ``/xapi`` does;
the preview says, row by row, what is wrong and how the valid rows stand against
what is stored (new, unchanged, conflicting). Commit parses the stored file again
and stores the new statements through :meth:`StatementService.store_new_statements`
in one transaction, attributed to the institution (its ``institution_id``, an
authority naming the institution's import), so recognition runs as for any pushed
statement. A file with any row error commits nothing.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from creditbank.errors import BadRequest, Conflict, Forbidden, NotFound
from creditbank.identity.authz import Resource, authorize
from creditbank.identity.principal import Principal
from creditbank.identity.service import Institution
from creditbank.identity.service import identity as identity_service
from creditbank.imports.mapping import ColumnMapping, parse_mapping
from creditbank.imports.models import ImportBatch, ImportStatus
from creditbank.imports.reader import read_table
from creditbank.imports.repository import ImportRepository
from creditbank.imports.rows import RowConverter, RowError, RowStatement
from creditbank.kit.time import utc_now
from creditbank.lrs.service import StatementInvalid
from creditbank.lrs.service import statements as statement_service

XAPI_VERSION = "1.0.3"
CHUNK = 1000
#: How many errors / conflicting rows a preview keeps (the counts are always complete).
MAX_LISTED = 1000

Progress = Callable[[str, int, int], None]


class ImportNotFound(NotFound):
    code = "import_not_found"


class ImportHasErrors(Conflict):
    code = "import_has_errors"


@dataclass
class Analysis:
    """A file read and checked: statements of the valid rows, every row error, and
    (after :meth:`ImportService.classify`) how each statement stands."""

    format: str
    encoding: str | None
    rows: int
    statements: list[RowStatement]
    errors: list[RowError]
    duplicate_rows: int
    states: dict[uuid.UUID, str] = field(default_factory=dict)

    def count(self, state: str) -> int:
        return sum(1 for value in self.states.values() if value == state)

    def conflict_rows(self, ids: Sequence[uuid.UUID] | None = None) -> list[dict[str, Any]]:
        wanted = (
            set(ids) if ids is not None else {k for k, v in self.states.items() if v == "conflict"}
        )
        return [
            {
                "row": item.row,
                "statement_id": str(item.id),
                "message": {
                    "zh-CN": "已导入过同一条记录，但内容不同；未覆盖",
                    "en": "this record was imported before with different content; not overwritten",
                },
            }
            for item in self.statements
            if item.id in wanted
        ][:MAX_LISTED]


def import_principal(institution: Institution, label: str | None) -> Principal:
    """The principal an import stores statements as: the institution itself."""
    home_page = institution.home_pages[0] if institution.home_pages else "urn:creditbank"
    return Principal(
        kind="credential",
        institution_id=institution.id,
        institution_key=institution.key,
        scopes=frozenset({"statements/write"}),
        label=f"import:{label or institution.key}",
        authority={
            "objectType": "Agent",
            "name": institution.name_zh,
            "account": {"homePage": home_page, "name": "import"},
        },
    )


class ImportService:
    # -- access ---------------------------------------------------------------------

    async def _institution(
        self, session: AsyncSession, principal: Principal, key: str
    ) -> Institution:
        institution = await identity_service.get_institution(session, key)
        authorize(principal, "import.manage", Resource(institution_id=institution.id))
        if principal.kind == "credential" and not principal.has_scope("statements/write"):
            raise Forbidden(
                "this credential may not write statements / 此凭据无权写入学习记录",
                code="scope_missing",
            )
        return institution

    # -- pure analysis --------------------------------------------------------------

    def analyse(
        self,
        institution: Institution,
        *,
        filename: str,
        content: bytes,
        mapping: ColumnMapping,
    ) -> Analysis:
        """Read and check every row (no database): raises ``ImportFileInvalid`` for a
        file that is not a readable table."""
        if mapping.institution is not None and mapping.institution != institution.key:
            raise BadRequest(
                f"the mapping is for institution {mapping.institution!r}, not "
                f"{institution.key!r} / 映射文件属于其他机构",
                code="mapping_institution_mismatch",
            )
        table = read_table(filename, content, encoding=mapping.encoding, sheet=mapping.sheet)
        home_page = institution.home_pages[0] if institution.home_pages else "urn:creditbank"
        converter = RowConverter(
            mapping, table.header, institution_key=institution.key, home_page=home_page
        )
        converted = converter.convert_all(table.rows)
        valid: list[RowStatement] = []
        errors = list(converted.errors)
        for item in converted.statements:
            try:
                statement_service.check_statement(item.statement, version=XAPI_VERSION)
            except StatementInvalid as exc:
                errors.append(
                    RowError(
                        item.row,
                        None,
                        exc.path,
                        "invalid_statement",
                        f"生成的 xAPI 记录无效：{exc.path}: {exc.message}",
                        f"the resulting xAPI statement is invalid: {exc.path}: {exc.message}",
                    )
                )
                continue
            valid.append(item)
        errors.sort(key=lambda e: e.row)
        return Analysis(
            format=table.format,
            encoding=table.encoding,
            rows=converted.rows,
            statements=valid,
            errors=errors,
            duplicate_rows=converted.duplicate_rows,
        )

    async def classify(
        self,
        session: AsyncSession,
        institution: Institution,
        analysis: Analysis,
        *,
        progress: Progress | None = None,
    ) -> None:
        principal = import_principal(institution, None)
        total = len(analysis.statements)
        for start in range(0, total, CHUNK):
            chunk = analysis.statements[start : start + CHUNK]
            states = await statement_service.classify_statements(
                session, principal, [item.statement for item in chunk], version=XAPI_VERSION
            )
            analysis.states.update(states)
            if progress is not None:
                progress("check", min(start + CHUNK, total), total)

    # -- preview and commit ---------------------------------------------------------

    async def preview(
        self,
        session: AsyncSession,
        principal: Principal,
        institution_key: str,
        *,
        filename: str,
        content: bytes,
        mapping_text: str,
    ) -> ImportBatch:
        """Check a file and keep it for commit; a malformed file stores nothing."""
        institution = await self._institution(session, principal, institution_key)
        mapping = parse_mapping(mapping_text)
        analysis = self.analyse(institution, filename=filename, content=content, mapping=mapping)
        await self.classify(session, institution, analysis)
        batch = _batch_record(
            institution,
            principal,
            filename=filename,
            content=content,
            mapping_text=mapping_text,
            analysis=analysis,
            status=ImportStatus.PREVIEW,
            error_count=len(analysis.errors),
            conflicts=analysis.count("conflict"),
            errors=[error.as_dict() for error in analysis.errors[:MAX_LISTED]],
            conflict_rows=analysis.conflict_rows(),
            created_at=utc_now(),
        )
        return await ImportRepository.from_session(session).add(batch)

    async def commit(
        self,
        session: AsyncSession,
        principal: Principal,
        institution_key: str,
        import_id: uuid.UUID,
        *,
        progress: Progress | None = None,
    ) -> ImportBatch:
        """Store the previewed file's new statements (all in the caller's transaction).

        Committing again answers the first commit's result and stores nothing.
        """
        institution = await self._institution(session, principal, institution_key)
        repo = ImportRepository.from_session(session)
        batch = await repo.get(institution.id, import_id, for_update=True, with_content=True)
        if batch is None:
            raise ImportNotFound(f"no import {import_id} / 没有此导入", code="import_not_found")
        if batch.status == ImportStatus.COMMITTED:
            return batch
        mapping = parse_mapping(batch.mapping)
        analysis = self.analyse(
            institution, filename=batch.filename, content=batch.content, mapping=mapping
        )
        if analysis.errors:
            raise ImportHasErrors(
                f"the file has {len(analysis.errors)} row error(s); fix them and preview "
                f"again / 文件有 {len(analysis.errors)} 处错误，请修正后重新预览"
            )
        result = await self.store(
            session, institution, analysis, label=principal.label, progress=progress
        )
        batch.status = ImportStatus.COMMITTED
        batch.conflict_rows = result.pop("conflict_rows")
        batch.result = result
        batch.conflicts = result["conflicts"]
        batch.committed_at = utc_now()
        await session.flush()
        return batch

    async def store(
        self,
        session: AsyncSession,
        institution: Institution,
        analysis: Analysis,
        *,
        label: str | None,
        progress: Progress | None = None,
    ) -> dict[str, Any]:
        """Store the analysed statements chunk by chunk in the caller's transaction."""
        principal = import_principal(institution, label)
        created = unchanged = 0
        conflicts: list[uuid.UUID] = []
        total = len(analysis.statements)
        for start in range(0, total, CHUNK):
            chunk = analysis.statements[start : start + CHUNK]
            outcome = await statement_service.store_new_statements(
                session, principal, [item.statement for item in chunk], version=XAPI_VERSION
            )
            analysis.states.update(dict.fromkeys(outcome.created, "new"))
            analysis.states.update(dict.fromkeys(outcome.unchanged, "same"))
            analysis.states.update(dict.fromkeys(outcome.conflicts, "conflict"))
            created += len(outcome.created)
            unchanged += len(outcome.unchanged)
            conflicts.extend(outcome.conflicts)
            if progress is not None:
                progress("store", min(start + CHUNK, total), total)
        return {
            "created": created,
            "unchanged": unchanged,
            "conflicts": len(conflicts),
            "duplicate_rows": analysis.duplicate_rows,
            "conflict_rows": analysis.conflict_rows(conflicts),
        }

    async def get(
        self,
        session: AsyncSession,
        principal: Principal,
        institution_key: str,
        import_id: uuid.UUID,
    ) -> ImportBatch:
        institution = await self._institution(session, principal, institution_key)
        batch = await ImportRepository.from_session(session).get(institution.id, import_id)
        if batch is None:
            raise ImportNotFound(f"no import {import_id} / 没有此导入", code="import_not_found")
        return batch

    async def list(
        self, session: AsyncSession, principal: Principal, institution_key: str, *, limit: int = 50
    ) -> list[ImportBatch]:
        institution = await self._institution(session, principal, institution_key)
        return await ImportRepository.from_session(session).of_institution(
            institution.id, limit=limit
        )

    async def run(
        self,
        session: AsyncSession,
        principal: Principal,
        institution_key: str,
        *,
        filename: str,
        content: bytes,
        mapping_text: str,
        dry_run: bool,
        progress: Progress | None = None,
    ) -> tuple[Analysis, ImportBatch | None]:
        """Check and (unless ``dry_run`` or a row is wrong) store a file at once, keeping
        a committed batch record: the command line's import."""
        institution = await self._institution(session, principal, institution_key)
        mapping = parse_mapping(mapping_text)
        analysis = self.analyse(institution, filename=filename, content=content, mapping=mapping)
        if dry_run or analysis.errors:
            await self.classify(session, institution, analysis, progress=progress)
            return analysis, None
        # Storing classifies as it goes (one lookup per chunk instead of two).
        result = await self.store(
            session, institution, analysis, label=principal.label, progress=progress
        )
        now = utc_now()
        batch = _batch_record(
            institution,
            principal,
            filename=filename,
            content=content,
            mapping_text=mapping_text,
            analysis=analysis,
            status=ImportStatus.COMMITTED,
            error_count=0,
            conflicts=result["conflicts"],
            errors=[],
            conflict_rows=result.pop("conflict_rows"),
            result=result,
            created_at=now,
            committed_at=now,
        )
        return analysis, await ImportRepository.from_session(session).add(batch)

    async def institution_for_import(
        self, session: AsyncSession, principal: Principal, institution_key: str
    ) -> Institution:
        """The institution, once ``principal`` may import for it (the CLI's entry)."""
        return await self._institution(session, principal, institution_key)


imports = ImportService()


def _batch_record(
    institution: Institution,
    principal: Principal,
    *,
    filename: str,
    content: bytes,
    mapping_text: str,
    analysis: Analysis,
    **outcome: Any,
) -> ImportBatch:
    """The batch row for a checked file; ``outcome`` holds what preview and commit differ in."""
    return ImportBatch(
        institution_id=institution.id,
        institution_key=institution.key,
        filename=filename[:255],
        format=analysis.format,
        encoding=analysis.encoding,
        mapping=mapping_text,
        content=content,
        content_sha256=hashlib.sha256(content).hexdigest(),
        rows=analysis.rows,
        valid=len(analysis.statements),
        duplicate_rows=analysis.duplicate_rows,
        new=analysis.count("new"),
        unchanged=analysis.count("same"),
        created_by=principal.label,
        **outcome,
    )
