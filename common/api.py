"""The single DRF exception handler: every error leaves the API as
``{"error": {"code", "message", "details"}}`` with the registry's HTTP status."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, UnreadablePostError
from rest_framework import exceptions as drf
from rest_framework.response import Response

from common import errors
from common.dberrors import translate_database_error

logger = logging.getLogger(__name__)


def _flatten_validation(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten_validation(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_validation(item) for item in detail]
    return str(detail)


def translate(exc: Exception) -> errors.ApplicationError:
    """Map framework exceptions onto registry errors; unknown ones become INTERNAL_ERROR."""
    if isinstance(exc, errors.ApplicationError):
        return exc
    try:
        from django_ratelimit.exceptions import Ratelimited
    except ImportError:  # pragma: no cover - dependency is pinned
        Ratelimited = ()  # noqa: N806
    if Ratelimited and isinstance(exc, Ratelimited):
        # common.ratelimit sets retry_after to what is left of the rate's window;
        # a bare django-ratelimit decorator does not, so assume a minute.
        return errors.RateLimited(retry_after=max(1, getattr(exc, "retry_after", 60)))
    if isinstance(exc, drf.ValidationError):
        return errors.ValidationFailed(
            details={"fields": _flatten_validation(exc.detail)}
        )
    if isinstance(exc, drf.ParseError):
        return errors.MalformedRequest(str(exc.detail))
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return errors.AuthenticationRequired(str(exc.detail))
    if isinstance(exc, (drf.PermissionDenied, DjangoPermissionDenied)):
        return errors.PermissionDeniedError()
    if isinstance(exc, (drf.NotFound, Http404)):
        return errors.NotFound()
    if isinstance(exc, drf.MethodNotAllowed):
        return errors.MethodNotAllowed(str(exc.detail))
    if isinstance(exc, drf.UnsupportedMediaType):
        return errors.UnsupportedMediaType(str(exc.detail))
    if isinstance(exc, drf.NotAcceptable):
        return errors.NotAcceptable()
    # Input the request edge (common/edge.py) normally refuses first; should one
    # get past it (a view reading the body itself), it is still the client's fault.
    if isinstance(exc, RequestDataTooBig):
        return errors.RequestBodyTooLarge()
    if isinstance(exc, SuspiciousOperation):
        return errors.BadRequest()
    if isinstance(exc, UnreadablePostError):
        return errors.BadRequest("The request body could not be read.")
    if isinstance(exc, RecursionError):
        return errors.RequestNestingTooDeep()
    if isinstance(exc, drf.Throttled):
        return errors.RateLimited(retry_after=int(exc.wait or 1))
    database_error = translate_database_error(exc)
    if database_error is not None:
        return database_error
    logger.exception("api.unexpected_error", exc_info=exc)
    return errors.InternalError()


def error_response(error: errors.ApplicationError) -> Response:
    headers = error.headers()
    if error.http_status == 401:
        # RFC 9110: a 401 names the scheme the client should use.
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    return Response(error.as_dict(), status=error.http_status, headers=headers)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    return error_response(translate(exc))


def page_not_found(request, exception=None):
    """``handler404`` (casino/urls.py): a URL under ``/api/`` that matches no route
    (e.g. ``/api/v1/withdrawals/-1``) answers the registered JSON ``NOT_FOUND`` the
    API documents, not Django's HTML page; every other URL keeps Django's page."""
    from django.http import JsonResponse
    from django.views import defaults

    if request.path.startswith("/api/"):
        error = errors.NotFound()
        return JsonResponse(error.as_dict(), status=error.http_status)
    return defaults.page_not_found(request, exception)
