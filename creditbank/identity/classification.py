"""Data classification (教育数据分级分类): every stored column, its level and protection.

``docs/data-classification.md`` is the readable form of :data:`CATALOG`; a test
checks that every column of every table in ``Base.metadata`` is listed here, so a
new column cannot ship unclassified. Levels:

* ``public``: may be published (institution names, verification data).
* ``internal``: operational data, not about a person (ids, timestamps, counters).
* ``personal``: about an identifiable person (IFIs, learning records, usernames).
* ``sensitive-personal``: national ID, phone, name, email of a learner (个人敏感信息):
  encrypted at rest, masked in answers and logs, every clear read audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Level(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive-personal"


@dataclass(frozen=True)
class Classification:
    level: Level
    protection: str


P, IN, PE, S = Level.PUBLIC, Level.INTERNAL, Level.PERSONAL, Level.SENSITIVE

ENC = "AES-256-GCM at rest (keyring, kid), masked in API answers, clear reads audited"
HASHED = "one-way hash; never shown"
IDX = "HMAC-SHA256 blind index (keyed); exact lookup only, never shown"
ROLE = "shown only to the owner, the owning institution or the operator"
LEDGER = "learner id only (pseudonymous); append-only"


def _c(level: Level, protection: str = "") -> Classification:
    return Classification(
        level,
        protection
        or {
            P: "none needed",
            IN: "access by role",
            PE: ROLE,
            S: ENC,
        }[level],
    )


CATALOG: dict[str, Classification] = {
    # -- identity: institutions and credentials ----------------------------------------
    "institutions.id": _c(P),
    "institutions.key": _c(P),
    "institutions.name_zh": _c(P),
    "institutions.name_en": _c(P),
    "institutions.type": _c(P),
    "institutions.region_code": _c(P),
    "institutions.home_pages": _c(P),
    "institutions.accredited": _c(P),
    "institutions.accredited_from": _c(P),
    "institutions.accredited_until": _c(P),
    "institutions.accreditation_scope": _c(P),
    "institutions.created_at": _c(IN),
    "lrs_credentials.id": _c(IN),
    "lrs_credentials.institution_id": _c(IN),
    "lrs_credentials.key": _c(IN, "shown to its institution's admins and the operator"),
    "lrs_credentials.secret_hash": _c(IN, "SHA-256 of a 256-bit secret; secret shown once"),
    "lrs_credentials.scopes": _c(IN),
    "lrs_credentials.label": _c(IN),
    "lrs_credentials.xapi_version": _c(IN),
    "lrs_credentials.created_at": _c(IN),
    "lrs_credentials.revoked_at": _c(IN),
    # -- identity: learners --------------------------------------------------------------
    "learners.id": _c(PE, "pseudonymous id; the only learner reference outside identity"),
    "learners.bank_id": _c(PE),
    "learners.name_enc": _c(S),
    "learners.national_id_enc": _c(S),
    "learners.national_id_index": _c(S, IDX),
    "learners.phone_enc": _c(S),
    "learners.email_enc": _c(S),
    "learners.created_at": _c(IN),
    "learners.erased_at": _c(IN),
    "identity_links.id": _c(IN),
    "identity_links.learner_id": _c(PE),
    "identity_links.ifi": _c(PE, ROLE + "; deleted on erasure"),
    "identity_links.kind": _c(IN),
    "identity_links.institution_id": _c(IN),
    "identity_links.method": _c(IN),
    "identity_links.created_at": _c(IN),
    "consent_codes.id": _c(IN),
    "consent_codes.learner_id": _c(PE),
    "consent_codes.code_hash": _c(IN, IDX + "; single use, expiring"),
    "consent_codes.institution_id": _c(IN),
    "consent_codes.created_at": _c(IN),
    "consent_codes.expires_at": _c(IN),
    "consent_codes.used_at": _c(IN),
    "consent_codes.used_by_institution_id": _c(IN),
    # -- identity: users and sessions ----------------------------------------------------
    "users.id": _c(IN),
    "users.username": _c(PE, ROLE + "; replaced on erasure"),
    "users.password_hash": _c(IN, "argon2id; never shown"),
    "users.display_name": _c(PE),
    "users.learner_id": _c(PE),
    "users.active": _c(IN),
    "users.failed_logins": _c(IN),
    "users.locked_until": _c(IN),
    "users.last_login_at": _c(PE),
    "users.created_at": _c(IN),
    "role_grants.id": _c(IN),
    "role_grants.user_id": _c(IN),
    "role_grants.role": _c(IN),
    "role_grants.institution_id": _c(IN),
    "role_grants.programme": _c(IN),
    "role_grants.created_at": _c(IN),
    "refresh_tokens.id": _c(IN),
    "refresh_tokens.user_id": _c(IN),
    "refresh_tokens.family_id": _c(IN),
    "refresh_tokens.token_hash": _c(IN, HASHED),
    "refresh_tokens.created_at": _c(IN),
    "refresh_tokens.expires_at": _c(IN),
    "refresh_tokens.revoked_at": _c(IN),
    "login_attempts.id": _c(IN),
    "login_attempts.ip": _c(PE, "operator only; pruned after the rate-limit window"),
    "login_attempts.username": _c(PE, "operator only; pruned after the rate-limit window"),
    "login_attempts.success": _c(IN),
    "login_attempts.at": _c(IN),
    # -- audit ---------------------------------------------------------------------------
    "audit_log.id": _c(IN),
    "audit_log.at": _c(IN),
    "audit_log.actor_kind": _c(IN),
    "audit_log.actor_id": _c(PE, "operator only; append-only (PG trigger)"),
    "audit_log.actor_label": _c(PE, "operator only; append-only (PG trigger)"),
    "audit_log.action": _c(IN),
    "audit_log.outcome": _c(IN),
    "audit_log.object_type": _c(IN),
    "audit_log.object_id": _c(PE, "ids only, never personal values"),
    "audit_log.detail": _c(IN, "ids, codes and reasons only, never personal values"),
    "audit_log.ip": _c(PE, "operator only"),
    "audit_log.request_id": _c(IN),
    # -- jobs ----------------------------------------------------------------------------
    "jobs.id": _c(IN),
    "jobs.name": _c(IN),
    "jobs.payload": _c(IN, "ids and IFI keys only; never profile data"),
    "jobs.status": _c(IN),
    "jobs.attempts": _c(IN),
    "jobs.max_attempts": _c(IN),
    "jobs.run_at": _c(IN),
    "jobs.locked_until": _c(IN),
    "jobs.locked_by": _c(IN),
    "jobs.last_error": _c(IN),
    "jobs.dedupe_key": _c(IN),
    "jobs.created_at": _c(IN),
    "jobs.finished_at": _c(IN),
    "jobs.trace_id": _c(IN),
    "jobs.affinity": _c(IN, "a one-way hash of a learner id or an IFI key; never shown"),
    # -- counters ------------------------------------------------------------------------
    "counts.id": _c(IN),
    "counts.name": _c(IN),
    "counts.label": _c(IN, "a decision or entry kind; never an id"),
    "counts.n": _c(IN),
    # -- lrs -----------------------------------------------------------------------------
    "lrs_statements.seq": _c(IN),
    "lrs_statements.id": _c(IN),
    "lrs_statements.actor_key": _c(PE, "statement filter by institution / scope"),
    "lrs_statements.verb_id": _c(IN),
    "lrs_statements.object_type": _c(IN),
    "lrs_statements.object_activity_id": _c(IN),
    "lrs_statements.object_statement_id": _c(IN),
    "lrs_statements.registration": _c(PE, "statement filter by institution / scope"),
    "lrs_statements.stored": _c(IN),
    "lrs_statements.timestamp": _c(PE, "statement filter by institution / scope"),
    "lrs_statements.institution_id": _c(IN),
    "lrs_statements.credential_id": _c(IN),
    "lrs_statements.voided": _c(IN),
    "lrs_statements.is_voiding": _c(IN),
    "lrs_statements.version": _c(IN),
    "lrs_statements.has_attachments": _c(IN),
    "lrs_statements.body": _c(PE, "learning record: statement filter by institution / scope"),
    "lrs_statement_keys.key_hash": _c(IN, "64-bit hash of IFI / activity keys"),
    "lrs_statement_keys.statement_seq": _c(IN),
}

RECORD = "learning record: the learner, the operator, a certifier in scope"
STANDARD = "published standards data"


def _table(table: str, level: Level, protection: str, columns: str, **overrides: Level) -> None:
    """Classify ``columns`` (space separated) of ``table`` alike, except ``overrides``."""
    for column in columns.split():
        own = overrides.get(column, level)
        CATALOG[f"{table}.{column}"] = _c(own, protection if own == level else "")


# -- lrs (attachments, keys) --------------------------------------------------------------
CATALOG["lrs_statement_keys.related"] = _c(IN)
CATALOG["lrs_statement_keys.statement_stored"] = _c(IN)
_table(
    "lrs_attachments",
    PE,
    "statement filter by institution / scope",
    "sha2 content_type length content created",
    sha2=IN,
    content_type=IN,
    length=IN,
    created=IN,
)
_table(
    "lrs_documents",
    IN,
    "xAPI document access by credential scope",
    "id kind doc_key scope_key activity_id agent_ifi registration doc_id content content_type "
    "etag updated institution_id credential_id",
    agent_ifi=PE,
    registration=PE,
    content=PE,
)
# -- imports (an institution's uploaded file, kept from preview to commit) -----------------
_table(
    "import_batches",
    IN,
    "the uploading institution's admins and the operator",
    "id institution_id institution_key filename format encoding mapping content "
    "content_sha256 status rows valid error_count duplicate_rows new unchanged conflicts "
    "errors conflict_rows result created_by created_at committed_at",
    filename=PE,
    content=PE,
    errors=PE,
    conflict_rows=PE,
    created_by=PE,
)
# -- standards (public data) --------------------------------------------------------------
_table(
    "standards_versions",
    P,
    STANDARD,
    "id set_id version effective_from content_hash title_zh title_en content published_at "
    "published_by",
    published_by=IN,
)
# -- rules ------------------------------------------------------------------------------
_table(
    "rule_evaluations",
    PE,
    RECORD,
    "id statement_id learner_id institution_key kind standards_id standards_version "
    "standards_hash recognised unit_code credited reason_zh reason_en outcome_id detail "
    "evaluated_at",
    id=IN,
    statement_id=IN,
    institution_key=IN,
    kind=IN,
    standards_id=IN,
    standards_version=IN,
    standards_hash=IN,
    outcome_id=IN,
    evaluated_at=IN,
)
_table(
    "rule_held_statements",
    PE,
    "IFI waiting for a link; deleted when processed",
    "statement_id actor_ifi held_at",
    statement_id=IN,
    held_at=IN,
)
_table(
    "rule_outcomes",
    PE,
    RECORD,
    "id learner_id unit_code unit_title_zh unit_title_en category level credits unit_credits "
    "score_scaled status statement_id statement_ids institution_key rule_id rule_version "
    "standards_id standards_version standards_hash evaluation_id trace requires_review "
    "recognised_at statement_timestamp expires_at revoked_at revoked_reason superseded_by",
    id=IN,
    unit_title_zh=IN,
    unit_title_en=IN,
    statement_id=IN,
    statement_ids=IN,
    institution_key=IN,
    rule_id=IN,
    rule_version=IN,
    standards_id=IN,
    standards_version=IN,
    standards_hash=IN,
    evaluation_id=IN,
    superseded_by=IN,
)
# -- ledger (learner ids only: stays verifiable after erasure) ---------------------------
_table(
    "ledger_entries",
    PE,
    LEDGER,
    "id learner_id seq kind amount delta_available delta_converted delta_expired banked "
    "available converted expired breakdown legs outcome_id unit_code rule_id rule_version "
    "standards_version statement_ids conversion_id target actor reason idempotency_key "
    "posted_at prev_hash hash",
    id=IN,
    seq=IN,
    kind=IN,
    outcome_id=IN,
    rule_id=IN,
    rule_version=IN,
    standards_version=IN,
    statement_ids=IN,
    conversion_id=IN,
    idempotency_key=IN,
    prev_hash=IN,
    hash=IN,
)
_table("ledger_heads", IN, LEDGER, "learner_id seq hash updated_at", learner_id=PE)
_table(
    "ledger_positions",
    PE,
    LEDGER,
    "outcome_id learner_id unit_code category level deposited available converted expired "
    "reversed updated_at",
    outcome_id=IN,
    updated_at=IN,
)
_table(
    "ledger_checkpoints",
    IN,
    "signed Merkle checkpoint; leaves are hashes only",
    "id created_at root entry_count learner_count statement kid signature leaves",
)
# -- conversions --------------------------------------------------------------------------
_table(
    "conversion_applications",
    PE,
    RECORD,
    "id learner_id applicant_user_id rule_id rule_version standards_id standards_version "
    "standards_hash programme target_institution_key target_kind target_unit title credits "
    "outcome_ids source_units status required_approvals note decision_reason appeal_reason "
    "open_key ledger_entry_id created_at updated_at decided_at",
    id=IN,
    rule_id=IN,
    rule_version=IN,
    standards_id=IN,
    standards_version=IN,
    standards_hash=IN,
    programme=IN,
    target_institution_key=IN,
    target_kind=IN,
    target_unit=IN,
    title=IN,
    required_approvals=IN,
    open_key=IN,
    ledger_entry_id=IN,
    created_at=IN,
    updated_at=IN,
)
_table(
    "conversion_consumptions",
    PE,
    RECORD,
    "outcome_id application_id learner_id created_at",
    outcome_id=IN,
    application_id=IN,
    created_at=IN,
)
_table(
    "conversion_reviews",
    IN,
    "certifier decisions; reviewer shown to the operator",
    "id application_id stage reviewer_id reviewer_label decision reason created_at",
    reviewer_id=PE,
    reviewer_label=PE,
    reason=PE,
)
# -- transcripts (signed learning records) ----------------------------------------------
_table(
    "transcripts",
    PE,
    "the learner and the operator; the subject is pseudonymous (HMAC), never a national ID",
    "id learner_id subject_id issued_at as_of issued_by alg kid credential vc_jwt vc_jose "
    "outcome_ids sd_jwt",
    id=IN,
    issued_at=IN,
    as_of=IN,
    issued_by=IN,
    alg=IN,
    kid=IN,
)
_table(
    "transcript_shares",
    PE,
    "the learner and the operator; what she disclosed to a verifier (SD-JWT VC)",
    "id transcript_id learner_id created_at created_by audience expires_at disclosed sd_jwt "
    "kid key_bound revoked_at revoked_by suspended_at suspended_by",
    id=IN,
    key_bound=IN,
    transcript_id=IN,
    created_at=IN,
    created_by=IN,
    expires_at=IN,
    kid=IN,
    revoked_at=IN,
    revoked_by=IN,
    suspended_at=IN,
    suspended_by=IN,
)
CATALOG["transcripts.sm2"] = _c(IN, "detached SM2 signature over the VC-JWT signing input")
_table(
    "transcript_outcomes",
    IN,
    "which outcomes a transcript holds (revocation lookup)",
    "transcript_id outcome_id",
)
_table(
    "transcript_status_lists",
    P,
    "Bitstring Status List v1.0: published, signed, at /status/{list}",
    "id purpose size allocated version created_at changed_at",
)
_table(
    "transcript_status_entries",
    IN,
    "status list index per transcript or share; random, never reused; the bit itself is public",
    "id list_id index purpose transcript_id share_id is_set changed_at",
)
# -- webhooks and forwarding (an institution's outgoing integrations) -------------------
_table(
    "webhook_subscriptions",
    IN,
    "the institution's admin and the operator; secret AES-256-GCM at rest, shown once",
    "id institution_id institution_key url event_types description secret_enc enabled "
    "created_by created_at updated_at",
)
_table(
    "webhook_deliveries",
    PE,
    "the institution's admin and the operator; the payload names learners pseudonymously",
    "id subscription_id institution_id event_id event_type payload status attempts "
    "last_status_code last_error next_attempt_at created_at delivered_at",
    id=IN,
    subscription_id=IN,
    institution_id=IN,
    event_id=IN,
    event_type=IN,
    status=IN,
    attempts=IN,
    last_status_code=IN,
    next_attempt_at=IN,
    created_at=IN,
    delivered_at=IN,
)
_table(
    "webhook_attempts",
    IN,
    "the institution's admin and the operator",
    "id delivery_id attempt started_at status_code latency_ms error replay",
)
_table(
    "forwarding_targets",
    IN,
    "the institution's admin and the operator; remote LRS password AES-256-GCM at rest",
    "id institution_id institution_key endpoint username password_enc only_recognised "
    "enabled created_at updated_at",
)
# -- inbox (messages to a learner) ------------------------------------------------------
_table(
    "inbox_messages",
    PE,
    "shown to the learner only",
    "id learner_id kind subject_zh subject_en body_zh body_en data created_at read_at",
    id=IN,
    kind=IN,
    created_at=IN,
)


def classify(table: str, column: str) -> Classification | None:
    return CATALOG.get(f"{table}.{column}")


# -- reporting (the dashboard's rollups, rebuilt from the rows above) -----------------------
_table("reporting_rollups", IN, "", "name through built_at")
_table("reporting_outcome_months", IN, "", "month institution_key credits outcomes")
_table("reporting_statement_days", IN, "", "day statements")
_table(
    "reporting_learner_months",
    PE,
    "learner id only (pseudonymous), derived from the ledger; read only in aggregate",
    "month learner_id first_at",
    month=IN,
    first_at=IN,
)
_table("reporting_active_months", IN, "", "month learners")


# -- masking ---------------------------------------------------------------------------


def mask_name(value: str) -> str:
    return value[:1] + "*" * max(1, len(value) - 1)


def mask_national_id(value: str) -> str:
    return value[:3] + "*" * max(0, len(value) - 7) + value[-4:] if len(value) > 7 else "****"


def mask_phone(value: str) -> str:
    digits = value.replace(" ", "").replace("-", "")
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 8 else "****"


def mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


_MASKS = {
    "name": mask_name,
    "national_id": mask_national_id,
    "phone": mask_phone,
    "email": mask_email,
}


def mask(field: str, value: str | None) -> str | None:
    """The masked form of a sensitive profile field (``None`` stays ``None``)."""
    if value is None:
        return None
    masker = _MASKS.get(field)
    return masker(value) if masker else value


# -- the document ------------------------------------------------------------------------


def render_catalog() -> str:
    """The ``## Catalog`` section of ``docs/data-classification.md``."""
    tables: dict[str, list[tuple[str, Classification]]] = {}
    for name, item in CATALOG.items():
        tables.setdefault(name.split(".", 1)[0], []).append((name, item))
    lines = ["## Catalog", ""]
    for table in sorted(tables):
        lines += [f"### `{table}`", "", "| column | level | protection |", "|---|---|---|"]
        lines += [
            f"| `{name}` | {item.level.value} | {item.protection} |" for name, item in tables[table]
        ]
        lines.append("")
    return "\n".join(lines)


def write_document(path: str = "docs/data-classification.md") -> None:
    """Rewrite the catalog section of the document from :data:`CATALOG` (prose kept)."""
    from pathlib import Path

    document = Path(path)
    text = document.read_text(encoding="utf-8")
    head = text[: text.index("## Catalog")] if "## Catalog" in text else text + "\n"
    document.write_text(head + render_catalog(), encoding="utf-8")


if __name__ == "__main__":  # python -m creditbank.identity.classification
    write_document()
