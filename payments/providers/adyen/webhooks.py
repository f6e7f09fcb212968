"""Verification and parsing of Adyen webhooks, on the raw request.

Two kinds arrive on a brand's Adyen endpoint:

* **Standard notifications** (payments, refunds, chargebacks): a JSON batch of
  ``notificationItems``. Each item carries its own HMAC in
  ``additionalData.hmacSignature`` over
  ``pspReference:originalReference:merchantAccountCode:merchantReference:value:currency:eventCode:success``.
  Every item is checked on its own: a verified item is applied, an unverifiable one
  is stored as rejected (reprocessable once the key is fixed); only a batch with no
  verifiable item is refused whole.
* **Balance Platform transfer webhooks** (payout outcomes from the Transfers API): one
  event per request, signed over the raw body in the ``HmacSignature`` header.

Both also carry the basic-auth credentials configured on the webhook. All comparisons
are constant-time; a missing key or credential fails closed.

We do not rely on ``Adyen.util.is_valid_hmac_notification``: it checks one item and
returns ``None`` (not ``False``) when ``additionalData`` is absent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from common.currency import UnknownCurrency
from common.errors import MalformedRequest
from payments import events
from payments.events import RejectedItem, WebhookEvent
from payments.exceptions import (
    ProviderAmountNotExpressible,
    WebhookAuthenticationFailed,
    WebhookHmacInvalid,
    WebhookMerchantAccountMismatch,
)
from payments.providers.adyen.config import AdyenConfig
from payments.providers.adyen.mapping import from_adyen_minor

logger = logging.getLogger(__name__)

SIGNED_FIELDS = (
    "pspReference",
    "originalReference",
    "merchantAccountCode",
    "merchantReference",
    "value",
    "currency",
    "eventCode",
    "success",
)
TRANSFER_SIGNATURE_HEADER = "HmacSignature"


def _header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return ""


def _key_bytes(hex_key: str) -> bytes | None:
    try:
        key = binascii.unhexlify(hex_key.strip())
    except (binascii.Error, ValueError):
        return None
    return key or None


def basic_auth_check(
    headers: Mapping[str, str], *, username: str, password: str
) -> None:
    """Raise ``WebhookAuthenticationFailed`` unless ``Authorization: Basic`` carries
    exactly the configured user and password. No configured credentials = refuse."""
    if not username or not password:
        logger.warning("adyen.webhook.basic_auth_not_configured")
        raise WebhookAuthenticationFailed()
    scheme, _, encoded = _header(headers, "Authorization").partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookAuthenticationFailed()
    try:
        given = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookAuthenticationFailed() from None
    given_user, sep, given_password = given.partition(b":")
    # Both compared, always: no early exit that tells which half was wrong.
    user_ok = hmac.compare_digest(given_user, username.encode())
    password_ok = hmac.compare_digest(given_password, password.encode())
    if not (sep and user_ok and password_ok):
        raise WebhookAuthenticationFailed()


def item_signing_string(item: Mapping[str, Any]) -> str:
    """The string Adyen signs for one NotificationRequestItem (missing field = "")."""
    amount = item.get("amount") or {}
    values = {
        **item,
        "value": amount.get("value", ""),
        "currency": amount.get("currency", ""),
    }
    return ":".join(
        "" if values.get(name) is None else str(values.get(name))
        for name in SIGNED_FIELDS
    )


def item_signature(item: Mapping[str, Any], *, hmac_key: str) -> str:
    """Base64 HMAC-SHA256 of the item's signing string with the hex-decoded key. Used
    to verify, and by the simulator to sign exactly as Adyen does."""
    key = _key_bytes(hmac_key)
    if key is None:
        raise WebhookHmacInvalid(details={"reason": "no usable HMAC key"})
    digest = hmac.new(key, item_signing_string(item).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def payload_signature(body: bytes, *, hmac_key: str) -> str:
    """Base64 HMAC-SHA256 of a raw body (Balance Platform webhooks)."""
    key = _key_bytes(hmac_key)
    if key is None:
        raise WebhookHmacInvalid(details={"reason": "no usable HMAC key"})
    return base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()


def _item_signature_ok(item: Mapping[str, Any], *, hmac_key: str) -> bool:
    given = str((item.get("additionalData") or {}).get("hmacSignature") or "")
    expected = item_signature(item, hmac_key=hmac_key)
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def items_hmac_verify(items: list[Mapping[str, Any]], *, hmac_key: str) -> None:
    """Every item must carry a valid signature; otherwise raise ``WebhookHmacInvalid``
    (used on stored items; a live batch is checked item by item in
    ``verify_and_parse``)."""
    if _key_bytes(hmac_key) is None:
        logger.error("adyen.webhook.hmac_key_not_configured")
        raise WebhookHmacInvalid()
    bad = sum(not _item_signature_ok(item, hmac_key=hmac_key) for item in items)
    if bad:
        logger.warning(
            "adyen.webhook.hmac_invalid", extra={"bad_items": bad, "items": len(items)}
        )
        raise WebhookHmacInvalid(details={"bad_items": bad, "items": len(items)})


def _items_of(document: Any) -> list[dict[str, Any]]:
    try:
        wrapped = document["notificationItems"]
        items = [entry["NotificationRequestItem"] for entry in wrapped]
    except (KeyError, TypeError):
        raise MalformedRequest("Not an Adyen notification batch.") from None
    if not items or not all(isinstance(item, dict) for item in items):
        raise MalformedRequest("Not an Adyen notification batch.")
    for item in items:
        if item.get("success") not in ("true", "false"):
            raise MalformedRequest('"success" must be the string "true" or "false".')
        if not item.get("pspReference") or not item.get("eventCode"):
            raise MalformedRequest("A notification item has no pspReference/eventCode.")
    return items


def _unix(value: Any) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return None


def _iso_amount(amount: Mapping[str, Any] | None) -> tuple[int | None, str | None]:
    """Adyen's amount in our ISO minor units; ``None`` when ISO cannot express it (the
    handler then sees a mismatch and flags the payment rather than guessing)."""
    if not amount or "currency" not in amount or "value" not in amount:
        return None, None
    currency = str(amount["currency"])
    try:
        return from_adyen_minor(int(amount["value"]), currency), currency
    except (ProviderAmountNotExpressible, UnknownCurrency, ValueError, TypeError):
        return None, currency


def event_id_for(item: Mapping[str, Any]) -> str:
    """Adyen may resend an item; (pspReference, eventCode, success) identifies it."""
    return f"{item['pspReference']}:{item['eventCode']}:{item['success']}"


def item_stored_body(item: Mapping[str, Any]) -> str:
    """One item alone, in Adyen's batch envelope: how the inbox stores it."""
    return json.dumps({"notificationItems": [{"NotificationRequestItem": item}]})


