"""The one interface every PSP adapter implements.

Providers take and return the frozen dataclasses below, never SDK objects. Each
provider is a package ``payments/providers/<name>/`` whose ``client.py`` is the only
module importing the vendor SDK; vendor exceptions are translated there into
``payments.exceptions.ProviderError`` (refused) or ``ProviderUnavailable`` (outcome
unknown: timeout, 5xx).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    deposit_id: int
    tenant_slug: str
    amount_minor: int  # ISO minor units; the provider converts to its own if it must
    currency: str
    idempotency_key: str
    return_url: str
    cancel_url: str
    customer_reference: str = ""


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    provider_reference: str  # e.g. Stripe Checkout Session id
    redirect_url: str
    expires_at: int | None = None  # unix seconds


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified, parsed PSP notification (one item for Adyen batches)."""

    provider: str
    event_id: str  # unique per provider; the inbox dedupes on it
    event_type: str
    occurred_at: int | None
    payload: Mapping[str, Any]
    object_reference: str = ""  # the PSP object the event is about
    merchant_reference: str = ""  # our reference (e.g. "deposit:42")
    amount_minor: int | None = None
    currency: str | None = None
    success: bool | None = None


@dataclass(frozen=True, slots=True)
class PayoutRequest:
    withdrawal_id: int
    attempt_id: int
    amount_minor: int
    currency: str
    destination: Mapping[str, Any]  # decrypted payout destination; never logged
    idempotency_key: str
    reference: str


@dataclass(frozen=True, slots=True)
class PayoutResult:
    status: str  # "paid" | "pending" | "failed"
    provider_reference: str = ""
    failure_reason: str = ""


@dataclass(frozen=True, slots=True)
class RefundRequest:
    deposit_id: int
    provider_reference: str
    amount_minor: int
    currency: str
    idempotency_key: str


@dataclass(frozen=True, slots=True)
class RefundResult:
    status: str  # "pending" | "succeeded" | "failed"
    provider_reference: str = ""


@dataclass(frozen=True, slots=True)
class PaymentStatus:
    provider_reference: str
    status: str
    amount_minor: int | None = None
    currency: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class PaymentProvider(abc.ABC):
    """Built per tenant from its PSPConfig; stateless between calls."""

    name: str

    @abc.abstractmethod
    def create_deposit_checkout(self, request: CheckoutRequest) -> CheckoutSession: ...

    @abc.abstractmethod
    def verify_and_parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str]
    ) -> list[WebhookEvent]:
        """Verify the signature on the raw bytes, then parse. Raises
        ``payments.exceptions.WebhookSignatureInvalid`` (or similar) when it fails."""

    def parse_verified_webhook(self, *, body: bytes) -> list[WebhookEvent]:
        """Parse a stored delivery whose signature was verified when it arrived (for
        reprocessing, when the signed timestamp is long past its tolerance)."""
        raise NotImplementedError

    @abc.abstractmethod
    def send_payout(self, request: PayoutRequest) -> PayoutResult: ...

    @abc.abstractmethod
    def refund(self, request: RefundRequest) -> RefundResult: ...

    @abc.abstractmethod
    def fetch_status(self, provider_reference: str) -> PaymentStatus: ...

    def fetch_payout_status(self, provider_reference: str) -> PayoutResult:
        """Ask the PSP how a payout it took is going: ``paid``, ``failed`` or
        ``pending`` (still in progress, or a status we do not know). Raises
        ``ProviderUnavailable`` when it does not answer. Providers without payouts
        to ask about (manual: the operator is the source of truth) do not
        implement it."""
        raise NotImplementedError

    def check_credentials(self) -> None:
        """Make a harmless authenticated call; raise ProviderError when it fails."""
        raise NotImplementedError
