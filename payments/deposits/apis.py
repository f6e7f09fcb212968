"""Player deposit API: start a deposit, list and read them."""

from __future__ import annotations

import logging

from django.http import HttpRequest
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from common.currency import to_major, to_minor
from common.fields import AmountField, CurrencyField
from common.idempotency import (
    idempotency_key_from,
    idempotency_key_parameter,
    replay_response,
)
from common.openapi import cursor_page
from common.ratelimit import RateLimitMixin
from payments.deposits.services import deposit_start
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
    # null until the deposit completes (found by the stateful schemathesis run)
    completed_at = serializers.DateTimeField(allow_null=True)

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
        amount = AmountField(max_digits=18, decimal_places=3)
        currency = CurrencyField()

        class Meta:
            ref_name = "DepositCreateInput"  # OpenAPI component name

    @extend_schema(
        request=InputSerializer,
        parameters=[idempotency_key_parameter(required=True)],
        responses={201: DepositOutputSerializer},
    )
    def post(self, request):
        idempotency_key = idempotency_key_from(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        currency = data.validated_data["currency"]
        amount_minor = to_minor(data.validated_data["amount"], currency)
        # An orchestrator: it commits the deposit, calls the PSP outside any
        # transaction, then records the checkout (see payments.deposits.services).
        deposit, replayed = deposit_start(
            player=request.user,
            amount_minor=amount_minor,
            currency=currency,
            idempotency_key=idempotency_key,
            return_url_for=lambda d: deposit_return_url(request, d),
        )
        # One replay contract for every money door: a repeat answers what the
        # first request answered (201), marked Idempotent-Replayed.
        return replay_response(
            DepositOutputSerializer(deposit, context={"request": request}).data,
            replayed=replayed,
        )

    @extend_schema(
        operation_id="v1_deposits_list",
        parameters=[
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: cursor_page("DepositPage", DepositOutputSerializer)},
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