DISPUTE_ESCALATIONS = {
    "SECOND_CHARGEBACK": events.DisputeStage.SECOND_CHARGEBACK,
    "PREARBITRATION_WON": events.DisputeStage.PREARBITRATION_WON,
    "PREARBITRATION_LOST": events.DisputeStage.PREARBITRATION_LOST,
}
DISPUTE_CODES = (
    "NOTIFICATION_OF_CHARGEBACK",
    "CHARGEBACK",
    "CHARGEBACK_REVERSED",
    *DISPUTE_ESCALATIONS,
)
_REFUND_FAILURES = ("REFUND", "REFUND_FAILED", "REFUNDED_REVERSED")


def _our_id(reference: str, prefix: str) -> int | None:
    text = reference.removeprefix(prefix)
    return int(text) if reference.startswith(prefix) and text.isdigit() else None


def _item_business_event(item: Mapping[str, Any]) -> events.BusinessEvent:
    """The business event one standard notification item means."""
    code = str(item["eventCode"])
    success = item["success"] == "true"
    psp_reference = str(item["pspReference"])
    merchant_reference = str(item.get("merchantReference") or "")
    reason = str(item.get("reason") or "")
    amount_minor, currency = _iso_amount(item.get("amount"))
    currency = currency or ""
    additional = item.get("additionalData") or {}
    link_id = (
        str(additional.get("paymentLinkId") or "")
        if isinstance(additional, Mapping)
        else ""
    )
    # Modifications (refund, chargeback, cancellation) point at the payment.
    payment_reference = str(item.get("originalReference") or psp_reference)
    deposit = events.DepositRef(
        deposit_id=_our_id(merchant_reference, "deposit:"),
        checkout_reference=link_id,
        payment_reference=payment_reference,
    )
    if code == "AUTHORISATION":
        if success:
            return events.DepositPaid(
                deposit=deposit,
                payment_reference=psp_reference,
                amount_minor=amount_minor,
                currency=currency,
            )
        return events.DepositFailed(
            deposit=deposit, reason=f"refused by Adyen: {reason}"[:255]
        )
    if code == "CANCELLATION":
        if not success:
            return events.NotActionable(
                "cancellation refused: nothing changes", deposit=deposit
            )
        return events.DepositCancelled(deposit=deposit)
    if code in _REFUND_FAILURES:
        refund_id = _our_id(merchant_reference, "refund:")
        if code == "REFUND" and success:
            return events.RefundSucceeded(
                deposit=deposit,
                refund_id=refund_id,
                refund_reference=psp_reference,
                amount_minor=amount_minor,
                currency=currency,
            )
        return events.RefundFailed(
            deposit=deposit,
            refund_id=refund_id,
            refund_reference=psp_reference,
            reason=f"{code}: {reason}",
        )
    if code in DISPUTE_CODES:
        if not success:
            return events.NotActionable(
                f"{code} with success false: recorded", deposit=deposit
            )
        common = {"deposit": deposit, "dispute_reference": psp_reference}
        if code == "NOTIFICATION_OF_CHARGEBACK":
            return events.DisputeNotified(
                **common, amount_minor=amount_minor, currency=currency, reason=reason
            )
        if code == "CHARGEBACK":
            return events.DisputeOpened(
                **common, amount_minor=amount_minor, currency=currency, reason=reason
            )
        if code == "CHARGEBACK_REVERSED":
            return events.DisputeWon(**common, reason=reason)
        return events.DisputeEscalated(
            **common,
            stage=DISPUTE_ESCALATIONS[code],
            amount_minor=amount_minor,
            currency=currency,
            reason=reason,
        )
    return events.NotActionable(
        f"event {code} is recorded, not acted on", deposit=deposit
    )


