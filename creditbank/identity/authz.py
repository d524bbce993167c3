"""Who may do what: the one place every context asks.

Every decision is a row of :data:`RULES`: an action name mapped to the roles that
may perform it and the condition the resource must meet for that role. Services
call :func:`authorize` (raises) or :func:`allowed` (returns a bool) with the
caller's :class:`Principal` and a :class:`Resource` describing what is touched.

For other contexts:

* statements (LRS): an institution credential reads what it stored unless it holds
  ``statements/read`` — the statement query filters by ``principal.institution_id``
  when ``not principal.has_scope("statements/read")``.
* learner data (outcomes, ledger, transcripts, applications of a learner):
  ``require_learner_access(principal, learner_id)`` — the learner herself or the
  operator (certifiers reach evidence through the application they review).
* conversions: ``require_certifier_scope(principal, target_institution_key,
  programme=..., applicant_learner_id=...)`` before a certifier sees or decides an
  application: her grant must cover the target institution (or the programme),
  and she never reviews an application of her own learner account.
  ``certifier_scopes(principal)`` gives the listing filter (``None`` = all).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from creditbank.errors import Forbidden, Unauthorized
from creditbank.identity.principal import Principal


@dataclass(frozen=True)
class Resource:
    """What an action touches; only the fields the action's rule reads matter."""

    institution_id: uuid.UUID | None = None
    learner_id: uuid.UUID | None = None
    target_institution_key: str | None = None
    programme: str | None = None
    applicant_learner_id: uuid.UUID | None = None


NOTHING = Resource()

Check = Callable[[Principal, Resource], bool]


def _always(_p: Principal, _r: Resource) -> bool:
    return True


def _self(p: Principal, r: Resource) -> bool:
    return p.learner_id is not None and p.learner_id == r.learner_id


def _user(p: Principal, _r: Resource) -> bool:
    return p.kind == "user"


def _admin_of_institution(p: Principal, r: Resource) -> bool:
    return r.institution_id is not None and r.institution_id in p.admin_of


def _credential_of_institution(p: Principal, r: Resource) -> bool:
    return r.institution_id is not None and p.institution_id == r.institution_id


def _in_certifier_scope(p: Principal, r: Resource) -> bool:
    if r.applicant_learner_id is not None and r.applicant_learner_id == p.learner_id:
        return False
    if r.target_institution_key is not None and (
        ("institution", r.target_institution_key) in p.certifier_scopes
    ):
        return True
    return r.programme is not None and ("programme", r.programme) in p.certifier_scopes


