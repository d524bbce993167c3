"""Statement attachments: ``multipart/mixed`` requests and answers (xAPI Communication §1.5.2).

A write with attachments is one ``multipart/mixed`` body: the first part is the
statement(s) as ``application/json``; every following part is the raw content of one
attachment, with ``X-Experience-API-Hash`` (its SHA-2, hex) and
``Content-Transfer-Encoding: binary``. Parts are matched to the statements'
attachment metadata by that digest (see ``service``); here we only take the body
apart, strictly, and check each part's digest against its content.

HTTP-agnostic and pure: the router hands over the ``Content-Type`` header and the
body bytes. Anything malformed — no boundary, a boundary that never closes, a
truncated part, missing part headers, a digest that does not match — is
``BadRequest`` (400); a part over the size limit is ``PayloadTooLarge`` (413).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from creditbank.errors import BadRequest, PayloadTooLarge
from creditbank.lrs.payload import parse_json

HASH_HEADER = "x-experience-api-hash"
ENCODING_HEADER = "content-transfer-encoding"
#: SHA-2 digests by the length of their hex form.
_SHA2_BY_HEX_LENGTH = {56: "sha224", 64: "sha256", 96: "sha384", 128: "sha512"}
_MAX_BOUNDARY = 70  # RFC 2046 §5.1.1
_MAX_HEADER_BYTES = 8192


class MultipartInvalid(BadRequest):
    """The ``multipart/mixed`` body breaks RFC 2046 or the xAPI rules for it."""

    code = "invalid_multipart"


class AttachmentHashMismatch(BadRequest):
    """A part's content does not have the SHA-2 its ``X-Experience-API-Hash`` claims."""

    code = "attachment_hash_mismatch"


class AttachmentTooLarge(PayloadTooLarge):
    code = "attachment_too_large"


@dataclass(frozen=True)
class AttachmentPart:
    """The content of one attachment part; ``sha2`` is lower-case hex."""

    sha2: str
    content_type: str
    content: bytes


@dataclass(frozen=True)
class StatementsWithAttachments:
    """A parsed ``multipart/mixed`` write: the JSON of the first part and the parts by SHA-2."""

    statements: Any
    parts: dict[str, AttachmentPart]


def media_type_params(header: str) -> tuple[str, dict[str, str]]:
    """``("multipart/mixed", {"boundary": "x"})`` from a ``Content-Type`` value."""
    media, _, rest = header.partition(";")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        name, eq, value = item.strip().partition("=")
        if not eq:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        params[name.strip().lower()] = value
    return media.strip().lower(), params


def sha2_hex(content: bytes, hex_length: int = 64) -> str | None:
    """The SHA-2 of ``content`` whose hex form is ``hex_length`` long (``None``: no such SHA-2)."""
    name = _SHA2_BY_HEX_LENGTH.get(hex_length)
    if name is None:
        return None
    return hashlib.new(name, content).hexdigest()


def _part_headers(raw: bytes) -> dict[str, str]:
    headers: dict[str, str] = {}
    if len(raw) > _MAX_HEADER_BYTES:
        raise MultipartInvalid("a part's headers are too long")
    for line in raw.split(b"\r\n"):
        if not line:
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            raise MultipartInvalid(f"malformed part header line {line[:80]!r}")
        try:
            key = name.strip().decode("ascii").lower()
            text = value.strip().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MultipartInvalid("part headers must be ASCII/UTF-8") from exc
        headers[key] = text
    return headers


