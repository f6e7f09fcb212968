"""The OpenAPI schema's error responses, added to every operation in one place.

drf-spectacular documents only what a view's ``extend_schema`` names, so the errors
every endpoint can answer with (``common/api.py`` and the request edge in
``common/edge.py``) would be missing and a client generated from the schema would
treat them as undefined. This postprocessing hook adds one shared ``Error`` component
(the registered body ``{"error": {"code", "message", "details"}}``, ``code`` limited
to the registry in ``common/errors.py``) and references it from each operation for the
statuses that operation can give:

- every operation: 400 (validation, control characters, JSON nesting) and 429
  (rate limits);
- every operation under ``X-Tenant`` or with a path parameter: 404 (unknown brand,
  unknown or foreign object);
- operations with a request body: 413 (``REQUEST_MAX_BODY_BYTES``) and 415;
- the ``/api/v1/auth/`` operations: 401 (wrong credentials);
- operations behind the player token: 401 (missing, expired or revoked token) and
  403 (a policy refuses: self-exclusion, closed account, kill switch);
- writes (POST, PUT, PATCH, DELETE): 409 (state conflicts, idempotency key reuse)
  and 422 (business rules: insufficient funds, limits);
- writes that call a PSP: 502 and 503 (the PSP failed or is switched off);
  starting a deposit also 202 ``DEPOSIT_CHECKOUT_PENDING`` (the PSP did not open the
  checkout within the request's budget; a worker finishes it, issue 9).

``tests/api/test_openapi_schemathesis.py`` checks the result against the running views.
"""

from __future__ import annotations

from typing import Any

from common import errors

ERROR_COMPONENT = "Error"
_REF = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
_DESCRIPTIONS = {
    "202": "Accepted: the deposit exists, its checkout is still being opened "
    "(DEPOSIT_CHECKOUT_PENDING); poll it",
    "400": "Invalid request (see the error code)",
    "401": "Missing, expired or revoked player token",
    "403": "Refused by a policy",
    "404": "Unknown brand or object",
    "409": "Conflict with the current state",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Refused by a business rule",
    "429": "Rate limited",
    "502": "The payment provider failed",
    "503": "Temporarily unavailable",
}
# Wrong email or password, an invalid or used reset link.
_AUTH_PATHS = ("/api/v1/auth/",)
_WRITES = {"post", "put", "patch", "delete"}
# Writes that reach a PSP: starting a deposit, submitting or retrying a withdrawal.
_PSP_PATHS = ("/api/v1/deposits", "/api/v1/withdrawals")


def error_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message", "details"],
                "properties": {
                    "code": {"type": "string", "enum": sorted(errors.registry())},
                    "message": {"type": "string"},
                    "details": {"type": "object"},
                },
            }
        },
    }


def _statuses(path: str, method: str, operation: dict[str, Any]) -> list[str]:
    statuses = ["400", "429"]
    parameters = operation.get("parameters", [])
    if any(p.get("in") in ("path", "header") for p in parameters) or "{" in path:
        statuses.append("404")
    if "requestBody" in operation:
        statuses += ["413", "415"]
    if path.startswith(_AUTH_PATHS):
        statuses.append("401")
    if any(requirement for requirement in operation.get("security", []) if requirement):
        statuses += ["401", "403"]
    if method in _WRITES:
        statuses += ["409", "422"]
        if path.startswith(_PSP_PATHS):
            statuses += ["502", "503"]
        if path == "/api/v1/deposits" and method == "post":
            statuses.append("202")
    return list(dict.fromkeys(statuses))


def add_error_responses(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry (settings.SPECTACULAR_SETTINGS)."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = (
        error_schema()
    )
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses = operation["responses"]
            for status in _statuses(path, method, operation):
                responses.setdefault(
                    status,
                    {
                        "description": _DESCRIPTIONS[status],
                        "content": {"application/json": {"schema": _REF}},
                    },
                )
    return result


def cursor_page(name: str, item_serializer: Any) -> Any:
    """The schema of a ``CursorPagination`` answer: ``{"next", "previous", "results"}``
    (``next``/``previous`` are URLs or null), as the list views actually return it."""
    from drf_spectacular.utils import inline_serializer
    from rest_framework import serializers

    return inline_serializer(
        name=name,
        fields={
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": item_serializer(many=True),
        },
    )


