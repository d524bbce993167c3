"""The institution's CSV/xlsx imports: upload with a column mapping, the preview with
its row errors, commit, the recent imports.

Every step is the imports service's, as behind ``/api/v1/institutions/{key}/imports``
(the same checks, the same size limits, ``import.manage``: the institution's admin or
the operator). The institution admin works on its own institution; the operator names
one with ``?institution=KEY`` (linked from its institutions page). Imports are read on
the write database, as the API does: the page after an upload or a commit must see it.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData, UploadFile

from api.deps import get_database
from api.portal.web import CheckedForm, Page, UserPage, form_text
from api.uploads import MAX_MAPPING_BYTES, read_import_file, read_mapping
from creditbank.errors import BadRequest
from creditbank.identity.schemas import InstitutionRead
from creditbank.identity.service import identity as identity_service
from creditbank.imports.reader import MAX_FILE_BYTES, ImportFileInvalid
from creditbank.imports.schemas import ImportRead, ImportSummary
from creditbank.imports.service import imports as import_service

router = APIRouter(include_in_schema=False)

#: How many recent imports the upload page lists.
RECENT = 20
ACCEPT = ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _scope(institution: str | None) -> str:
    """The query string that keeps the operator's chosen institution on every link."""
    return f"?institution={quote(institution, safe='')}" if institution else ""


def _refusal(page: Page, exc: BadRequest) -> str:
    """The service's reason in the chosen language (mapping errors name lines in both)."""
    if isinstance(exc, ImportFileInvalid):
        return exc.en if page.lang == "en" else exc.zh
    return str(exc.detail)


def _upload(form: FormData, name: str) -> UploadFile | None:
    value = form.get(name)
    return value if isinstance(value, UploadFile) and value.filename else None


async def _imports_page(
    request: Request,
    page: Page,
    institution: str | None,
    *,
    errors: dict[str, str] | None = None,
) -> Response:
    async with get_database(request).session_scope() as session:
        found = await identity_service.institution_for_caller(session, page.principal, institution)
        recent = await import_service.list(session, page.principal, found.key, limit=RECENT)
        view = InstitutionRead.model_validate(found)
        summaries = [ImportSummary.model_validate(b) for b in recent]
    limit = min(MAX_FILE_BYTES, page.settings.max_body_bytes) // (1024 * 1024)
    return page.render(
        "admin/imports.html",
        status_code=400 if errors else 200,
        institution=view,
        recent=summaries,
        previous=summaries[0] if summaries else None,
        errors=errors or {},
        scope=_scope(institution),
        chosen=institution or "",
        limit_mib=limit,
        mapping_kib=MAX_MAPPING_BYTES // 1024,
        accept=ACCEPT,
    )


@router.get("/institution/imports")
async def imports(request: Request, page: UserPage, institution: str | None = None) -> Response:
    return await _imports_page(request, page, institution)


@router.post("/institution/imports")
async def upload(request: Request, page: UserPage, form: CheckedForm) -> Response:
    """Check the file and keep it for commit (nothing of a refused file is stored)."""
    institution = form_text(form, "institution") or None
    file = _upload(form, "file")
    mapping = _upload(form, "mapping")
    reuse = form_text(form, "reuse_mapping") == "yes"
    if file is None or (mapping is None and not reuse):
        errors: dict[str, str] = {}
        if file is None:
            errors["file"] = page.t("import_choose_file")
        if mapping is None and not reuse:
            errors["mapping"] = page.t("import_choose_mapping")
        return await _imports_page(request, page, institution, errors=errors)
    try:
        content = await read_import_file(file)
    except BadRequest as exc:
        return await _imports_page(request, page, institution, errors={"file": _refusal(page, exc)})
    try:
        mapping_text = await read_mapping(mapping) if mapping is not None else None
    except BadRequest as exc:
        errors = {"mapping": _refusal(page, exc)}
        return await _imports_page(request, page, institution, errors=errors)
    try:
        async with get_database(request).session_scope() as session:
            found = await identity_service.institution_for_caller(
                session, page.principal, institution
            )
            if mapping_text is None:
                recent = await import_service.list(session, page.principal, found.key, limit=1)
                if not recent:
                    raise BadRequest(page.t("import_choose_mapping"), code="mapping_missing")
                mapping_text = recent[0].mapping
            batch = await import_service.preview(
                session,
                page.principal,
                found.key,
                filename=file.filename or "upload.csv",
                content=content,
                mapping_text=mapping_text,
            )
            target = f"/institution/imports/{batch.id}{_scope(institution)}"
    except BadRequest as exc:
        # The mapping's own errors, or the file's as read under it (encoding, columns...).
        where = "mapping" if exc.code.startswith("mapping") else "file"
        return await _imports_page(request, page, institution, errors={where: _refusal(page, exc)})
    return page.redirect(target)


@router.get("/institution/imports/{import_id}")
async def preview(
    request: Request,
    page: UserPage,
    import_id: uuid.UUID,
    institution: str | None = None,
    done: str | None = None,
) -> Response:
    """The preview (counts, row errors, conflicting rows, commit) or the committed result."""
    async with get_database(request).session_scope() as session:
        found = await identity_service.institution_for_caller(session, page.principal, institution)
        batch = await import_service.get(session, page.principal, found.key, import_id)
        view = InstitutionRead.model_validate(found)
        read = ImportRead.model_validate(batch)
    return page.render(
        "admin/import.html",
        institution=view,
        batch=read,
        scope=_scope(institution),
        chosen=institution or "",
        notice="committed" if done == "committed" and read.status == "committed" else None,
    )


@router.post("/institution/imports/{import_id}/commit")
async def commit(
    request: Request, page: UserPage, form: CheckedForm, import_id: uuid.UUID
) -> Response:
    """Store the previewed file's new statements; committing twice stores nothing more."""
    institution = form_text(form, "institution") or None
    async with get_database(request).session_scope() as session:
        found = await identity_service.institution_for_caller(session, page.principal, institution)
        await import_service.commit(session, page.principal, found.key, import_id)
    scope = _scope(institution)
    separator = "&" if scope else "?"
    return page.redirect(f"/institution/imports/{import_id}{scope}{separator}done=committed")
