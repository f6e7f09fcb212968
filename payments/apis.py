"""Player deposit API and the PSP webhook endpoint."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from common.currency import to_major, to_minor
from common.errors import ApplicationError
from common.idempotency import idempotency_key_from
from common.ratelimit import RateLimitMixin
from payments.metrics import WEBHOOK_DELIVERIES
from payments.services import deposit_start, webhook_receive
from payments.webhook_intake import (
    WebhookFloodGuard,
    webhook_body_read,
    webhook_config_get,
)
from tenants.api import TenantApi
from wallet.models import Deposit
from wallet.selectors import deposit_get, deposit_list

logger = logging.getLogger(__name__)


class DepositOutputSerializer(serializers.Serializer):
    class Meta:
        ref_name = "Deposit"

    id = serializers.IntegerField()
    state = serializers.CharField()
    provider = serializers.CharField()
    currency = serializers.CharField()
    amount_minor = serializers.IntegerField()
    amount = serializers.SerializerMethodField()
    checkout_url = serializers.SerializerMethodField()
    refunded_minor = serializers.IntegerField()
    charged_back_minor = serializers.IntegerField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()

    def get_amount(self, deposit) -> str:
        return to_major(deposit.amount_minor, deposit.currency)

    def get_checkout_url(self, deposit) -> str | None:
        """Only while the player can still pay; absolute for API clients."""
        if deposit.state != Deposit.State.PENDING_PROVIDER or not deposit.checkout_url:
            return None
        request = self.context.get("request")
        url = deposit.checkout_url
        return (
            request.build_absolute_uri(url) if request and url.startswith("/") else url
        )


class DepositPagination(CursorPagination):
    ordering = "-id"
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


def deposit_return_url(request: HttpRequest, deposit: Deposit) -> str:
    """Where the PSP sends the player back: the portal's status page."""
    return request.build_absolute_uri(
        reverse("portal:deposit-status", args=[deposit.pk])
    )


class DepositListCreateApi(RateLimitMixin, TenantApi):
    ratelimit_group = "deposit"

    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(max_digits=18, decimal_places=3)
        currency = serializers.RegexField(r"^[A-Z]{3}$")

        class Meta:
            ref_name = "DepositCreateInput"  # OpenAPI component name

    @extend_schema(
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key", str, OpenApiParameter.HEADER, required=True
            )
        ],
        responses={201: DepositOutputSerializer},
    )
    def post(self, request):
        idempotency_key = idempotency_key_from(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        currency = data.validated_data["currency"]
        amount_minor = to_minor(data.validated_data["amount"], currency)
        # An orchestrator: it commits the deposit, calls the PSP outside any
        # transaction, then records the checkout (see payments.services).
        deposit = deposit_start(
            player=request.user,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
            return_url_for=lambda d: deposit_return_url(request, d),
        )
        return Response(
            DepositOutputSerializer(deposit, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: DepositOutputSerializer(many=True)},
    )
    def get(self, request):
        paginator = DepositPagination()
        page = paginator.paginate_queryset(
            deposit_list(player=request.user), request, view=self
        )
        return paginator.get_paginated_response(
            DepositOutputSerializer(page, many=True, context={"request": request}).data
        )


class DepositDetailApi(TenantApi):
    @extend_schema(responses={200: DepositOutputSerializer})
    def get(self, request, deposit_id: int):
        deposit = deposit_get(player=request.user, deposit_id=deposit_id)
        return Response(
            DepositOutputSerializer(deposit, context={"request": request}).data
        )


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
