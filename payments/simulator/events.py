"""Stripe-shaped events for a deposit, signed and delivered to the real webhook view."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from django.http import HttpResponse
from django.test.client import RequestFactory
from django.urls import resolve, reverse

from payments.models import PSPConfig
from payments.providers.stripe import webhooks
from payments.providers.stripe.client import API_VERSION
from payments.providers.stripe.mapping import SUPPORTED_EVENTS, to_stripe_amount
from wallet.models import Deposit


def _payment_intent(deposit: Deposit) -> str:
    return deposit.payment_reference or f"pi_sim_{deposit.pk}"


def checkout_session(deposit: Deposit, *, status: str, payment_status: str) -> dict:
    """A Checkout Session object as Stripe sends it in events."""
    amount = to_stripe_amount(deposit.amount_minor, deposit.currency)
    paid = payment_status == "paid"
    return {
        "id": deposit.provider_reference or f"cs_test_sim_{deposit.pk}",
        "object": "checkout.session",
        "amount_subtotal": amount,
        "amount_total": amount,
        "client_reference_id": f"deposit:{deposit.pk}",
        "currency": deposit.currency.lower(),
        "customer": None,
        "livemode": False,
        "metadata": {
            "deposit_id": str(deposit.pk),
            "tenant": deposit.player.tenant.slug,
            "player": f"player:{deposit.player_id}",
        },
        "mode": "payment",
        "payment_intent": _payment_intent(deposit) if paid else None,
        "payment_status": payment_status,
        "status": status,
        "url": None,
    }


def charge(deposit: Deposit, *, amount_refunded: int = 0) -> dict:
    amount = to_stripe_amount(deposit.amount_minor, deposit.currency)
    return {
        "id": f"ch_sim_{deposit.pk}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": to_stripe_amount(amount_refunded, deposit.currency),
        "currency": deposit.currency.lower(),
        "paid": True,
        "refunded": amount_refunded >= deposit.amount_minor,
        "payment_intent": _payment_intent(deposit),
        "metadata": {"deposit_id": str(deposit.pk)},
        "status": "succeeded",
    }


def dispute(deposit: Deposit, *, amount_minor: int) -> dict:
    return {
        "id": f"dp_sim_{deposit.pk}",
        "object": "dispute",
        "amount": to_stripe_amount(amount_minor, deposit.currency),
        "charge": f"ch_sim_{deposit.pk}",
        "currency": deposit.currency.lower(),
        "payment_intent": _payment_intent(deposit),
        "reason": "fraudulent",
        "status": "needs_response",
        "metadata": {},
    }


def refund(deposit: Deposit, *, amount_minor: int, status: str = "succeeded") -> dict:
    """A Refund object as ``charge.refund.updated`` carries it."""
    return {
        "id": f"re_sim_{deposit.pk}_{secrets.token_hex(4)}",
        "object": "refund",
        "amount": to_stripe_amount(amount_minor, deposit.currency),
        "charge": f"ch_sim_{deposit.pk}",
        "currency": deposit.currency.lower(),
        "payment_intent": _payment_intent(deposit),
        "metadata": {"deposit_id": str(deposit.pk)},
        "status": status,
    }


def event_for(
    deposit: Deposit, event_type: str, *, amount_minor: int | None = None
) -> dict[str, Any]:
    """One of ``SUPPORTED_EVENTS`` for this deposit, in Stripe's envelope."""
    if event_type not in SUPPORTED_EVENTS:
        raise ValueError(f"unsupported event type {event_type}")
    amount = deposit.amount_minor if amount_minor is None else amount_minor
    objects = {
        "checkout.session.completed": lambda: checkout_session(
            deposit, status="complete", payment_status="paid"
        ),
        "checkout.session.async_payment_succeeded": lambda: checkout_session(
            deposit, status="complete", payment_status="paid"
        ),
        "checkout.session.async_payment_failed": lambda: checkout_session(
            deposit, status="complete", payment_status="unpaid"
        ),
        "checkout.session.expired": lambda: checkout_session(
            deposit, status="expired", payment_status="unpaid"
        ),
        "charge.refunded": lambda: charge(deposit, amount_refunded=amount),
        "charge.refund.updated": lambda: refund(deposit, amount_minor=amount),
        "charge.dispute.created": lambda: dispute(deposit, amount_minor=amount),
        "charge.dispute.closed": lambda: {
            **dispute(deposit, amount_minor=amount),
            "status": "won",
        },
    }
    obj = objects[event_type]()
    if event_type.startswith("checkout.session.") and amount_minor is not None:
        obj["amount_total"] = to_stripe_amount(amount_minor, deposit.currency)
    return {
        "id": f"evt_sim_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": API_VERSION,
        "created": int(time.time()),
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }


def deliver(*, config: PSPConfig, event: dict[str, Any]) -> HttpResponse:
    """Sign ``event`` with the config's webhook secret as Stripe does and hand the
    raw bytes to the real webhook view (which verifies them)."""
    body = json.dumps(event, separators=(",", ":")).encode()
    header = webhooks.sign(
        payload=body, secret=config.webhook_secret(), timestamp=int(time.time())
    )
    path = reverse("webhook-stripe", args=[config.endpoint_id])
    request = RequestFactory().post(
        path,
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=header,
        HTTP_USER_AGENT="payments-simulator",
    )
    match = resolve(path)
    return match.func(request, *match.args, **match.kwargs)
