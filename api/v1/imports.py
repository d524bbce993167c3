"""CSV/xlsx imports of an institution: ``/api/v1/institutions/{key}/imports``.

``POST`` (multipart: ``file`` and ``mapping``) checks the file and answers the
preview with its id; ``POST …/{id}/commit`` stores it. Authorization is the
service's (``import.manage``).
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, File, UploadFile, status

from api.auth import CurrentPrincipal
from api.deps import SessionDep
from api.uploads import read_import_file, read_mapping
from creditbank.imports.schemas import ImportRead, ImportSummary
from creditbank.imports.service import imports as import_service

router = APIRouter(prefix="/api/v1/institutions/{key}/imports", tags=["imports"])


@router.post("", response_model=ImportRead, status_code=status.HTTP_201_CREATED)
async def preview_import(
    key: str,
    principal: CurrentPrincipal,
    session: SessionDep,
    file: UploadFile = File(description="the CSV or .xlsx file"),
    mapping: UploadFile = File(description="the column-mapping YAML"),
) -> object:
    content = await read_import_file(file)
    mapping_text = await read_mapping(mapping)
    return await import_service.preview(
        session,
        principal,
        key,
        filename=file.filename or "upload.csv",
        content=content,
        mapping_text=mapping_text,
    )


@router.get("", response_model=list[ImportSummary])
async def list_imports(key: str, principal: CurrentPrincipal, session: SessionDep) -> object:
    return await import_service.list(session, principal, key)


@router.get("/{import_id}", response_model=ImportRead)
async def get_import(
    key: str, import_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    return await import_service.get(session, principal, key, import_id)


@router.post("/{import_id}/commit", response_model=ImportRead)
async def commit_import(
    key: str, import_id: uuid.UUID, principal: CurrentPrincipal, session: SessionDep
) -> object:
    return await import_service.commit(session, principal, key, import_id)
