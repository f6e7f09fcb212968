from __future__ import annotations

from collections.abc import Mapping

from payments.events import WebhookEvent
from payments.exceptions import ProviderError
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


class ManualProvider(PaymentProvider):
    """Payouts only. ``send_payout`` queues the transfer for an operator and answers
    "pending"; the outcome arrives through ``payments.withdrawals.manual``."""

    name = "manual"
    operator_settles_payouts = True

    def send_payout(self, request: PayoutRequest) -> PayoutResult:
        return PayoutResult(
            status="pending", provider_reference=f"manual:{request.attempt_id}"
        )

    def create_deposit_checkout(self, request: CheckoutRequest) -> CheckoutSession:
        raise ProviderError(
            "The manual provider does not take deposits.",
            details={"provider": self.name},
        )

    def verify_and_parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str]
    ) -> list[WebhookEvent]:
        raise ProviderError(
            "The manual provider has no webhooks.", details={"provider": self.name}
        )

    def refund(self, request: RefundRequest) -> RefundResult:
        raise ProviderError(
            "The manual provider does not refund.", details={"provider": self.name}
        )

    def fetch_status(self, provider_reference: str) -> PaymentStatus:
        # An operator is the source of truth; there is nothing to ask.
        return PaymentStatus(provider_reference=provider_reference, status="pending")

    def check_credentials(self) -> None:
        return None
