"""Reading per-currency amounts out of a TenantPolicy, failing closed.

The admin validates every map (``TenantPolicy.clean``), but a row edited behind its
back may still hold garbage; these helpers say what to do then, in one place.
"""

from __future__ import annotations

import logging
from typing import Any

from common.currency import ISO_EXPONENTS

logger = logging.getLogger(__name__)


class InvalidPolicyValue(Exception):
    """A policy map holds something that is not a non-negative integer."""


def amount_map_errors(value: Any) -> list[str]:
    """Why ``value`` is not a ``{"EUR": 1000}`` map (empty list when it is)."""
    if not isinstance(value, dict):
        return ['Expected a JSON object such as {"EUR": 100000}.']
    problems = []
    for currency, amount in value.items():
        if currency not in ISO_EXPONENTS:
            problems.append(f"{currency!r} is not a supported currency code.")
        if type(amount) is not int or amount < 0:
            problems.append(
                f"{currency}: {amount!r} is not a whole number of minor units >= 0."
            )
    return problems


def policy_amount(policy: Any, field: str, currency: str) -> int | None:
    """The policy's amount for ``currency``, None when none is set. Raises
    ``InvalidPolicyValue`` when the stored value is broken: callers fail closed."""
    mapping = getattr(policy, field, None) if policy is not None else None
    if mapping is None:
        return None
    if not isinstance(mapping, dict):
        raise InvalidPolicyValue(field)
    if currency not in mapping:
        return None
    amount = mapping[currency]
    if type(amount) is not int or amount < 0:
        logger.warning(
            "tenant_policy.invalid_value",
            extra={"field": field, "currency": currency},
        )
        raise InvalidPolicyValue(field)
    return amount