def wrapped_list(name: str, key: str, item_serializer: Any) -> Any:
    """The schema of ``{key: [item, ...]}`` (e.g. the balances answer)."""
    from drf_spectacular.utils import inline_serializer

    return inline_serializer(name=name, fields={key: item_serializer(many=True)})


# The player's money chain, as OpenAPI links (issue 14, the stateful schemathesis run
# in tests/api/test_openapi_schemathesis.py): (source path, method, status) → links
# to (target path, method) with the runtime expressions that fill them. The brand
# (``X-Tenant``) is carried along every link. The player token is not: it travels in
# ``Authorization``, a security scheme rather than a parameter, which a link cannot
# set; a client (and the stateful test) takes it from the login answer's ``token``.
_SAME_BRAND = {"header.X-Tenant": "$request.header.X-Tenant"}
_PLAYER_LINKS: dict[tuple[str, str, str], dict[str, dict[str, Any]]] = {
    ("/api/v1/auth/register", "post", "201"): {
        "LogIn": {
            "target": ("/api/v1/auth/login", "post"),
            "description": "Log in with the credentials just registered.",
            "requestBody": {
                "email": "$request.body#/email",
                "password": "$request.body#/password",
            },
        },
    },
    ("/api/v1/auth/login", "post", "200"): {
        name: {
            "target": target,
            "description": "As the player who logged in (Bearer the answer's token).",
        }
        for name, target in (
            ("Me", ("/api/v1/me", "get")),
            ("Balances", ("/api/v1/wallet/balances", "get")),
            ("StartDeposit", ("/api/v1/deposits", "post")),
            ("RequestWithdrawal", ("/api/v1/withdrawals", "post")),
        )
    },
    **{
        ("/api/v1/deposits", "post", status): {
            "GetDeposit": {
                "target": ("/api/v1/deposits/{deposit_id}", "get"),
                "description": "The deposit just started.",
                "parameters": {"path.deposit_id": "$response.body#/id"},
            },
            "WithdrawIt": {
                "target": ("/api/v1/withdrawals", "post"),
                "description": "Withdraw the deposit's amount, once it is paid.",
                "requestBody": {
                    "amount": "$response.body#/amount",
                    "currency": "$response.body#/currency",
                },
            },
        }
        for status in ("201",)
    },
    **{
        ("/api/v1/withdrawals", "post", status): {
            "GetWithdrawal": {
                "target": ("/api/v1/withdrawals/{withdrawal_id}", "get"),
                "description": "The withdrawal just requested.",
                "parameters": {"path.withdrawal_id": "$response.body#/id"},
            },
            "CancelWithdrawal": {
                "target": ("/api/v1/withdrawals/{withdrawal_id}/cancel", "post"),
                "description": "Take the withdrawal back while it awaits review.",
                "parameters": {"path.withdrawal_id": "$response.body#/id"},
            },
            "RetryWithdrawal": {
                "target": ("/api/v1/withdrawals/{withdrawal_id}/retry", "post"),
                "description": "Retry its payout if it failed.",
                "parameters": {"path.withdrawal_id": "$response.body#/id"},
            },
        }
        # 201 a new request, 200 the replay of an Idempotency-Key.
        for status in ("201", "200")
    },
}


def add_player_links(result: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOKS entry: the OpenAPI links of the player's
    register → log in → deposit → withdrawal chain (``_PLAYER_LINKS``). A link whose
    source or target operation is not in the schema is left out."""
    paths = result.get("paths", {})
    for (path, method, status), links in _PLAYER_LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get(status)
        if response is None:
            continue
        for name, link in links.items():
            target_path, target_method = link["target"]
            target = paths.get(target_path, {}).get(target_method)
            if target is None or "operationId" not in target:
                continue
            response.setdefault("links", {})[name] = {
                "operationId": target["operationId"],
                "description": link["description"],
                "parameters": {**_SAME_BRAND, **link.get("parameters", {})},
                **(
                    {"requestBody": link["requestBody"]}
                    if "requestBody" in link
                    else {}
                ),
            }
    return result
