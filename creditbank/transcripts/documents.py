"""The JSON-LD contexts the transcripts use, shipped in the package (``contexts/``), and
a document loader that serves only those: an unknown URL is an error, never a fetch.

A credential is canonicalised (for its Data Integrity proof) with this loader, so the
canonical form depends only on the documents we ship, not on what a web server answers
today. ``contexts/README.md`` says where each document comes from.
"""

from __future__ import annotations

import json
import time
from functools import cache
from importlib import resources
from typing import Any

from pyld import jsonld
from pyld.canon import URDNA2015

#: Calls of the N-degree hash (RDFC-1.0 4.8) one canonicalisation may make. A transcript
#: needs none or a handful (its blank nodes differ at first degree); a crafted graph
#: of a few indistinguishable blank nodes needs factorially many (8 of them: minutes),
#: so a presented credential could otherwise hold a verifier's core for ever.
MAX_N_DEGREE_HASHES = 2_000
#: Indistinguishable blank nodes related to one node (their permutations are tried).
MAX_RELATED_GROUP = 6
#: Wall-clock bound of one canonicalisation.
MAX_SECONDS = 5.0

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


class TooComplexToCanonicalise(jsonld.JsonLdError):  # type: ignore[misc]
    """The document's blank nodes need more work than :data:`MAX_N_DEGREE_HASHES`."""

    def __init__(self) -> None:
        super().__init__(
            "canonicalisation needs too much work (indistinguishable blank nodes): refused",
            "jsonld.NormalizeError",
        )


class _BoundedCanonicaliser(URDNA2015):  # type: ignore[misc]
    """URDNA2015 that gives up (rather than run for hours) on a crafted graph: a budget
    of N-degree hashes, at most :data:`MAX_RELATED_GROUP` indistinguishable related
    blank nodes to permute, and a deadline."""

    def __init__(self, budget: int) -> None:
        super().__init__()
        self._budget = budget
        self._deadline = time.monotonic() + MAX_SECONDS

    def _spend(self) -> None:
        self._budget -= 1
        if self._budget < 0 or time.monotonic() > self._deadline:
            raise TooComplexToCanonicalise()

    def hash_n_degree_quads(self, id_: str, issuer: Any) -> Any:
        self._spend()
        return super().hash_n_degree_quads(id_, issuer)

    def hash_first_degree_quads(self, id_: str) -> Any:
        if time.monotonic() > self._deadline:
            raise TooComplexToCanonicalise()
        return super().hash_first_degree_quads(id_)

    def hash_related_blank_node(self, *args: Any) -> Any:
        if time.monotonic() > self._deadline:
            raise TooComplexToCanonicalise()
        return super().hash_related_blank_node(*args)

    def create_hash_to_related(self, id_: str, issuer: Any) -> Any:
        related = super().create_hash_to_related(id_, issuer)
        if any(len(nodes) > MAX_RELATED_GROUP for nodes in related.values()):
            raise TooComplexToCanonicalise()
        return related


def canonize(document: dict[str, Any], *, budget: int = MAX_N_DEGREE_HASHES) -> str:
    """RDF Dataset Canonicalization (RDFC-1.0, PyLD's URDNA2015) as N-Quads, within a
    work budget (:class:`TooComplexToCanonicalise` past it)."""
    dataset = jsonld.to_rdf(document, {**options(), "produceGeneralizedRdf": False})
    nquads: str = _BoundedCanonicaliser(budget).main(dataset, {"format": "application/n-quads"})
    return nquads
