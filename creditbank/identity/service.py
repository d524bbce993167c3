"""The identity context's service facade: ``identity`` answers for every concept.

Each concept lives in its own module, with its own service and singleton:

* ``institutions`` — registration, homePages, accreditation (``institutions.py``)
* ``credentials`` — LRS credentials and Basic authentication (``credentials.py``)
* ``learners`` — bank accounts, encrypted profiles, key rotation (``learners.py``)
* ``links`` — which xAPI agents are which learner, consent codes (``links.py``)
* ``data_rights`` — a learner's export and erasure (``data_rights.py``)

Users, roles and sign-in are ``signin.py`` (``sign_in``). Every method that acts for
a caller takes the caller's :class:`Principal`, asks ``authz`` and writes an audit
entry in the same transaction. Other contexts use ``identity.learner_for_ifi`` and
``identity.ifis_of``; ``identity`` is all the concept services in one object, so
callers need not know which module a method lives in.
"""

from __future__ import annotations

from creditbank.identity.credentials import (
    DEFAULT_LRS_SCOPES,
    CredentialService,
    IssuedCredential,
    credential_principal,
    hash_secret,
)
from creditbank.identity.data_rights import (
    DataRightsService,
    Eraser,
    Exporter,
    register_eraser,
    register_exporter,
)
from creditbank.identity.institutions import InstitutionService, normalise_home_page
from creditbank.identity.learners import (
    CTX_EMAIL,
    CTX_NAME,
    CTX_NATIONAL_ID,
    CTX_PHONE,
    LearnerService,
)
from creditbank.identity.links import CTX_CONSENT, LINK_CREATED_JOB, LinkService, canonical_ifi

# The institution row the services hand out: other contexts type against it through here.
from creditbank.identity.models import Institution

__all__ = [
    "CTX_CONSENT",
    "CTX_EMAIL",
    "CTX_NAME",
    "CTX_NATIONAL_ID",
    "CTX_PHONE",
    "DEFAULT_LRS_SCOPES",
    "LINK_CREATED_JOB",
    "Eraser",
    "Exporter",
    "IdentityService",
    "Institution",
    "IssuedCredential",
    "canonical_ifi",
    "credential_principal",
    "hash_secret",
    "identity",
    "normalise_home_page",
    "register_eraser",
    "register_exporter",
]


class IdentityService(
    InstitutionService, CredentialService, LearnerService, LinkService, DataRightsService
):
    """Every identity concept's methods on one object (the concepts share no state)."""


identity = IdentityService()
