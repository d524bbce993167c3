"""Building ``multipart/mixed`` statement requests and JWS signatures for the tests."""

from __future__ import annotations

import base64
import hashlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import orjson
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

SIGNATURE = "http://adlnet.gov/expapi/attachments/signature"
EVIDENCE = "https://creditbank.example.cn/xapi/attachments/evidence"
BOUNDARY = "cb-test-boundary-314159"
CERT_PART_TYPE = "text/plain; charset=utf-8"


def sha256(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def attachment_meta(
    content: bytes,
    *,
    content_type: str = "text/plain",
    usage_type: str = EVIDENCE,
    sha2: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {
        "usageType": usage_type,
        "display": {"zh-CN": "证书扫描件", "en-US": "certificate scan"},
        "contentType": content_type,
        "length": len(content),
        "sha2": sha2 or sha256(content),
        **extra,
    }


@dataclass
class Part:
    content: bytes
    content_type: str = "text/plain"
    sha2: str | None = None
    encoding: str | None = "binary"
    extra_headers: tuple[tuple[str, str], ...] = ()


def multipart(
    statements: Any,
    parts: list[Part],
    *,
    boundary: str = BOUNDARY,
    first_type: str = "application/json",
    close: bool = True,
) -> bytes:
    chunks = [f"--{boundary}\r\nContent-Type: {first_type}\r\n\r\n".encode()]
    chunks.append(orjson.dumps(statements))
    for part in parts:
        headers = [f"Content-Type: {part.content_type}"]
        if part.encoding is not None:
            headers.append(f"Content-Transfer-Encoding: {part.encoding}")
        if part.sha2 != "":
            headers.append(f"X-Experience-API-Hash: {part.sha2 or sha256(part.content)}")
        headers += [f"{k}: {v}" for k, v in part.extra_headers]
        chunks.append(f"\r\n--{boundary}\r\n".encode() + "\r\n".join(headers).encode())
        chunks.append(b"\r\n\r\n" + part.content)
    if close:
        chunks.append(f"\r\n--{boundary}--\r\n".encode())
    return b"".join(chunks)


def multipart_type(boundary: str = BOUNDARY) -> str:
    return f"multipart/mixed; boundary={boundary}"


def parse_multipart_answer(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]]:
    from creditbank.lrs.attachments import media_type_params, split_multipart

    media, params = media_type_params(content_type)
    assert media == "multipart/mixed"
    return split_multipart(body, params["boundary"])


@dataclass
class Signer:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls) -> Signer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fxvs.example.edu.cn")])
        now = datetime.now(UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256())
        )
        return cls(key=key, certificate=certificate)

    @property
    def x5c(self) -> list[str]:
        der = self.certificate.public_bytes(serialization.Encoding.DER)
        return [base64.b64encode(der).decode()]

    def sign(
        self, statement: dict[str, Any], *, algorithm: str = "RS256", x5c: bool = True
    ) -> bytes:
        headers: dict[str, Any] = {"x5c": self.x5c} if x5c else {}
        token = jwt.api_jws.encode(
            orjson.dumps(statement), self.key, algorithm=algorithm, headers=headers
        )
        return token.encode()


def signed(statement: dict[str, Any], signature: bytes, **meta: Any) -> tuple[dict[str, Any], Part]:
    """The statement with its signature attachment metadata, and the signature part."""
    body = dict(statement)
    body["attachments"] = [
        *statement.get("attachments", []),
        attachment_meta(
            signature,
            content_type=meta.pop("content_type", "application/octet-stream"),
            usage_type=SIGNATURE,
            **meta,
        ),
    ]
    return body, Part(signature, content_type="application/octet-stream")


def new_id() -> str:
    return str(uuid.uuid4())
