"""The PSP webhook endpoints: thin doors to ``payments.webhooks.services``."""

from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.errors import ApplicationError
from payments.selectors import psp_config_get_by_endpoint
from payments.webhooks.services import webhook_receive


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
            config = psp_config_get_by_endpoint(
                provider=self.provider, endpoint_id=endpoint_id
            )
            result = webhook_receive(
                config=config, body=request.body, headers=dict(request.headers)
            )
        except ApplicationError as error:
            return JsonResponse(error.as_dict(), status=error.http_status)
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
            config = psp_config_get_by_endpoint(
                provider=self.provider, endpoint_id=endpoint_id
            )
            webhook_receive(
                config=config, body=request.body, headers=dict(request.headers)
            )
        except ApplicationError as error:
            return JsonResponse(error.as_dict(), status=error.http_status)
        return HttpResponse("[accepted]", content_type="text/plain")
