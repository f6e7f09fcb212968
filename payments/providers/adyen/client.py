"""The only module that imports the ``Adyen`` library.

One ``AdyenApi`` per brand, built from that brand's credentials: never the library's
module-level defaults. Each service object's ``baseUrl`` can be replaced (tests point
them at Prism serving Adyen's own OpenAPI spec). Every POST carries our idempotency
key. Vendor exceptions stop here: a refusal (4xx) becomes ``ProviderError``, a timeout,
connection failure or 5xx becomes ``ProviderUnavailable`` (outcome unknown).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import Adyen
import requests
from Adyen.exceptions import AdyenAPIResponseError, AdyenError

from payments.exceptions import (
    ProviderError,
    ProviderNotConfigured,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

APPLICATION_NAME = "casino-backoffice"


class AdyenApi:
    def __init__(
        self,
        *,
        api_key: str,
        environment: str = "test",
        live_url_prefix: str = "",
        checkout_base_url: str = "",
        transfers_base_url: str = "",
        timeout_seconds: int = 20,
    ) -> None:
        if environment not in ("test", "live"):
            raise ProviderNotConfigured(
                "Adyen environment must be 'test' or 'live'.",
                details={"provider": "adyen", "environment": environment},
            )
        if environment == "live" and not live_url_prefix and not checkout_base_url:
            raise ProviderNotConfigured(
                "Adyen live mode needs the live URL prefix of the company account.",
                details={"provider": "adyen", "missing": "live_url_prefix"},
            )
        if not api_key:
            raise ProviderNotConfigured(
                "Adyen API key is not configured.",
                details={"provider": "adyen", "missing": "api_key"},
            )
        self._client = Adyen.AdyenClient(
            xapikey=api_key,
            platform=environment,
            live_endpoint_prefix=live_url_prefix or None,
            http_force="requests",
            http_timeout=timeout_seconds,
            application_name=APPLICATION_NAME,
        )
        checkout = Adyen.AdyenCheckoutApi(client=self._client)
        transfers = Adyen.AdyenTransfersApi(client=self._client)
        self._payment_links = checkout.payment_links_api
        self._payments = checkout.payments_api
        self._modifications = checkout.modifications_api
        self._transfers = transfers.transfers_api
        if checkout_base_url:
            for service in (self._payment_links, self._payments, self._modifications):
                service.baseUrl = checkout_base_url.rstrip("/")
        if transfers_base_url:
            self._transfers.baseUrl = transfers_base_url.rstrip("/")

    # -- calls ------------------------------------------------------------------
    def payment_link_create(
        self, *, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return self._call(
            "paymentLinks.create",
            self._payment_links.payment_links,
            dict(body),
            idempotency_key=idempotency_key,
        )

    def payment_link_get(self, *, link_id: str) -> dict[str, Any]:
        return self._call(
            "paymentLinks.get", self._payment_links.get_payment_link, link_id
        )

    def session_create(
        self, *, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return self._call(
            "sessions.create",
            self._payments.sessions,
            dict(body),
            idempotency_key=idempotency_key,
        )

    def payment_methods(self, *, merchant_account: str) -> dict[str, Any]:
        """A harmless authenticated call: proves the key works for this account."""
        return self._call(
            "paymentMethods",
            self._payments.payment_methods,
            {"merchantAccount": merchant_account},
        )

    def refund_create(
        self,
        *,
        payment_psp_reference: str,
        body: Mapping[str, Any],
        idempotency_key: str,
    ) -> dict[str, Any]:
        return self._call(
            "payments.refunds",
            self._modifications.refund_captured_payment,
            dict(body),
            payment_psp_reference,
            idempotency_key=idempotency_key,
        )

    def transfer_create(
        self, *, body: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        return self._call(
            "transfers.create",
            self._transfers.transfer_funds,
            dict(body),
            idempotency_key=idempotency_key,
        )

    def transfer_get(self, *, transfer_id: str) -> dict[str, Any]:
        return self._call("transfers.get", self._transfers.get_transfer, transfer_id)

    # -- the boundary -------------------------------------------------------------
    def _call(
        self, operation: str, method: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> dict[str, Any]:
        try:
            result = method(*args, **kwargs)
        except AdyenAPIResponseError as exc:
            raise _translate_response_error(operation, exc) from exc
        except requests.RequestException as exc:
            logger.warning(
                "adyen.call.unreachable",
                extra={"operation": operation, "error": type(exc).__name__},
            )
            raise ProviderUnavailable(
                details={"provider": "adyen", "operation": operation}
            ) from exc
        except AdyenError as exc:  # configuration refused by the library itself
            raise ProviderError(
                "The Adyen client is not configured correctly.",
                details={"provider": "adyen", "operation": operation},
            ) from exc
        except ValueError as exc:  # an answer that is not JSON
            raise _unreadable(operation) from exc
        message = result.message
        if message is None:
            return {}
        if not isinstance(message, dict):
            raise _unreadable(operation)
        return dict(message)


def _unreadable(operation: str) -> ProviderUnavailable:
    """Adyen answered something we cannot read: whether it acted is unknown."""
    logger.warning("adyen.call.unreadable_answer", extra={"operation": operation})
    return ProviderUnavailable(
        "Adyen's answer could not be read; the outcome is unknown.",
        details={"provider": "adyen", "operation": operation},
    )


def _translate_response_error(
    operation: str, exc: AdyenAPIResponseError
) -> ProviderError | ProviderUnavailable:
    status = int(exc.status_code or 0)
    body = exc.message if isinstance(exc.message, dict) else {}
    # Adyen's error body holds codes and a human message, never our secrets; the raw
    # request (our body, with payout details) is deliberately left out.
    details = {
        "provider": "adyen",
        "operation": operation,
        "http_status": status,
        "error_code": str(body.get("errorCode") or exc.error_code or ""),
        "error_type": str(body.get("errorType") or ""),
        "psp_message": str(body.get("message") or body.get("detail") or "")[:200],
        "psp_reference": str(body.get("pspReference") or exc.psp or ""),
    }
    logger.warning("adyen.call.failed", extra=details)
    if status >= 500 or status in (408, 429):
        return ProviderUnavailable(details=details)
    return ProviderError(details=details)
