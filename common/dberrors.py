"""Errors the database raises, as registry errors.

The ledger's rules are enforced by PostgreSQL as well as by Python: PL/pgSQL functions
and deferred constraint triggers (``wallet/sql.py``, ``tenants/sql.py``) raise an
exception whose message is a registry code (``RAISE EXCEPTION 'INSUFFICIENT_FUNDS'``),
CHECK and UNIQUE constraints refuse rows, and concurrent transactions can fail with a
serialization failure or a deadlock. Some of these surface inside a service call,
others only when the outermost ``atomic`` commits (deferred triggers). Wherever they
surface, ``translate_database_error`` gives the one answer:

- a ``RAISE EXCEPTION '<CODE>'`` whose message is a registered code → that error;
- a CHECK violation of a constraint mapped with ``constraint_error_register`` (the
  player balance's non-negative CHECK → ``INSUFFICIENT_FUNDS``) → that error;
- a serialization failure, deadlock, lock timeout or unique violation (two requests
  with one idempotency key racing) → ``CONCURRENT_UPDATE_CONFLICT`` (409, retry with the
  same idempotency key: the first request's result is replayed, or the action runs once);
- the connection lost, the server shutting down, a statement timeout →
  ``DATABASE_UNAVAILABLE`` (503, retry later with the same key);
- any other integrity error (a CHECK or NOT NULL the services should have prevented) →
  ``DATA_INTEGRITY_VIOLATION`` (500: our bug, logged with the database's detail).

Errors of status 500 and above carry no database detail to the client (it is logged).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, transaction

from common.errors import ApplicationError, registry

logger = logging.getLogger(__name__)


class ConcurrentUpdateConflict(ApplicationError):
    code = "CONCURRENT_UPDATE_CONFLICT"
    http_status = 409
    default_message = (
        "A concurrent request changed the same data; nothing was changed. Retry with "
        "the same idempotency key."
    )

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after_seconds", self.retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DatabaseUnavailable(ApplicationError):
    code = "DATABASE_UNAVAILABLE"
    http_status = 503
    default_message = (
        "The database is briefly unavailable. Retry with the same idempotency key."
    )

    def __init__(self, message: str | None = None, *, retry_after: int = 5, **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after_seconds", self.retry_after)

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class DataIntegrityViolation(ApplicationError):
    code = "DATA_INTEGRITY_VIOLATION"
    http_status = 500
    default_message = "The database refused a change that breaks its rules; logged."


# SQLSTATEs (PostgreSQL appendix A) by what the caller can do about them.
_CONFLICT_STATES = {
    "40001": "serialization_failure",
    "40P01": "deadlock_detected",
    "55P03": "lock_not_available",
    "23505": "unique_violation",
}
_UNAVAILABLE_STATES = {"57014", "57P01", "57P02", "57P03", "53300", "53200"}
_RAISE_EXCEPTION = "P0001"

# CHECK constraint name → the error it means (registered by the app owning the table).
_CONSTRAINT_ERRORS: dict[str, type[ApplicationError]] = {}


def constraint_error_register(
    constraint: str, error_class: type[ApplicationError]
) -> None:
    """Declare that a violation of ``constraint`` means ``error_class`` (called from
    the owning app's ``exceptions.py``, so ``common`` names no app)."""
    _CONSTRAINT_ERRORS[constraint] = error_class


def _database_fields(exc: BaseException) -> tuple[str, str, str, str]:
    """(sqlstate, message, detail, constraint) of the driver's error behind ``exc``."""
    cause = exc.__cause__ or exc
    diag = getattr(cause, "diag", None)
    return (
        getattr(cause, "sqlstate", None) or "",
        (getattr(diag, "message_primary", None) or "").strip(),
        getattr(diag, "message_detail", None) or "",
        getattr(diag, "constraint_name", None) or "",
    )


def _registered_error(code: str, detail: str) -> ApplicationError | None:
    error_class = registry().get(code)
    if error_class is None:
        return None
    details: dict[str, Any] = {}
    if error_class.http_status < 500 and detail.isdigit():
        details["account_id"] = int(detail)
    try:
        return error_class(details=details)
    except TypeError:  # an error whose constructor needs more than details
        return None


def translate_database_error(exc: BaseException) -> ApplicationError | None:
    """The registry error for a database error; None when ``exc`` is not a database
    error or not a refusal of data (a syntax error stays an ``INTERNAL_ERROR``)."""
    if isinstance(exc, ApplicationError) or not isinstance(exc, DatabaseError):
        return None
    sqlstate, message, detail, constraint = _database_fields(exc)
    error: ApplicationError | None = None
    if sqlstate == _RAISE_EXCEPTION:
        error = _registered_error(message, detail)
    elif constraint in _CONSTRAINT_ERRORS and sqlstate.startswith("23"):
        error = _CONSTRAINT_ERRORS[constraint]()
    elif sqlstate in _CONFLICT_STATES:
        reason = _CONFLICT_STATES[sqlstate]
        if sqlstate == "23505" and "idempotency" in constraint:
            reason = "idempotency_key_in_use"
        error = ConcurrentUpdateConflict(details={"reason": reason})
    elif sqlstate in _UNAVAILABLE_STATES or sqlstate.startswith("08"):
        error = DatabaseUnavailable()
    elif not sqlstate and type(exc).__name__ == "OperationalError":
        error = DatabaseUnavailable()  # no answer from the server: connection gone
    if error is None and (sqlstate.startswith("23") or sqlstate == _RAISE_EXCEPTION):
        error = DataIntegrityViolation()
    if error is None:
        return None
    if error.http_status >= 500:
        logger.error(
            "database.refused %s (sqlstate %s, %s: %s, constraint %s)",
            error.code,
            sqlstate,
            message,
            detail,
            constraint,
            exc_info=exc,
        )
    return error


@contextmanager
def database_errors_translated() -> Iterator[None]:
    """Re-raise a database error inside the block as its registry error."""
    try:
        yield
    except DatabaseError as exc:
        error = translate_database_error(exc)
        if error is None:
            raise
        raise error from exc


@contextmanager
def atomic_action() -> Iterator[None]:
    """The outermost transaction of one business action (``atomic(durable=True)``)
    for doors that are not the API (admin, portal, commands): a database error raised
    inside it or at its commit (deferred triggers) leaves as its registry error, so
    the door's ``except ApplicationError`` shows it instead of a 500 page."""
    with database_errors_translated(), transaction.atomic(durable=True):
        yield
