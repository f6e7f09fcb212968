"""The Stripe Checkout provider: our dataclasses in, our dataclasses out."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings
from django.core import signing
from django.urls import reverse

from payments.budget import psp_retries, psp_timeout
from payments.events import WebhookEvent
from payments.exceptions import (
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)
from payments.providers import base
from payments.providers.stripe import mapping, webhooks
from payments.providers.stripe.client import StripeApi

SIMULATOR_SALT = "payments.simulator.checkout"
SIMULATOR_KEY_PREFIX = "sk_test_simulator"


def simulator_enabled() -> bool:
    return bool(getattr(settings, "PAYMENTS_SIMULATOR_ENABLED", False))


def simulated_config(tenant_slug: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A simulated Stripe account for a brand: config fields and generated secrets."""
    fields = {"publishable_key": f"pk_test_simulator{secrets.token_hex(8)}"}
    generated = {
        "secret_key": f"{SIMULATOR_KEY_PREFIX}{secrets.token_hex(16)}",
        "webhook_secret": f"whsec_simulator{secrets.token_hex(16)}",
    }
    return fields, generated


class StripeProvider(base.PaymentProvider):
    name = "stripe"

    def __init__(self, config: Any, *, clock: Callable[[], float] = time.time):
        if config is None:
            raise ProviderNotConfigured(details={"provider": self.name})
        self.config = config
        self._clock = clock
        self._api: StripeApi | None = None

    @property
    def api(self) -> StripeApi:
        """Built on first use: one client per config, with that brand's key."""
        if self._api is None:
            secret_key = self.config.secret_key()
            if not secret_key:
                raise ProviderNotConfigured(
                    "The Stripe secret key is not set.",
                    details={"provider": self.name},
                )
            self._api = StripeApi(
                secret_key=secret_key,
                api_base=settings.STRIPE_API_BASE,
                max_network_retries=psp_retries(settings.STRIPE_MAX_NETWORK_RETRIES),
                timeout_seconds=psp_timeout(settings.STRIPE_TIMEOUT_SECONDS),
            )
        return self._api

    # --- deposits ----------------------------------------------------------------

    def create_deposit_checkout(
        self, request: base.CheckoutRequest
    ) -> base.CheckoutSession:
        if simulator_enabled():
            return self._simulated_checkout(request)
        session = self.api.checkout_session_create(
            params=mapping.checkout_session_params(
                deposit_id=request.deposit_id,
                tenant_slug=request.tenant_slug,
                amount_minor=request.amount_minor,
                currency=request.currency,
                return_url=request.return_url,
                cancel_url=request.cancel_url,
                customer_reference=request.customer_reference,
            ),
            idempotency_key=request.idempotency_key,
        )
        if not session.get("id") or not session.get("url"):
            # A 2xx we cannot read: the session may exist. Unknown, not failed.
            raise ProviderUnavailable(
                "Stripe returned a checkout session without an id or url.",
                details={"provider": self.name},
            )
        return base.CheckoutSession(
            provider_reference=session["id"],
            redirect_url=session["url"],
            expires_at=session.get("expires_at"),
        )

    def _simulated_checkout(
        self, request: base.CheckoutRequest
    ) -> base.CheckoutSession:
        """No call to Stripe: the checkout is the local simulator's page, which later
        sends real, signed Stripe events through the real webhook endpoint."""
        session_id = f"cs_test_sim_{request.deposit_id}_{secrets.token_hex(8)}"
        token = signing.dumps(
            {
                "deposit_id": request.deposit_id,
                "tenant": request.tenant_slug,
                "session_id": session_id,
                "return_url": request.return_url,
                "cancel_url": request.cancel_url,
            },
            salt=SIMULATOR_SALT,
        )
        url = reverse("payments-simulator:checkout", args=[session_id])
        return base.CheckoutSession(
            provider_reference=session_id, redirect_url=f"{url}?s={token}"
        )

    # --- webhooks ----------------------------------------------------------------

    def verify_and_parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str]
    ) -> list[WebhookEvent]:
        signature = None
        for name, value in headers.items():
            if name.lower() == "stripe-signature":
                signature = value
        webhooks.verify(
            payload=body,
            header=signature,
            secret=self.config.webhook_secret(),
            now=int(self._clock()),
        )
        return [mapping.event_parse(body)]

    def parse_verified_webhook(self, *, body: bytes) -> list[WebhookEvent]:
        return [mapping.event_parse(body)]

    # --- the rest of the interface ----------------------------------------------

    def send_payout(self, request: base.PayoutRequest) -> base.PayoutResult:
        raise ProviderError(
            "Payouts to players are not made through Stripe Checkout.",
            details={"provider": self.name},
        )

    def refund(self, request: base.RefundRequest) -> base.RefundResult:
        if simulator_enabled() and self.config.secret_key().startswith(
            SIMULATOR_KEY_PREFIX
        ):
            # A generated demo account: no call to Stripe; the simulator's signed
            # charge.refunded event settles the refund through the webhook code.
            mapping.to_stripe_amount(request.amount_minor, request.currency)
            return base.RefundResult(
                status="pending", provider_reference=f"re_sim{secrets.token_hex(8)}"
            )
        refund = self.api.refund_create(
            params={
                "payment_intent": request.provider_reference,
                "amount": mapping.to_stripe_amount(
                    request.amount_minor, request.currency
                ),
                # charge.refund.updated carries it back to our refund row.
                "metadata": {
                    "deposit_id": str(request.deposit_id),
                    "refund": f"refund:{request.refund_id}",
                },
            },
            idempotency_key=request.idempotency_key,
        )
        status = refund.get("status") or "pending"
        return base.RefundResult(
            status="succeeded"
            if status == "succeeded"
            else ("failed" if status in ("failed", "canceled") else "pending"),
            provider_reference=refund.get("id") or "",
        )

    def fetch_status(self, provider_reference: str) -> base.PaymentStatus:
        session = self.api.checkout_session_retrieve(provider_reference)
        currency = (session.get("currency") or "").upper() or None
        amount = session.get("amount_total")
        return base.PaymentStatus(
            provider_reference=provider_reference,
            status=f"{session.get('status')}/{session.get('payment_status')}",
            outcome=mapping.checkout_outcome(
                session=str(session.get("status") or ""),
                payment=str(session.get("payment_status") or ""),
            ),
            amount_minor=mapping.from_stripe_amount(amount, currency)
            if amount is not None and currency
            else None,
            currency=currency,
            raw=session,
        )

    def check_credentials(self) -> None:
        if simulator_enabled() and self.config.secret_key().startswith(
            SIMULATOR_KEY_PREFIX
        ):
            return  # a generated demo key: there is no Stripe account to ask
        self.api.balance_retrieve()
