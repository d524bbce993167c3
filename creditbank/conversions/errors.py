"""Conversion errors: each names the rule an application or decision would break."""

from __future__ import annotations

from creditbank.errors import BadRequest, Conflict, Forbidden, NotFound


class ApplicationNotFound(NotFound):
    code = "application_not_found"


class NotEligible(Conflict):
    """The record does not satisfy the conversion rule (now)."""

    code = "not_eligible"


class OutcomeAlreadyConverted(Conflict):
    code = "outcome_already_converted"


class DuplicateApplication(Conflict):
    code = "duplicate_application"


class StaleApplication(Conflict):
    """The standards changed since the application was made; apply again."""

    code = "stale_application"


class WrongStatus(Conflict):
    code = "wrong_status"


class AlreadyReviewed(Conflict):
    code = "already_reviewed"


class OwnApplication(Forbidden):
    code = "own_application"


class NotApplicant(Forbidden):
    code = "not_applicant"


class ReasonRequired(BadRequest):
    code = "reason_required"


class UnknownRule(NotFound):
    code = "conversion_rule_not_found"
