"""The one error registry of the project.

Every domain error is an ``ApplicationError`` subclass with a stable ``code`` and an
HTTP status. Subclasses register themselves when their module is imported, so
``registry()`` is the list ``docs/errors.md`` must match (a test checks it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

_REGISTRY: dict[str, type[ApplicationError]] = {}


class ApplicationError(Exception):
    code: ClassVar[str] = ""
    http_status: ClassVar[int] = 400
    default_message: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.code:
            return
        existing = _REGISTRY.get(cls.code)
        if existing is not None and existing is not cls:
            raise RuntimeError(
                f"error code {cls.code} is defined twice: {existing} and {cls}"
            )
        _REGISTRY[cls.code] = cls

    def __init__(
        self, message: str | None = None, *, details: Mapping[str, Any] | None = None
    ):
        self.message = message or self.default_message
        self.details = dict(details or {})
        super().__init__(self.message)

    def headers(self) -> dict[str, str]:
        """Extra response headers (e.g. ``Retry-After``)."""
        return {}

    def as_dict(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "details": self.details,
            }
        }


def registry() -> dict[str, type[ApplicationError]]:
    return dict(_REGISTRY)


# Errors of the API contract itself, raised by the exception handler's translation of
# DRF and Django exceptions.
class ValidationFailed(ApplicationError):
    code = "VALIDATION_ERROR"
    http_status = 400
    default_message = "The request is not valid."


class MalformedRequest(ApplicationError):
    code = "MALFORMED_REQUEST"
    http_status = 400
    default_message = "The request body could not be parsed."


class AuthenticationRequired(ApplicationError):
    code = "AUTHENTICATION_REQUIRED"
    http_status = 401
    default_message = "Authentication credentials were not provided or are not valid."


class PermissionDeniedError(ApplicationError):
    code = "PERMISSION_DENIED"
    http_status = 403
    default_message = "You do not have permission to perform this action."


class NotFound(ApplicationError):
    code = "NOT_FOUND"
    http_status = 404
    default_message = "Not found."


class MethodNotAllowed(ApplicationError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405
    default_message = "Method not allowed."


class UnsupportedMediaType(ApplicationError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    http_status = 415
    default_message = "Unsupported media type; send application/json."


class RateLimited(ApplicationError):
    code = "RATE_LIMITED"
    http_status = 429
    default_message = "Too many requests; slow down."

    def __init__(
        self, message: str | None = None, *, retry_after: int = 60, **kwargs: Any
    ):
        self.retry_after = int(retry_after)
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after_seconds", self.retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class InternalError(ApplicationError):
    code = "INTERNAL_ERROR"
    http_status = 500
    default_message = "An unexpected error occurred. It has been logged."


class IdempotencyKeyRequired(ApplicationError):
    code = "IDEMPOTENCY_KEY_REQUIRED"
    http_status = 400
    default_message = "This operation needs an Idempotency-Key header."


class IdempotencyKeyReuseConflict(ApplicationError):
    code = "IDEMPOTENCY_KEY_REUSE_CONFLICT"
    http_status = 409
    default_message = "This idempotency key was already used for a different request."


class IllegalStateTransition(ApplicationError):
    code = "ILLEGAL_TRANSACTION_STATE_TRANSITION"
    http_status = 409
    default_message = "This state change is not allowed."

    def __init__(
        self, *, entity: str, from_state: str, to_state: str, message: str | None = None
    ):
        super().__init__(
            message or f"{entity} cannot go from {from_state} to {to_state}.",
            details={"entity": entity, "from_state": from_state, "to_state": to_state},
        )


# Issue 10: the request edge (common/edge.py) refuses what no view should ever see.
class InvalidText(ApplicationError):
    code = "INVALID_TEXT"
    http_status = 400
    default_message = (
        "The request contains a NUL byte, a control character or text that is not "
        "valid UTF-8."
    )


class RequestBodyTooLarge(ApplicationError):
    code = "REQUEST_BODY_TOO_LARGE"
    http_status = 413
    default_message = "The request body is too large."


class RequestNestingTooDeep(ApplicationError):
    code = "REQUEST_NESTING_TOO_DEEP"
    http_status = 400
    default_message = "The JSON body is nested too deeply."


class BadRequest(ApplicationError):
    code = "BAD_REQUEST"
    http_status = 400
    default_message = "The request could not be understood."


# --- issue 14: found by the fuzz (tests/common/test_fuzz_anonymous.py) ---
class NotAcceptable(ApplicationError):
    code = "NOT_ACCEPTABLE"
    http_status = 406
    default_message = "None of the Accept header's media types can be served here."


class RateLimitUnavailable(ApplicationError):
    """The rate-limit counters' cache did not answer and the group fails closed
    (common/ratelimit.py)."""

    code = "RATE_LIMIT_UNAVAILABLE"
    http_status = 503
    default_message = "Temporarily unavailable; retry shortly."

    def headers(self) -> dict[str, str]:
        return {"Retry-After": "5"}


# --- end issue 14 ---
