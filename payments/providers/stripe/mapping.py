"""Stripe's shapes ↔ our dataclasses: amounts, currencies and events."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from common.currency import exponent_of
from payments import events
from payments.events import WebhookEvent
from payments.exceptions import WebhookPayloadInvalid

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
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.closed",
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
    """A verified body → our ``WebhookEvent`` carrying its business event. Anything
    malformed in a verified event (a missing object, an amount that is not a
    number) raises ``WebhookPayloadInvalid``, never a bare Python error."""
    try:
        event = json.loads(body)
        event_id = event["id"]
        event_type = event["type"]
        obj = event["data"]["object"]
    except (ValueError, KeyError, TypeError):
        raise WebhookPayloadInvalid(details={"reason": "not a Stripe event"}) from None
    if (
        not isinstance(obj, dict)
        or not isinstance(event_id, str)
        or not isinstance(event_type, str)
    ):
        raise WebhookPayloadInvalid(details={"reason": "not a Stripe event"})
    try:
        business = _business_event(event_type, obj)
        occurred_at = event.get("created")
        occurred_at = int(occurred_at) if occurred_at is not None else None
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise WebhookPayloadInvalid(
            details={"reason": f"malformed {event_type}: {type(exc).__name__}"}
        ) from None
    return WebhookEvent(
        event_id=event_id,
        event_type=event_type[:100],
        occurred_at=occurred_at,
        event=business,
        stored_body=body.decode("utf-8", errors="replace"),
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Mapping):  # an expanded object
        return str(value.get("id") or "")
    if not isinstance(value, str | int):
        raise TypeError("expected a string")
    return str(value)


def _amount(obj: Mapping[str, Any], field: str) -> tuple[int | None, str]:
    """The object's ``field`` in our ISO minor units, and its currency."""
    currency = _text(obj.get("currency")).upper()
    raw = obj.get(field)
    if raw is None or not currency:
        return None, currency
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise TypeError(f"{field} is not an integer")
    return from_stripe_amount(raw, currency), currency


def _deposit_ref(obj: Mapping[str, Any], *, checkout: bool) -> events.DepositRef:
    return events.DepositRef(
        deposit_id=deposit_id_from(obj),
        checkout_reference=_text(obj.get("id")) if checkout else "",
        payment_reference=_text(obj.get("payment_intent")),
    )


def _metadata(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    metadata = obj.get("metadata") or {}
    if not isinstance(metadata, Mapping):
        raise TypeError("metadata is not an object")
    return metadata


def _refund_id(obj: Mapping[str, Any]) -> int | None:
    text = _text(_metadata(obj).get("refund")).removeprefix("refund:")
    return int(text) if text.isdigit() else None


def _business_event(event_type: str, obj: Mapping[str, Any]) -> events.BusinessEvent:
    if event_type.startswith("checkout.session."):
        ref = _deposit_ref(obj, checkout=True)
        session = ref.checkout_reference
        if event_type in (
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded",
        ):
            # payment_status "paid" is the only state that is money.
            if obj.get("payment_status") != "paid":
                return events.DepositAwaitingPayment(
                    deposit=ref, checkout_reference=session
                )
            amount, currency = _amount(obj, "amount_total")
            return events.DepositPaid(
                deposit=ref,
                payment_reference=payment_intent_of(obj),
                amount_minor=amount,
                currency=currency,
                checkout_reference=session,
            )
        if event_type == "checkout.session.async_payment_failed":
            return events.DepositFailed(
                deposit=ref,
                reason="asynchronous payment failed",
                checkout_reference=session,
            )
        if event_type == "checkout.session.expired":
            return events.DepositExpired(deposit=ref, checkout_reference=session)
    elif event_type == "charge.refunded":
        total, currency = _amount(obj, "amount_refunded")
        return events.RefundTotalReported(
            deposit=_deposit_ref(obj, checkout=False),
            refunded_total_minor=total or 0,
            currency=currency,
        )
    elif event_type == "charge.refund.updated":
        # The object is a Refund: its status says how it ended.
        ref = _deposit_ref(obj, checkout=False)
        status = _text(obj.get("status"))
        if status == "succeeded":
            amount, currency = _amount(obj, "amount")
            return events.RefundSucceeded(
                deposit=ref,
                refund_id=_refund_id(obj),
                refund_reference=_text(obj.get("id")),
                amount_minor=amount,
                currency=currency,
            )
        if status in ("failed", "canceled"):
            return events.RefundFailed(
                deposit=ref,
                refund_id=_refund_id(obj),
                refund_reference=_text(obj.get("id")),
                reason=f"refund {status}: {_text(obj.get('failure_reason'))}",
            )
        return events.NotActionable(f"refund {status}: in progress")
    elif event_type in ("charge.dispute.created", "charge.dispute.closed"):
        ref = _deposit_ref(obj, checkout=False)
        dispute_id = _text(obj.get("id"))
        status = _text(obj.get("status"))
        reason = _text(obj.get("reason"))
        amount, currency = _amount(obj, "amount")
        if event_type == "charge.dispute.created":
            if status.startswith("warning_"):  # an inquiry: no money moved
                return events.DisputeNotified(
                    deposit=ref,
                    dispute_reference=dispute_id,
                    amount_minor=amount,
                    currency=currency,
                    reason=reason,
                )
            # Stripe takes the disputed amount when the dispute is created.
            return events.DisputeOpened(
                deposit=ref,
                dispute_reference=dispute_id,
                amount_minor=amount,
                currency=currency,
                reason=reason,
            )
        if status == "won":
            return events.DisputeWon(
                deposit=ref, dispute_reference=dispute_id, reason=reason
            )
        if status == "lost":
            return events.DisputeLost(
                deposit=ref, dispute_reference=dispute_id, reason=reason
            )
        return events.NotActionable(f"dispute closed as {status}")
    return events.NotActionable(f"event type {event_type} is not handled")


def checkout_outcome(*, session: str, payment: str) -> str:
    """A Checkout Session's state in our words (``PaymentStatus.outcome``)."""
    if session == "complete" and payment in ("paid", "no_payment_required"):
        return "paid"
    if session == "expired":
        return "expired"
    if session in ("open", "complete"):
        return "open"
    return "unknown"


def payment_intent_of(obj: Mapping[str, Any]) -> str:
    return _text(obj.get("payment_intent"))


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