# role -> condition, per action. "operator" always means: everything in this table.
# "credential" is an institution's LRS credential or OAuth client (kind == "credential");
# "authenticated" is any caller who signed in (user or credential).
RULES: dict[str, dict[str, Check]] = {
    # institutions
    "institution.list": {
        "operator": _always,
        "institution_admin": _always,
        "certifier": _always,
        "learner": _always,
        "credential": _always,
    },
    "institution.read": {
        "operator": _always,
        "institution_admin": _always,
        "certifier": _always,
        "learner": _always,
        "credential": _always,
    },
    "institution.create": {"operator": _always},
    "institution.accredit": {"operator": _always},
    "institution.update": {"operator": _always, "institution_admin": _admin_of_institution},
    "credential.manage": {"operator": _always, "institution_admin": _admin_of_institution},
    # Reading every institution's statements (statements/read, all/read, all) and the
    # homePages an institution owns (they decide which accounts it may link) are the
    # operator's to grant.
    "credential.grant_read_all": {"operator": _always},
    "institution.set_home_pages": {"operator": _always},
    # learners and their data
    "learner.create": {"operator": _always},
    "learner.list": {"operator": _always},
    "learner.read": {"operator": _always, "learner": _self},
    "learner.read_sensitive": {"operator": _always, "learner": _self},
    "learner.update": {"operator": _always, "learner": _self},
    "learner.export": {"operator": _always, "learner": _self},
    "learner.erase": {"operator": _always, "learner": _self},
    "learner.data": {"operator": _always, "learner": _self},
    "consent.create": {"learner": _self},
    # signed transcripts (creditbank.transcripts); verifying one needs no login
    "transcript.issue": {"operator": _always, "learner": _self},
    "transcript.read": {"operator": _always, "learner": _self},
    # revoke, suspend or lift a suspension of a transcript (and of its shares)
    "transcript.status": {"operator": _always, "learner": _self},
    # a selectively disclosed share is her choice; she or the operator revokes one
    "transcript.share": {"learner": _self},
    "transcript.share_revoke": {"operator": _always, "learner": _self},
    # suspend or reinstate one share (its suspension bit)
    "transcript.share_status": {"operator": _always, "learner": _self},
    # identity links
    "link.read": {"operator": _always, "learner": _self},
    "link.assert": {
        "operator": _always,
        "institution_admin": _admin_of_institution,
        "credential": _credential_of_institution,
    },
    "link.bulk": {
        "operator": _always,
        "institution_admin": _admin_of_institution,
        "credential": _credential_of_institution,
    },
    "link.delete": {
        "operator": _always,
        "learner": _self,
        "institution_admin": _admin_of_institution,
    },
    # CSV/xlsx imports of an institution's records (creditbank.imports)
    "import.manage": {
        "operator": _always,
        "institution_admin": _admin_of_institution,
        "credential": _credential_of_institution,
    },
    # the bank's decision on a statement, for the institution that sent it
    "statement.decision": {
        "operator": _always,
        "institution_admin": _admin_of_institution,
        "credential": _credential_of_institution,
    },
    # users and operations
    "user.manage": {"operator": _always},
    "audit.read": {"operator": _always},
    "reporting.read": {"operator": _always},
    # an institution's outgoing webhooks (subscriptions, delivery log, replay)
    "webhooks.manage": {"operator": _always, "institution_admin": _admin_of_institution},
    "reporting.institution": {"operator": _always, "institution_admin": _admin_of_institution},
    "keys.manage": {"operator": _always},
    "jobs.read": {"operator": _always, "metrics": _always},
    # /metrics: the operator, or the scraper holding the configured metrics token
    "metrics.read": {"operator": _always, "metrics": _always},
    "jobs.replay": {"operator": _always},
    # standards (rule sets): anyone signed in reads them, the operator publishes
    "standards.read": {"authenticated": _always},
    "standards.publish": {"operator": _always},
    "standards.reevaluate": {"operator": _always},
    # the catalog mappings an institution owns, in the standards in force
    "standards.mappings": {"operator": _always, "institution_admin": _admin_of_institution},
    # ledger and outcomes (a learner's own data otherwise goes through "learner.data")
    "ledger.adjust": {"operator": _always},
    # why a statement was (not) recognised: its learner, or the operator when the
    # statement names no learner of the bank
    "statement.explain": {"operator": _always, "learner": _self},
    "rules.dry_run": {"authenticated": _always},
    # the LRS: voiding a statement for the institution that stored it
    "statement.void_on_behalf": {"operator": _always},
    # conversions (used by the conversions context)
    "application.list": {"operator": _always, "certifier": _always},
    "application.review": {"operator": _always, "certifier": _in_certifier_scope},
    # withdraw or appeal: the applicant herself (any signed-in owner of the learner
    # account, whatever her roles) or the operator
    "application.act_as_applicant": {"operator": _always, "authenticated": _self},
    # deciding is a person's act (a user; her certifier scope is checked on review)
    "application.decide": {"authenticated": _user},
}


def _roles(principal: Principal) -> set[str]:
    """The roles a rule may name; "authenticated" is everyone but the anonymous caller."""
    if principal.kind == "credential":
        return {"credential", "authenticated"}
    if principal.kind == "user":
        return {*principal.roles, "authenticated"}
    return set()


def allowed(principal: Principal, action: str, resource: Resource = NOTHING) -> bool:
    """Whether ``principal`` may perform ``action`` on ``resource`` (unknown action: no)."""
    rule = RULES.get(action)
    if rule is None:
        return False
    if principal.is_operator and "operator" in rule:
        # An operator who applied with her own learner account still never reviews it.
        if action == "application.review" and resource.applicant_learner_id is not None:
            return resource.applicant_learner_id != principal.learner_id
        return True
    return any(role in rule and rule[role](principal, resource) for role in _roles(principal))


def authorize(principal: Principal, action: str, resource: Resource = NOTHING) -> None:
    """Return if allowed; ``Unauthorized`` for anonymous callers, else ``Forbidden``."""
    if allowed(principal, action, resource):
        return
    if principal.is_anonymous:
        raise Unauthorized("authentication required / 需要登录", code="authentication_required")
    raise Forbidden(f"not allowed: {action} / 无权执行此操作", code="forbidden")


def require_learner_access(principal: Principal, learner_id: uuid.UUID) -> None:
    """The learner herself or the operator may read a learner's outcomes, ledger, transcripts."""
    authorize(principal, "learner.data", Resource(learner_id=learner_id))


def require_certifier_scope(
    principal: Principal,
    target_institution_key: str,
    *,
    programme: str | None = None,
    applicant_learner_id: uuid.UUID | None = None,
) -> None:
    """A certifier (or operator) may review this application; never her own."""
    authorize(
        principal,
        "application.review",
        Resource(
            target_institution_key=target_institution_key,
            programme=programme,
            applicant_learner_id=applicant_learner_id,
        ),
    )


def certifier_scopes(principal: Principal) -> frozenset[tuple[str, str]] | None:
    """Listing filter for applications: ``None`` = all (operator), else the certifier's
    ``("institution", key)`` / ``("programme", id)`` pairs (empty: nothing)."""
    if principal.is_operator:
        return None
    if principal.kind == "user" and "certifier" in principal.roles:
        return principal.certifier_scopes
    return frozenset()
