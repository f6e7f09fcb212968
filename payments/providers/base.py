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
from datetime import timedelta
from typing import Any

from payments.events import WebhookEvent


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
    refund_id: int
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
    status: str  # the PSP's own words, for people
    amount_minor: int | None = None
    currency: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)
    # The checkout's state in our words: "paid", "expired", "open" (the player may
    # still pay, or an asynchronous payment is on its way) or "unknown".
    outcome: str = "unknown"


class PaymentProvider(abc.ABC):
    """Built per tenant from its PSPConfig; stateless between calls."""

    name: str
    # True when an operator, not the PSP, says how a payout ended (a bank transfer
    # marked paid or failed by hand). For the others an open payout is settled
    # only by asking the PSP (``fetch_payout_status``), never by a guess.
    operator_settles_payouts: bool = False
    # How long the PSP replays the answer to a payout request sent again with the
    # same idempotency key (and makes no second payout). Within it, a payout whose
    # answer was lost is recovered by sending its request again
    # (``withdrawals.services.payout_attempt_reask``); None: never re-sent.
    payout_idempotency_window: timedelta | None = None

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

    def verify_stored_webhook(self, *, body: bytes) -> list[WebhookEvent]:
        """Verify again, from the stored body alone, an item that was refused when it
        arrived (Adyen signs each item inside the body; after an operator fixed the
        key, the item can be reprocessed). Providers whose signature lives only in
        the request headers with a time limit (Stripe) cannot."""
        from payments.exceptions import WebhookNotReprocessable

        raise WebhookNotReprocessable(details={"reason": "signature not in the body"})

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
