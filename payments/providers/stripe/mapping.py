"""Stripe's shapes ↔ our dataclasses: amounts, currencies and events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from common.currency import exponent_of
from payments.exceptions import WebhookPayloadInvalid
from payments.providers.base import WebhookEvent

PROVIDER = "stripe"

# Stripe counts some currencies in units that differ from ISO 4217: ISK and UGX are
# "zero-decimal" for people but sent to the API with two decimals.
STRIPE_EXPONENT_OVERRIDES = {"ISK": 2, "UGX": 2}

SUPPORTED_EVENTS = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "checkout.session.expired",
    "charge.refunded",
    "charge.dispute.created",
)


def _stripe_exponent(currency: str) -> int:
    return STRIPE_EXPONENT_OVERRIDES.get(currency, exponent_of(currency))


def to_stripe_amount(amount_minor: int, currency: str) -> int:
    shift = _stripe_exponent(currency) - exponent_of(currency)
    return amount_minor * 10**shift


def from_stripe_amount(amount: int, currency: str) -> int:
    """Stripe's integer amount in our ISO minor units (a remainder is refused)."""
    shift = _stripe_exponent(currency) - exponent_of(currency)
    value, remainder = divmod(amount, 10**shift)
    if remainder:
        raise WebhookPayloadInvalid(
            details={"reason": "amount has sub-unit digits", "currency": currency}
        )
    return value


def deposit_reference(deposit_id: int) -> str:
    return f"deposit:{deposit_id}"


def deposit_id_from(obj: Mapping[str, Any]) -> int | None:
    """Our deposit id from ``client_reference_id`` or ``metadata.deposit_id``."""
    candidates = [
        obj.get("client_reference_id") or "",
        (obj.get("metadata") or {}).get("deposit_id") or "",
    ]
    for candidate in candidates:
        text = str(candidate).removeprefix("deposit:")
        if text.isdigit():
            return int(text)
    return None


def event_parse(body: bytes) -> WebhookEvent:
    """A verified body → our ``WebhookEvent``. The object's amount is in our minor
    units; ``success`` is whether the money is actually ours (``payment_status``)."""
    try:
        event = json.loads(body)
        event_id = event["id"]
        event_type = event["type"]
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise WebhookPayloadInvalid(details={"reason": "not a Stripe event"}) from None
    if not isinstance(obj, dict) or not isinstance(event_id, str):
        raise WebhookPayloadInvalid(details={"reason": "not a Stripe event"})

    currency = (obj.get("currency") or "").upper() or None
    amount: int | None = None
    object_reference = obj.get("id") or ""
    success: bool | None = None
    if event_type.startswith("checkout.session."):
        raw_amount = obj.get("amount_total")
        success = obj.get("payment_status") == "paid"  # the only state that is money
    elif event_type == "charge.refunded":
        raw_amount = obj.get("amount_refunded")
    elif event_type == "charge.dispute.created":
        raw_amount = obj.get("amount")
    else:
        raw_amount = None
    if raw_amount is not None and currency:
        amount = from_stripe_amount(int(raw_amount), currency)
    deposit_id = deposit_id_from(obj)
    return WebhookEvent(
        provider=PROVIDER,
        event_id=event_id,
        event_type=event_type,
        occurred_at=event.get("created"),
        payload=event,
        object_reference=object_reference,
        merchant_reference=deposit_reference(deposit_id) if deposit_id else "",
        amount_minor=amount,
        currency=currency,
        success=success,
    )


def payment_intent_of(obj: Mapping[str, Any]) -> str:
    value = obj.get("payment_intent") or ""
    if isinstance(value, Mapping):  # expanded
        value = value.get("id") or ""
    return str(value)


def checkout_session_params(
    *,
    deposit_id: int,
    tenant_slug: str,
    amount_minor: int,
    currency: str,
    return_url: str,
    cancel_url: str,
    customer_reference: str,
) -> dict[str, Any]:
    metadata = {
        "deposit_id": str(deposit_id),
        "tenant": tenant_slug,
        "player": customer_reference,
    }
    return {
        "mode": "payment",
        "client_reference_id": deposit_reference(deposit_id),
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": currency.lower(),
                    "unit_amount": to_stripe_amount(amount_minor, currency),
                    "product_data": {"name": "Account deposit"},
                },
            }
        ],
        "metadata": metadata,
        # Copied onto the PaymentIntent (and so its charges and disputes), which is
        # how refund and dispute events find their deposit.
        "payment_intent_data": {"metadata": metadata},
        "success_url": return_url,
        "cancel_url": cancel_url,
    }