def split_multipart(body: bytes, boundary: str) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a ``multipart`` body as ``(headers, content)``, per RFC 2046 §5.1.1.

    A preamble before the first delimiter and an epilogue after the close delimiter
    are ignored; a body whose boundary never closes is refused.
    """
    if not boundary or len(boundary) > _MAX_BOUNDARY:
        raise MultipartInvalid("the multipart boundary is missing or longer than 70 characters")
    delimiter = b"--" + boundary.encode("latin-1")
    separator = b"\r\n" + delimiter
    if body.startswith(delimiter):
        position = 0
    else:
        found = body.find(separator)
        if found < 0:
            raise MultipartInvalid("the body does not contain the multipart boundary")
        position = found + 2
    parts: list[tuple[dict[str, str], bytes]] = []
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            break  # close delimiter
        # Transport padding (LWSP) may follow a delimiter before its CRLF.
        while body[position : position + 1] in (b" ", b"\t"):
            position += 1
        if body[position : position + 2] != b"\r\n":
            raise MultipartInvalid("a multipart delimiter is not followed by CRLF (truncated?)")
        start = position + 2
        end = body.find(separator, start)
        if end < 0:
            raise MultipartInvalid("the multipart body ends before its closing boundary")
        part = body[start:end]
        if part.startswith(b"\r\n"):
            headers_raw, content = b"", part[2:]
        else:
            headers_raw, blank, content = part.partition(b"\r\n\r\n")
            if not blank:
                raise MultipartInvalid("a multipart part has no blank line after its headers")
        parts.append((_part_headers(headers_raw), content))
        position = end + 2
    if not parts:
        raise MultipartInvalid("the multipart body has no parts")
    return parts


def parse_statements_multipart(
    content_type: str, body: bytes, *, max_depth: int, max_attachment_bytes: int
) -> StatementsWithAttachments:
    """Statement(s) and attachment parts from a ``multipart/mixed`` request body."""
    media, params = media_type_params(content_type)
    if media != "multipart/mixed":
        raise MultipartInvalid("statements with attachments must be sent as multipart/mixed")
    boundary = params.get("boundary", "")
    parts = split_multipart(body, boundary)
    first_headers, first_content = parts[0]
    first_media, first_params = media_type_params(first_headers.get("content-type", ""))
    if first_media != "application/json":
        raise MultipartInvalid("the first part must be the statement(s) as application/json")
    charset = first_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise MultipartInvalid("the statement part must be UTF-8")
    statements = parse_json(first_content, max_depth=max_depth)
    found: dict[str, AttachmentPart] = {}
    for index, (headers, content) in enumerate(parts[1:], start=1):
        where = f"part {index + 1}"
        part_type = headers.get("content-type")
        if not part_type:
            raise MultipartInvalid(f"{where} has no Content-Type")
        if media_type_params(part_type)[0] == "application/json" and HASH_HEADER not in headers:
            raise MultipartInvalid("all statements must be in the first part")
        claimed = headers.get(HASH_HEADER, "").strip().lower()
        if not claimed:
            raise MultipartInvalid(f"{where} has no X-Experience-API-Hash header")
        encoding = headers.get(ENCODING_HEADER, "").strip().lower()
        if encoding != "binary":
            raise MultipartInvalid(f"{where} must have Content-Transfer-Encoding: binary")
        if len(content) > max_attachment_bytes:
            raise AttachmentTooLarge(
                f"{where} is larger than {max_attachment_bytes} bytes",
            )
        actual = sha2_hex(content, len(claimed))
        if actual is None:
            raise MultipartInvalid(f"{where}: X-Experience-API-Hash is not a hex SHA-2 digest")
        if actual != claimed:
            raise AttachmentHashMismatch(
                f"{where}: the content's SHA-2 is {actual}, not the X-Experience-API-Hash {claimed}"
            )
        found[claimed] = AttachmentPart(sha2=claimed, content_type=part_type, content=content)
    return StatementsWithAttachments(statements=statements, parts=found)


def encode_statements_multipart(
    document: Any, parts: Iterable[AttachmentPart]
) -> tuple[bytes, str]:
    """A ``multipart/mixed`` answer: the JSON document first, then each part once.

    Returns the body and its ``Content-Type`` (with the boundary).
    """
    boundary = uuid.uuid4().hex
    dash = b"--" + boundary.encode()
    chunks = [dash, b"\r\nContent-Type: application/json\r\n\r\n", orjson.dumps(document)]
    for part in parts:
        chunks += [
            b"\r\n",
            dash,
            f"\r\nContent-Type: {part.content_type}\r\n"
            f"Content-Transfer-Encoding: binary\r\n"
            f"X-Experience-API-Hash: {part.sha2}\r\n\r\n".encode(),
            part.content,
        ]
    chunks += [b"\r\n", dash, b"--\r\n"]
    return b"".join(chunks), f"multipart/mixed; boundary={boundary}"


def referenced_sha2(statement: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(sha2, metadata)`` of every attachment a statement (or its SubStatement) declares."""
    found: list[tuple[str, dict[str, Any]]] = []
    for holder in (statement, statement.get("object") or {}):
        for attachment in holder.get("attachments") or ():
            sha2 = attachment.get("sha2")
            if isinstance(sha2, str):
                found.append((sha2.lower(), attachment))
    return found
