"""The PSP webhook endpoints: thin doors to ``payments.webhooks.services``."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.errors import ApplicationError
from payments.metrics import WEBHOOK_DELIVERIES
from payments.webhook_intake import (
    WebhookFloodGuard,
    webhook_body_read,
    webhook_config_get,
)
from payments.webhooks.services import webhook_receive

# Refusals of an unauthenticated delivery: each counts against the endpoint's limit.
_REFUSED_STATUSES = (400, 401, 403)


def webhook_intake(request, provider: str, endpoint_id: str):
    """Acknowledge fast (payments.webhook_intake): bounded body, cached config,
    then verify, store once and enqueue (``webhook_receive``); refused deliveries
    past the endpoint's limit are answered 429 and not stored."""
    counted = WEBHOOK_DELIVERIES.labels
    try:
        body = webhook_body_read(request)
    except ApplicationError:
        counted(provider=provider, outcome="too_large").inc()
        raise
    config = webhook_config_get(provider=provider, endpoint_id=endpoint_id)
    guard = WebhookFloodGuard(config)
    try:
        result = webhook_receive(
            config=config,
            body=body,
            headers=dict(request.headers),
            store_rejected=guard.admit,
        )
    except ApplicationError as error:
        if guard.tripped:
            counted(provider=provider, outcome="rate_limited").inc()
            raise guard.refusal() from None
        if error.http_status in _REFUSED_STATUSES:
            counted(provider=provider, outcome="rejected").inc()
        raise
    outcome = "duplicate" if result.duplicate else "accepted"
    counted(provider=provider, outcome=outcome).inc()
    return result


def webhook_error_response(error: ApplicationError) -> JsonResponse:
    response = JsonResponse(error.as_dict(), status=error.http_status)
    for name, value in error.headers().items():
        response[name] = value
    return response


@method_decorator(csrf_exempt, name="dispatch")
class StripeWebhookApi(View):
    """``POST /api/v1/webhooks/stripe/<endpoint id>/``. The endpoint id selects the
    brand's config and so the signing secret; nothing in the payload or headers
    does. Answers 200 once the event is applied (or was already), 400 for a bad
    signature or body (nothing applied), 500 when applying failed (Stripe retries)."""

    provider = "stripe"
    http_method_names = ["post"]

    def post(self, request, endpoint_id: str):
        try:
            result = webhook_intake(request, self.provider, endpoint_id)
        except ApplicationError as error:
            return webhook_error_response(error)
        return JsonResponse(
            {
                "received": True,
                "duplicate": result.duplicate,
                "status": result.inbox.status,
            }
        )


@method_decorator(csrf_exempt, name="dispatch")
class AdyenWebhookApi(View):
    """``POST /api/v1/webhooks/adyen/<endpoint id>/`` (docs/payments/adyen.md). The
    endpoint id selects the brand's Adyen config (basic-auth credentials, HMAC key,
    merchant account). Answers ``[accepted]`` once every item is applied (or was
    already); 401/400/403 when the delivery is refused (nothing applied); 500 when
    applying failed (Adyen retries)."""

    provider = "adyen"
    http_method_names = ["post"]

    def post(self, request, endpoint_id: str):
        try:
            webhook_intake(request, self.provider, endpoint_id)
        except ApplicationError as error:
            return webhook_error_response(error)
        return HttpResponse("[accepted]", content_type="text/plain")