def notification_item_to_event(item: Mapping[str, Any]) -> WebhookEvent:
    return WebhookEvent(
        event_id=event_id_for(item),
        event_type=str(item["eventCode"])[:100],
        occurred_at=_unix(item.get("eventDate")),
        event=_item_business_event(item),
        stored_body=item_stored_body(item),
    )


PAID = frozenset({"booked", "credited"})
FAILED = frozenset({"refused", "failed", "error", "cancelled"})
RETURNED = frozenset({"returned"})


def _transfer_business_event(data: Mapping[str, Any]) -> events.BusinessEvent:
    status = str(data.get("status") or "")
    if str(data.get("direction") or "outgoing") != "outgoing":
        return events.NotActionable(f"incoming transfer ({status}): not a payout")
    reference = str(data.get("reference") or "")
    attempt = reference.rpartition(":attempt:")[2]
    payout = events.PayoutRef(
        transfer_reference=str(data["id"]),
        attempt_id=int(attempt)
        if ":attempt:" in reference and attempt.isdigit()
        else None,
    )
    reason = str(data.get("reason") or "no reason given")
    if status in PAID:
        return events.PayoutBooked(payout=payout)
    if status in FAILED:
        return events.PayoutFailed(
            payout=payout, reason=f"Adyen transfer {status}: {reason}"
        )
    if status in RETURNED:
        return events.PayoutReturned(
            payout=payout, reason=f"Adyen transfer {status}: {reason}"
        )
    return events.PayoutProgressed(payout=payout, status=status)


def transfer_event_to_event(document: Mapping[str, Any]) -> WebhookEvent:
    data = document.get("data") or {}
    if not isinstance(data, dict) or not data.get("id"):
        raise MalformedRequest("A transfer webhook has no data.id.")
    status = str(data.get("status") or "")
    return WebhookEvent(
        event_id=f"transfer:{data['id']}:{status}:{data.get('sequenceNumber', '')}",
        event_type=str(document.get("type") or "")[:100],
        occurred_at=_unix(document.get("timestamp")),
        event=_transfer_business_event(data),
        stored_body=json.dumps(document),
    )


def _merchant_accounts_check(
    items: list[Mapping[str, Any]], *, config: AdyenConfig
) -> None:
    allowed = config.merchant_accounts
    foreign = sorted(
        {
            str(item.get("merchantAccountCode") or "")
            for item in items
            if str(item.get("merchantAccountCode") or "") not in allowed
        }
    )
    if foreign:
        logger.warning(
            "adyen.webhook.merchant_account_mismatch",
            extra={"tenant": config.tenant_slug, "merchant_accounts": foreign},
        )
        raise WebhookMerchantAccountMismatch(details={"merchant_accounts": foreign})


def _item_refusal(
    item: Mapping[str, Any], *, config: AdyenConfig
) -> WebhookHmacInvalid | WebhookMerchantAccountMismatch | None:
    if not _item_signature_ok(item, hmac_key=config.hmac_key):
        return WebhookHmacInvalid()
    account = str(item.get("merchantAccountCode") or "")
    if account not in config.merchant_accounts:
        logger.warning(
            "adyen.webhook.merchant_account_mismatch",
            extra={"tenant": config.tenant_slug, "merchant_accounts": [account]},
        )
        return WebhookMerchantAccountMismatch(details={"merchant_accounts": [account]})
    return None


