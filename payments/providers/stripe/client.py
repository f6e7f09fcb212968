"""The only module that imports the Stripe SDK.

One ``StripeClient`` per brand's config (never the process-wide ``stripe.api_key``),
its API base from settings (``STRIPE_API_BASE``) so tests can point it at a local
fake, and every vendor exception translated here into ``ProviderError`` (Stripe
refused) or ``ProviderUnavailable`` (the outcome is unknown). Results leave as plain
dicts, never SDK objects."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import stripe

from payments.exceptions import ProviderError, ProviderUnavailable

logger = logging.getLogger(__name__)

# Stripe's own pinned API version, so a dashboard default cannot change the shapes.
API_VERSION = stripe.api_version


class StripeApi:
    def __init__(
        self,
        *,
        secret_key: str,
        api_base: str,
        max_network_retries: int = 2,
        timeout_seconds: float = 20,
    ):
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout_seconds)
            if _has_requests()
            else stripe.UrllibClient(),
        )

    def checkout_session_create(
        self, *, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return self._call(
            "checkout.sessions.create",
            lambda: self._client.v1.checkout.sessions.create(
                params=dict(params), options={"idempotency_key": idempotency_key}
            ),
        )

    def checkout_session_retrieve(self, session_id: str) -> dict[str, Any]:
        return self._call(
            "checkout.sessions.retrieve",
            lambda: self._client.v1.checkout.sessions.retrieve(session_id),
        )

    def refund_create(
        self, *, params: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return self._call(
            "refunds.create",
            lambda: self._client.v1.refunds.create(
                params=dict(params), options={"idempotency_key": idempotency_key}
            ),
        )

    def balance_retrieve(self) -> dict[str, Any]:
        return self._call("balance.retrieve", self._client.v1.balance.retrieve)

    @staticmethod
    def _call(operation: str, call) -> dict[str, Any]:
        try:
            return call().to_dict()
        except (
            stripe.APIConnectionError,
            stripe.RateLimitError,
            stripe.APIError,
        ) as exc:
            logger.warning(
                "stripe.unavailable",
                extra={"operation": operation, "error_type": type(exc).__name__},
            )
            raise ProviderUnavailable(
                details={"provider": "stripe", "operation": operation}
            ) from exc
        except stripe.StripeError as exc:
            # The message is Stripe's and names no secret; the key is never echoed.
            details = {
                "provider": "stripe",
                "operation": operation,
                "error_type": type(exc).__name__,
                "provider_code": getattr(exc, "code", None) or "",
                "http_status": getattr(exc, "http_status", None),
            }
            logger.warning("stripe.refused", extra=details)
            raise ProviderError(
                getattr(exc, "user_message", None) or "Stripe refused the request.",
                details=details,
            ) from exc
        except (ValueError, TypeError, AttributeError, KeyError) as exc:
            # An answer the library could not read: whether Stripe acted is unknown.
            logger.warning(
                "stripe.unreadable_answer",
                extra={"operation": operation, "error_type": type(exc).__name__},
            )
            raise ProviderUnavailable(
                "Stripe's answer could not be read; the outcome is unknown.",
                details={"provider": "stripe", "operation": operation},
            ) from exc


def _has_requests() -> bool:
    try:
        import requests  # noqa: F401
    except ImportError:
        return False
    return True


def webhook_signature_header(payload: str, secret: str) -> str:
    """The ``Stripe-Signature`` header Stripe would send, made by the SDK's own
    signing helper (for the webhook benchmark, which plays Stripe)."""
    return stripe.WebhookSignature.generate_signature_header(payload, secret)
