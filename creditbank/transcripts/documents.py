"""The JSON-LD contexts the transcripts use, shipped in the package (``contexts/``), and
a document loader that serves only those: an unknown URL is an error, never a fetch.

A credential is canonicalised (for its Data Integrity proof) with this loader, so the
canonical form depends only on the documents we ship, not on what a web server answers
today. ``contexts/README.md`` says where each document comes from.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld

VC_V2 = "https://www.w3.org/ns/credentials/v2"
VC_UNDEFINED_TERMS_V2 = "https://www.w3.org/ns/credentials/undefined-terms/v2"
OB_V3 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
CLR_V2 = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"
DID_V1 = "https://www.w3.org/ns/did/v1"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"


def _index() -> dict[str, str]:
    text = resources.files("creditbank.transcripts").joinpath("contexts", "index.json")
    index: dict[str, str] = json.loads(text.read_text(encoding="utf-8"))
    return index


#: URL -> file under contexts/ (``contexts/index.json``, which the interop verifiers
#: read too).
CONTEXTS: dict[str, str] = _index()


class UnknownDocument(jsonld.JsonLdError):  # type: ignore[misc]
    """A context (or other document) that is not shipped: refused, never fetched."""

    def __init__(self, url: str) -> None:
        super().__init__(
            f"document {url!r} is not one of the shipped JSON-LD contexts "
            "(nothing is fetched at run time)",
            "jsonld.LoadDocumentError",
            {"url": url},
            code="loading document failed",
        )


@cache
def _text(url: str) -> str:
    return (
        resources.files("creditbank.transcripts")
        .joinpath("contexts", CONTEXTS[url])
        .read_text(encoding="utf-8")
    )


def context(url: str) -> dict[str, Any]:
    """The shipped document of ``url`` (a fresh copy); KeyError if none is shipped."""
    if url not in CONTEXTS:
        raise KeyError(url)
    document: dict[str, Any] = json.loads(_text(url))
    return document


def load_document(url: str, options: Any = None) -> dict[str, Any]:
    """PyLD document loader over the shipped contexts only."""
    if url not in CONTEXTS:
        raise UnknownDocument(url)
    return {"contextUrl": None, "documentUrl": url, "document": context(url)}


def options() -> dict[str, Any]:
    """PyLD options: the local loader, JSON-LD 1.1, never the network."""
    return {"documentLoader": load_document, "processingMode": "json-ld-1.1"}


def expand(document: dict[str, Any]) -> list[Any]:
    expanded: list[Any] = jsonld.expand(document, options())
    return expanded


def canonize(document: dict[str, Any]) -> str:
    """RDF Dataset Canonicalization (RDFC-1.0, PyLD's URDNA2015) as N-Quads."""
    nquads: str = jsonld.normalize(
        document, {**options(), "algorithm": "URDNA2015", "format": "application/n-quads"}
    )
    return nquads
