"""The request edge: refuse, with a JSON error and before any view or database
query runs, what no view should ever see.

- NUL bytes and other C0 control characters (and text that is not UTF-8) in the
  path, the query string, header values and cookies: ``400 INVALID_TEXT``.
  PostgreSQL refuses NUL in any text, so such a value reaching a query was a 500.
- Bodies larger than ``REQUEST_MAX_BODY_BYTES``: ``413 REQUEST_BODY_TOO_LARGE``,
  decided from ``Content-Length`` before reading.
- Bodies that are not forms (JSON above all, webhooks included): a NUL byte or a
  ``\\u0000`` escape is ``400 INVALID_TEXT``; brackets nested deeper than
  ``REQUEST_MAX_JSON_DEPTH`` are ``400 REQUEST_NESTING_TOO_DEEP``, counted on the raw
  bytes without parsing (a recursive parser is what fell over).
- Form bodies: a NUL (raw or ``%00``) or invalid UTF-8 is ``400 INVALID_TEXT``.

Tabs, carriage returns and line feeds stay allowed in bodies and query values.
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import JsonResponse, UnreadablePostError

from common import errors

# C0 controls except TAB, LF and CR, and DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Header values and the path allow no control character at all, not even TAB.
_CONTROL_STRICT = re.compile(r"[\x00-\x1f\x7f]")
# A JSON string token (escapes included) and the brackets outside of them.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")
# "\u0000" written as an escape: preceded by an even number of backslashes (the
# u's backslash itself is then unescaped).
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000", re.IGNORECASE)


def error_json(error: errors.ApplicationError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.http_status)
    for name, value in error.headers().items():
        response[name] = value
    return response


def _wsgi_bytes(value: str) -> bytes:
    """WSGI hands over raw bytes decoded as latin-1; get the bytes back."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # already real text (ASGI, test client)
        return value.encode("utf-8", "surrogatepass")


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def json_depth(body: bytes) -> int:
    """The deepest bracket nesting of a JSON text, brackets in strings not counted.
    Linear in the size of the body and never recursive."""
    depth = deepest = 0
    for bracket in _BRACKETS.findall(_JSON_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def _check_path_and_query(request) -> str | None:
    path = _utf8(_wsgi_bytes(request.META.get("PATH_INFO", "") or ""))
    if path is None or _CONTROL_STRICT.search(path):
        return "path"
    raw_query = _wsgi_bytes(request.META.get("QUERY_STRING", "") or "")
    query = _utf8(unquote_to_bytes(raw_query.replace(b"+", b" ")))
    if query is None or _CONTROL.search(query):
        return "query"
    return None


def _check_headers(request) -> str | None:
    for key, value in request.META.items():
        if not (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")):
            continue
        if not isinstance(value, str) or _CONTROL_STRICT.search(value):
            return key.removeprefix("HTTP_").replace("_", "-").title()
    return None


def _check_cookies(request) -> str | None:
    for name, value in request.COOKIES.items():
        if _CONTROL_STRICT.search(name) or _CONTROL_STRICT.search(value):
            return "cookie"
    return None


def _check_body(request) -> errors.ApplicationError | None:
    limit = settings.REQUEST_MAX_BODY_BYTES
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return errors.BadRequest("The Content-Length header is not a number.")
    if length < 0:
        return errors.BadRequest("The Content-Length header is negative.")
    if length > limit:
        return errors.RequestBodyTooLarge(details={"max_bytes": limit})
    if length == 0:
        return None
    content_type = (request.META.get("CONTENT_TYPE") or "").split(";")[0].strip()
    if content_type.lower() == "multipart/form-data":
        return None  # parsed (and limited) by Django's multipart parser
    try:
        body = request.body
    except RequestDataTooBig:
        return errors.RequestBodyTooLarge(details={"max_bytes": limit})
    except (UnreadablePostError, OSError):
        return errors.BadRequest("The request body could not be read.")
    if len(body) > limit:
        return errors.RequestBodyTooLarge(details={"max_bytes": limit})
    if content_type.lower() == "application/x-www-form-urlencoded":
        text = _utf8(unquote_to_bytes(body.replace(b"+", b" ")))
        if text is None or "\x00" in text:
            return errors.InvalidText(details={"where": "body"})
        return None
    if b"\x00" in body or _NUL_ESCAPE.search(body):
        return errors.InvalidText(details={"where": "body"})
    max_depth = settings.REQUEST_MAX_JSON_DEPTH
    if json_depth(body) > max_depth:
        return errors.RequestNestingTooDeep(details={"max_depth": max_depth})
    return None


class RequestEdgeMiddleware:
    """First in ``MIDDLEWARE``: nothing (sessions, CSRF, tenant resolution, views)
    sees a request this refuses."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refusal = self.refusal(request)
        if refusal is not None:
            return error_json(refusal)
        return self.get_response(request)

    @staticmethod
    def refusal(request) -> errors.ApplicationError | None:
        try:
            where = (
                _check_path_and_query(request)
                or _check_headers(request)
                or _check_cookies(request)
            )
            if where:
                return errors.InvalidText(details={"where": where})
            return _check_body(request)
        except SuspiciousOperation as exc:  # e.g. too many fields, a bad host
            return errors.BadRequest(str(exc) or None)
