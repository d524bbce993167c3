"""Domain errors: each names the broken invariant and carries a stable code."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a service raises on purpose."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, detail: str, *, code: str | None = None, status_code: int | None = None):
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code


class BadRequest(DomainError):
    status_code = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class PreconditionFailed(DomainError):
    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class ValidationFailed(DomainError):
    """Payload validation of the bank's JSON API (xAPI uses 400 through BadRequest)."""

    status_code = 422
    code = "validation_failed"


class ServiceUnavailable(DomainError):
    """The database is unreachable or busy; the client should retry after a pause."""

    status_code = 503
    code = "service_unavailable"
    retry_after_seconds = 1
