"""Adyen standard notifications for a deposit, signed with the brand's HMAC key
exactly as Adyen signs them and delivered with its basic-auth credentials to the
real webhook view (verification included)."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from django.http import HttpResponse
from django.test.client import RequestFactory
from django.urls import resolve, reverse
from django.utils import timezone

from payments.models import PSPConfig
from payments.providers.adyen.mapping import to_adyen_minor
from payments.providers.adyen.webhooks import item_signature, payload_signature
from wallet.models import Deposit

# (event code, success) pairs the simulator can emit.
EVENTS = (
    "AUTHORISATION",
    "AUTHORISATION_REFUSED",
    "CANCELLATION",
    "REFUND",
    "REFUND_FAILED",
    "REFUNDED_REVERSED",
    "NOTIFICATION_OF_CHARGEBACK",
    "CHARGEBACK",
    "CHARGEBACK_REVERSED",
)


def payment_psp_reference(deposit: Deposit) -> str:
    return deposit.payment_reference or f"SIM{deposit.pk:013d}"


def notification_item(
    *,
    config: PSPConfig,
    deposit: Deposit,
    event: str,
    amount_minor: int | None = None,
    merchant_reference: str | None = None,
    psp_reference: str | None = None,
) -> dict[str, Any]:
    """One signed NotificationRequestItem as Adyen sends it."""
    success = event != "AUTHORISATION_REFUSED"
    code = "AUTHORISATION" if event == "AUTHORISATION_REFUSED" else event
    amount = deposit.amount_minor if amount_minor is None else amount_minor
    payment = payment_psp_reference(deposit)
    is_payment = code == "AUTHORISATION"
    item: dict[str, Any] = {
        "additionalData": {"paymentLinkId": deposit.provider_reference}
        if is_payment
        else {},
        "amount": {
            "currency": deposit.currency,
            "value": to_adyen_minor(amount, deposit.currency),
        },
        "eventCode": code,
        "eventDate": timezone.now().isoformat(timespec="seconds"),
        "merchantAccountCode": config.merchant_account,
        "merchantReference": merchant_reference or f"deposit:{deposit.pk}",
        "originalReference": "" if is_payment else payment,
        "paymentMethod": "visa",
        "pspReference": payment
        if is_payment
        else (psp_reference or f"SIM{secrets.randbelow(10**13):013d}"),
        "reason": "" if success else "Refused",
        "success": "true" if success else "false",
    }
    item["additionalData"]["hmacSignature"] = item_signature(
        item, hmac_key=config.hmac_key()
    )
    return item


def batch(*items: dict[str, Any]) -> dict[str, Any]:
    return {
        "live": "false",
        "notificationItems": [{"NotificationRequestItem": item} for item in items],
    }


def basic_auth_header(config: PSPConfig) -> str:
    token = base64.b64encode(
        f"{config.webhook_username}:{config.webhook_password()}".encode()
    ).decode()
    return f"Basic {token}"


def deliver(*, config: PSPConfig, document: dict[str, Any]) -> HttpResponse:
    """Hand the raw JSON to the real Adyen webhook view with the brand's basic-auth
    credentials, as Adyen would post it."""
    body = json.dumps(document).encode()
    path = reverse("webhook-adyen", args=[config.endpoint_id])
    request = RequestFactory().post(
        path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth_header(config),
        HTTP_USER_AGENT="Adyen HttpClient 1.0 (payments-simulator)",
    )
    match = resolve(path)
    return match.func(request, *match.args, **match.kwargs)


def transfer_update(
    *,
    config: PSPConfig,
    transfer_id: str,
    reference: str,
    amount_minor: int,
    currency: str,
    status: str,
    reason: str = "approved",
    sequence_number: int = 1,
) -> dict[str, Any]:
    """A Balance Platform ``balancePlatform.transfer.updated`` webhook body."""
    return {
        "data": {
            "id": transfer_id,
            "reference": reference,
            "status": status,
            "reason": reason,
            "direction": "outgoing",
            "category": "bank",
            "sequenceNumber": sequence_number,
            "amount": {
                "currency": currency,
                "value": to_adyen_minor(amount_minor, currency),
            },
            "balanceAccount": {"id": config.balance_account_id},
        },
        "environment": "test",
        "timestamp": timezone.now().isoformat(timespec="seconds"),
        "type": "balancePlatform.transfer.updated",
    }


def deliver_transfer_update(
    *, config: PSPConfig, document: dict[str, Any]
) -> HttpResponse:
    """Sign the raw body with the Balance Platform HMAC key (``HmacSignature``) and
    post it to the real endpoint with the webhook's basic auth."""
    body = json.dumps(document).encode()
    path = reverse("webhook-adyen", args=[config.endpoint_id])
    request = RequestFactory().post(
        path,
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=basic_auth_header(config),
        HTTP_HMACSIGNATURE=payload_signature(
            body, hmac_key=config.balance_platform_hmac_key()
        ),
    )
    match = resolve(path)
    return match.func(request, *match.args, **match.kwargs)


# Adyen's order of transfer statuses, as the webhook's sequence number.
TRANSFER_SEQUENCE = {
    "received": 1,
    "authorised": 2,
    "booked": 3,
    "credited": 4,
    "failed": 3,
    "refused": 2,
}


def refund_for(*, deposit: Deposit, event: str):
    """The deposit's refund a simulated refund notification answers: the oldest
    pending one for ``REFUND`` / ``REFUND_FAILED``, the latest succeeded one for
    ``REFUNDED_REVERSED``; ``None`` otherwise (a refund made at Adyen)."""
    from payments.models import Refund

    if event in ("REFUND", "REFUND_FAILED"):
        return deposit.refunds.filter(state=Refund.State.PENDING).order_by("id").first()
    if event == "REFUNDED_REVERSED":
        return (
            deposit.refunds.filter(state=Refund.State.SUCCEEDED).order_by("-id").first()
        )
    return None
