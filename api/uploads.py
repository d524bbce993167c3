"""Uploaded import files, read the same way by the JSON API and the portal.

The whole request body is bounded by ``BodySizeLimitMiddleware``
(``CREDITBANK_MAX_BODY_BYTES``); each part is bounded here, reading at most one byte
past its limit, so an oversized part is refused before it is held in memory.
"""

from __future__ import annotations

from starlette.datastructures import UploadFile

from creditbank.imports.mapping import MappingInvalid
from creditbank.imports.reader import MAX_FILE_BYTES, ImportFileInvalid

MAX_MAPPING_BYTES = 64 * 1024


async def read_limited(upload: UploadFile, limit: int, what: tuple[str, str]) -> bytes:
    """At most ``limit`` bytes of ``upload``; ``what`` names it (zh-CN, en) when refused."""
    content = await upload.read(limit + 1)
    if len(content) > limit:
        raise ImportFileInvalid(
            "file_too_large",
            f"{what[0]}过大（上限 {_size(limit)}）",
            f"{what[1]}: too large (the limit is {_size(limit)})",
        )
    return content


async def read_import_file(upload: UploadFile) -> bytes:
    return await read_limited(upload, MAX_FILE_BYTES, ("文件", "file"))


async def read_mapping(upload: UploadFile) -> str:
    """The column-mapping YAML as text (UTF-8, with or without BOM)."""
    raw = await read_limited(upload, MAX_MAPPING_BYTES, ("映射文件", "mapping"))
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MappingInvalid(
            "mapping: not UTF-8 / 映射文件须为 UTF-8", code="mapping_invalid"
        ) from None


def _size(limit: int) -> str:
    if limit >= 1024 * 1024:
        return f"{limit // (1024 * 1024)} MiB"
    return f"{limit // 1024} KiB"
