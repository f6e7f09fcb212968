"""The Adyen adapter: our dataclasses in, our dataclasses out.

Deposits are Pay by Link payment links (a hosted page Adyen serves), referenced with
our deposit reference; payouts go through the Transfers API (category ``bank``);
refunds through Checkout's ``/payments/{pspReference}/refunds``. The outcome of each
arrives later by webhook (``webhooks.py``): a synchronous answer is never taken as
money received or paid.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from payments.budget import psp_timeout
from payments.events import RejectedItem, WebhookEvent
from payments.exceptions import (
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from payments.providers.adyen import webhooks
from payments.providers.adyen.client import AdyenApi
from payments.providers.adyen.config import AdyenConfig
from payments.providers.adyen.mapping import PROVIDER, adyen_amount, from_adyen_minor
from payments.providers.base import (
    CheckoutRequest,
    CheckoutSession,
    PaymentProvider,
    PaymentStatus,
    PayoutRequest,
    PayoutResult,
    RefundRequest,
    RefundResult,
)

# Keys the simulator generates (payments.config.services.psp_config_ensure_simulated).
SIMULATOR_API_KEY_PREFIX = "AQE_simulator_"
# Payment link status → our deposit vocabulary.
LINK_STATUS = {
    "active": "pending",
    "paymentPending": "pending",
    "completed": "completed",
    "paid": "completed",
    "expired": "expired",
}
# Synchronous /transfers answers that already say the payout will not happen.
TRANSFER_FAILED = frozenset({"refused", "failed", "error", "returned"})
# Transfer statuses that mean the money left (as the transfer webhook reads them).
TRANSFER_PAID = frozenset({"booked", "credited"})


def deposit_reference(deposit_id: int) -> str:
    return f"deposit:{deposit_id}"


def counterparty_from_destination(destination: Mapping[str, Any]) -> dict[str, Any]:
    """A decrypted payout destination → Transfers ``counterparty.bankAccount``.

    Accepts ``{"iban", "holder_name"[, "bic"]}`` or ``{"account_number", "bic",
    "holder_name"}``. The destination is never logged or put in error details."""
    holder = str(
        destination.get("holder_name")
        or destination.get("account_holder")
        or destination.get("name")
        or ""
    ).strip()
    iban = str(destination.get("iban") or "").replace(" ", "").upper()
    account_number = str(destination.get("account_number") or "").strip()
    bic = str(destination.get("bic") or "").strip()
    if not holder:
        raise ProviderError(
            "The payout destination has no account holder name.",
            details={"provider": PROVIDER, "reason": "destination_incomplete"},
        )
    if iban:
        identification: dict[str, Any] = {"type": "iban", "iban": iban}
        if bic:
            identification["bic"] = bic
    elif account_number and bic:
        identification = {
            "type": "numberAndBic",
            "accountNumber": account_number,
            "bic": bic,
        }
    else:
        raise ProviderError(
            "The payout destination is not a bank account Adyen can pay.",
            details={"provider": PROVIDER, "reason": "destination_unsupported"},
        )
    return {
        "bankAccount": {
            "accountHolder": {"fullName": holder},
            "accountIdentification": identification,
        }
    }


def _unix(value: Any) -> int | None:
    if not value:
        return None
    try:
        return int(datetime.fromisoformat(str(value)).timestamp())
    except ValueError:
        return None


class AdyenProvider(PaymentProvider):
    name = PROVIDER
    # Adyen keeps an idempotency key for at least 7 days ("API idempotency"); a
    # day less leaves room for clocks and for the attempt's send after creation.
    payout_idempotency_window = timedelta(days=6)

    def __init__(self, config: AdyenConfig) -> None:
        self.config = config

    def __repr__(self) -> str:
        return f"AdyenProvider(merchant_account={self.config.merchant_account!r})"

    # Built on first use: verifying a webhook needs no API key.
    @property
    def api(self) -> AdyenApi:
        return AdyenApi(
            api_key=self.config.api_key,
            environment=self.config.environment,
            live_url_prefix=self.config.live_url_prefix,
            checkout_base_url=self.config.checkout_base_url,
            transfers_base_url=self.config.transfers_base_url,
            timeout_seconds=psp_timeout(self.config.timeout_seconds),
        )

    # -- deposits -------------------------------------------------------------------
    def payment_link_body(self, request: CheckoutRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reference": deposit_reference(request.deposit_id),
            "amount": adyen_amount(request.amount_minor, request.currency),
            "merchantAccount": self.config.merchant_account,
            "returnUrl": request.return_url,
            "reusable": False,
            "metadata": {
                "tenant": request.tenant_slug,
                "deposit_id": str(request.deposit_id),
            },
        }
        if len(request.customer_reference) >= 3:  # Adyen's minimum length
            body["shopperReference"] = request.customer_reference
        return body

    def create_deposit_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        if self.config.simulator:
            return self._simulated_checkout(request)
        answer = self.api.payment_link_create(
            body=self.payment_link_body(request),
            idempotency_key=request.idempotency_key,
        )
        if not answer.get("id") or not answer.get("url"):
            # A 2xx we cannot read: the link may exist. Unknown, not failed.
            raise ProviderUnavailable(
                "Adyen answered without a payment link; the outcome is unknown.",
                details={"provider": PROVIDER, "operation": "paymentLinks.create"},
            )
        return CheckoutSession(
            provider_reference=str(answer["id"]),
            redirect_url=str(answer["url"]),
            expires_at=_unix(answer.get("expiresAt")),
        )

    def _simulated_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        """No call to Adyen: the local simulator's checkout page stands in for the
        payment link, and later posts signed Adyen notifications to the real
        endpoint (payments/simulator)."""
        from django.core import signing
        from django.urls import reverse

        from payments.providers.stripe.provider import SIMULATOR_SALT

        link_id = f"PLSIM{request.deposit_id}X{secrets.token_hex(6).upper()}"
        token = signing.dumps(
            {
                "deposit_id": request.deposit_id,
                "tenant": request.tenant_slug,
                "session_id": link_id,
                "return_url": request.return_url,
                "cancel_url": request.cancel_url,
            },
            salt=SIMULATOR_SALT,
        )
        url = reverse("payments-simulator:checkout", args=[link_id])
        return CheckoutSession(
            provider_reference=link_id, redirect_url=f"{url}?s={token}"
        )

    def fetch_status(self, provider_reference: str) -> PaymentStatus:
        answer = self.api.payment_link_get(link_id=provider_reference)
        amount = answer.get("amount") or {}
        currency = amount.get("currency")
        status = LINK_STATUS.get(str(answer.get("status")), "unknown")
        return PaymentStatus(
            provider_reference=provider_reference,
            status=status,
            outcome={"completed": "paid", "expired": "expired", "pending": "open"}.get(
                status, "unknown"
            ),
            amount_minor=(
                from_adyen_minor(int(amount["value"]), currency)
                if currency and "value" in amount
                else None
            ),
            currency=currency,
            raw=answer,
        )

    # -- webhooks ---------------------------------------------------------------------
    def verify_and_parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str]
    ) -> list[WebhookEvent | RejectedItem]:
        return webhooks.verify_and_parse(body=body, headers=headers, config=self.config)

    def verify_stored_webhook(self, *, body: bytes) -> list[WebhookEvent]:
        return webhooks.verify_stored(body=body, config=self.config)

    def parse_verified_webhook(self, *, body: bytes) -> list[WebhookEvent]:
        """Parse a stored delivery verified when it arrived (admin reprocess)."""
        return webhooks.parse_verified(body=body)

    # -- payouts ------------------------------------------------------------------------
    def transfer_body(self, request: PayoutRequest) -> dict[str, Any]:
        if not self.config.balance_account_id:
            raise ProviderError(
                "No Adyen balance account is configured for payouts.",
                details={"provider": PROVIDER, "missing": "balance_account_id"},
            )
        return {
            "amount": adyen_amount(request.amount_minor, request.currency),
            "balanceAccountId": self.config.balance_account_id,
            "category": "bank",
            "counterparty": counterparty_from_destination(request.destination),
            "priority": "regular",
            # Per attempt, so a late update of an earlier attempt is never taken
            # for the current one (transfer_update_apply reads it back).
            "reference": f"{request.reference}:attempt:{request.attempt_id}"[-80:],
            "referenceForBeneficiary": f"W{request.withdrawal_id}"[:35],
            "description": f"Withdrawal {request.withdrawal_id}",
        }

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        """A synchronous refusal (4xx) raises ``ProviderError``: the payout did not
        happen. A timeout or 5xx raises ``ProviderUnavailable``: outcome unknown, funds
        stay held. Otherwise ``pending`` until the transfer webhook says booked or
        failed."""
        body = self.transfer_body(request)
        if self.config.simulator:
            # No call to Adyen: the simulator's staff API posts the transfer updates.
            return PayoutResult(
                status="pending",
                provider_reference=f"SIMTR{request.attempt_id}X{secrets.token_hex(4).upper()}",
            )
        answer = self.api.transfer_create(
            body=body, idempotency_key=request.idempotency_key
        )
        status = str(answer.get("status") or "")
        if status in TRANSFER_FAILED:
            return PayoutResult(
                status="failed",
                provider_reference=str(answer.get("id") or ""),
                failure_reason=str(answer.get("reason") or status),
            )
        return PayoutResult(status="pending", provider_reference=str(answer["id"]))

    def fetch_payout_status(self, provider_reference: str) -> PayoutResult:
        """``GET /transfers/{id}``: booked or credited is paid; refused, failed,
        error, cancelled or returned is failed; anything else is still pending."""
        answer = self.api.transfer_get(transfer_id=provider_reference)
        status = str(answer.get("status") or "")
        if status in TRANSFER_PAID:
            return PayoutResult(status="paid", provider_reference=provider_reference)
        if status in TRANSFER_FAILED or status == "cancelled":
            return PayoutResult(
                status="failed",
                provider_reference=provider_reference,
                failure_reason=f"Adyen transfer {status}: "
                f"{answer.get('reason') or 'no reason given'}",
            )
        return PayoutResult(
            status="pending",
            provider_reference=provider_reference,
            failure_reason=status,
        )

    # -- refunds ------------------------------------------------------------------------
    def refund(self, request: RefundRequest) -> RefundResult:
        if self.config.simulator:
            # No call to Adyen: the simulator's staff API posts the REFUND item.
            adyen_amount(request.amount_minor, request.currency)  # same refusals
            return RefundResult(
                status="pending",
                provider_reference=f"SIMRF{secrets.token_hex(6).upper()}",
            )
        answer = self.api.refund_create(
            payment_psp_reference=request.provider_reference,
            body={
                "amount": adyen_amount(request.amount_minor, request.currency),
                "merchantAccount": self.config.merchant_account,
                "reference": request.idempotency_key[:80],
            },
            idempotency_key=request.idempotency_key,
        )
        return RefundResult(
            status="pending", provider_reference=str(answer.get("pspReference") or "")
        )

    def check_credentials(self) -> None:
        if self.config.simulator and self.config.api_key.startswith(
            SIMULATOR_API_KEY_PREFIX
        ):
            return  # a generated demo key: there is no Adyen account to ask
        self.api.payment_methods(merchant_account=self.config.merchant_account)


def simulated_config(tenant_slug: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A simulated Adyen account for a brand: config fields and generated secrets."""
    fields = {
        "merchant_account": f"Simulator{tenant_slug.title()}",
        "webhook_username": "adyen-simulator",
        "balance_account_id": f"BASIM{secrets.token_hex(10).upper()}",
    }
    generated = {
        "secret_key": f"{SIMULATOR_API_KEY_PREFIX}{secrets.token_hex(16)}",
        "hmac_key": secrets.token_hex(32).upper(),
        "webhook_password": secrets.token_urlsafe(24),
        "balance_platform_hmac_key": secrets.token_hex(32).upper(),
    }
    return fields, generated


def build_adyen(config: Any) -> AdyenProvider:
    """Registry factory. Takes an ``AdyenConfig`` (or anything that can make one via
    ``as_adyen_config()``, which the PSPConfig model provides)."""
    if config is None:
        raise ProviderNotConfigured(details={"provider": PROVIDER})
    if not isinstance(config, AdyenConfig):
        config = config.as_adyen_config()
    return AdyenProvider(config)
