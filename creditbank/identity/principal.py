"""Who is calling: the principal every service decision is made for."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

#: xAPI credential scopes (the xAPI 1.0.3 OAuth scope names).
LRS_SCOPES = frozenset(
    {
        "statements/write",
        "statements/read/mine",
        "statements/read",
        "state",
        "define",
        "profile",
        "all/read",
        "all",
        # Not xAPI: documents shared with other institutions' credentials (see README).
        "documents/cross-institution",
    }
)
#: A credential holding it works in the one document space such credentials share;
#: every other credential sees only its institution's State and profile documents.
#: Never implied by ``all``: it must be granted by name.
CROSS_INSTITUTION_DOCUMENTS = "documents/cross-institution"

# A broader scope grants the narrower ones listed with it.
_IMPLIED: dict[str, frozenset[str]] = {
    "all": LRS_SCOPES - {CROSS_INSTITUTION_DOCUMENTS},
    "all/read": frozenset({"statements/read", "statements/read/mine", "all/read"}),
    "statements/read": frozenset({"statements/read", "statements/read/mine"}),
}


def expand_scopes(scopes: frozenset[str] | set[str] | list[str]) -> frozenset[str]:
    """The scopes granted, including those implied by broader ones."""
    granted: set[str] = set()
    for scope in scopes:
        granted |= _IMPLIED.get(scope, frozenset({scope}))
    return frozenset(granted)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an institution credential, a user, or nobody."""

    kind: Literal["credential", "user", "anonymous"]
    id: uuid.UUID | None = None
    institution_id: uuid.UUID | None = None
    institution_key: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    roles: frozenset[str] = field(default_factory=frozenset)
    authority: dict[str, Any] | None = None
    # Users: the learner account they own, and certifier scopes as
    # ("institution", key) / ("programme", id) pairs.
    learner_id: uuid.UUID | None = None
    certifier_scopes: frozenset[tuple[str, str]] = field(default_factory=frozenset)
    # Institutions this user administers (role institution_admin).
    admin_of: frozenset[uuid.UUID] = field(default_factory=frozenset)
    # A human-readable label for audit entries (username or credential key).
    label: str | None = None
    # Credentials: the xAPI version their client speaks (None: the server default).
    xapi_version: str | None = None

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        return self.kind == "user" and "operator" in self.roles

    @property
    def is_anonymous(self) -> bool:
        return self.kind == "anonymous"


#: The xAPI versions a credential may declare for its client.
XAPI_VERSIONS = ("1.0.3", "2.0.0")

ANONYMOUS = Principal(kind="anonymous")