def _batch_verify_and_parse(
    items: list[Mapping[str, Any]], *, config: AdyenConfig
) -> list[WebhookEvent | RejectedItem]:
    """Each item stands on its own signature. The verified items become events; an
    unverifiable one becomes a ``RejectedItem`` (kept, reprocessable), so Adyen does
    not retry the good items for ever. A batch with no verifiable item is refused
    whole (the first refusal is raised)."""
    if _key_bytes(config.hmac_key) is None:
        logger.error("adyen.webhook.hmac_key_not_configured")
        raise WebhookHmacInvalid()
    parsed: list[WebhookEvent | RejectedItem] = []
    refusals = []
    for item in items:
        refusal = _item_refusal(item, config=config)
        if refusal is None:
            parsed.append(notification_item_to_event(item))
            continue
        refusals.append(refusal)
        parsed.append(
            RejectedItem(
                stored_body=item_stored_body(item),
                code=refusal.code,
                reason=str(refusal.details.get("reason") or refusal.message),
            )
        )
    if len(refusals) == len(items):
        logger.warning("adyen.webhook.batch_refused", extra={"bad_items": len(items)})
        first = refusals[0]
        if isinstance(first, WebhookHmacInvalid):
            raise WebhookHmacInvalid(
                details={"bad_items": len(refusals), "items": len(items)}
            )
        raise first
    if refusals:
        logger.warning(
            "adyen.webhook.items_rejected",
            extra={"bad_items": len(refusals), "items": len(items)},
        )
    return parsed


def verify_stored(*, body: bytes, config: AdyenConfig) -> list[WebhookEvent]:
    """Verify a stored single item again (its HMAC is inside the body): for an item
    that was rejected on arrival and is reprocessed after the key was fixed."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("The stored delivery is not JSON.") from None
    if not isinstance(document, dict) or "notificationItems" not in document:
        raise MalformedRequest("Only notification items can be verified again.")
    items = _items_of(document)
    items_hmac_verify(items, hmac_key=config.hmac_key)
    _merchant_accounts_check(items, config=config)
    return [notification_item_to_event(item) for item in items]


def verify_and_parse(
    *, body: bytes, headers: Mapping[str, str], config: AdyenConfig
) -> list[WebhookEvent | RejectedItem]:
    """Basic auth, then signature(s), then ownership; only then parse into events.

    Raises ``WebhookAuthenticationFailed`` (401), ``WebhookHmacInvalid`` (400),
    ``WebhookMerchantAccountMismatch`` (403) or ``MalformedRequest`` (400)."""
    basic_auth_check(
        headers, username=config.webhook_username, password=config.webhook_password
    )
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("The notification body is not JSON.") from None
    if not isinstance(document, dict):
        raise MalformedRequest("Not an Adyen notification.")

    if "notificationItems" in document:
        return _batch_verify_and_parse(_items_of(document), config=config)

    if str(document.get("type") or "").startswith("balancePlatform.transfer"):
        given = _header(headers, TRANSFER_SIGNATURE_HEADER)
        if _key_bytes(config.balance_platform_hmac_key) is None:
            logger.error("adyen.webhook.balance_platform_hmac_key_not_configured")
            raise WebhookHmacInvalid()
        expected = payload_signature(body, hmac_key=config.balance_platform_hmac_key)
        if not given or not hmac.compare_digest(given.encode(), expected.encode()):
            raise WebhookHmacInvalid()
        data = document.get("data") or {}
        balance_account = (
            (data.get("balanceAccount") or {}).get("id")
            if isinstance(data, dict)
            else None
        )
        # A transfer of another brand's balance account is refused, and so is one
        # that names none (fail closed).
        if not balance_account or balance_account != config.balance_account_id:
            raise WebhookMerchantAccountMismatch(
                details={"balance_account": balance_account}
            )
        return [transfer_event_to_event(document)]

    raise MalformedRequest("Not an Adyen notification.")


def parse_verified(*, body: bytes) -> list[WebhookEvent]:
    """Events of a delivery whose signature was checked when it arrived (stored
    deliveries only: never call this on a request)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest("The stored delivery is not JSON.") from None
    if isinstance(document, dict) and "notificationItems" in document:
        return [notification_item_to_event(item) for item in _items_of(document)]
    if isinstance(document, dict) and str(document.get("type") or "").startswith(
        "balancePlatform.transfer"
    ):
        return [transfer_event_to_event(document)]
    raise MalformedRequest("Not an Adyen notification.")
