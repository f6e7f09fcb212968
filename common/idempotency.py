import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

from common.errors import IdempotencyKeyRequired, ValidationFailed

_KEY_PATTERN = r"^[A-Za-z0-9._:@/+=-]{1,128}$"
_KEY = re.compile(_KEY_PATTERN)


def idempotency_key_parameter(*, required: bool) -> Any:
    """The ``Idempotency-Key`` header as the OpenAPI schema documents it: the format
    ``idempotency_key_from`` accepts, so a client (and schemathesis) can send one."""
    from drf_spectacular.utils import OpenApiParameter

    return OpenApiParameter(
        "Idempotency-Key",
        {"type": "string", "pattern": _KEY_PATTERN, "minLength": 1, "maxLength": 128},
        OpenApiParameter.HEADER,
        required=required,
        description="Your key for this request; a repeat with the same key and "
        "body answers the first result and moves nothing again.",
    )


def idempotency_key_from(request) -> str:
    """The request's ``Idempotency-Key`` header, required and well-formed."""
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise IdempotencyKeyRequired()
    if not _KEY.match(key):
        raise ValidationFailed(
            "Idempotency-Key must be 1-128 characters of letters, digits and ._:@/+=-",
            details={"fields": {"Idempotency-Key": ["invalid format"]}},
        )
    return key


def request_fingerprint(payload: Mapping[str, Any]) -> str:
    """A stable hash of what a request asked for, to tell a replay from a reuse."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay_response(data: Any, *, replayed: bool, first_status: int = 201):
    """One replay contract for every money door: a repeat of a request (same
    ``Idempotency-Key``) answers what the first answered, with the same status, and
    says so in ``Idempotent-Replayed: true``. Nothing moves twice."""
    from rest_framework.response import Response

    response = Response(data, status=first_status)
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response
