"""Player API for withdrawals. Thin: parse, call ``payments.withdrawals.services``
in one durable transaction, render."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from common.actors import Actor
from common.currency import to_major, to_minor
from common.fields import CurrencyCodeField
from common.idempotency import (
    idempotency_key_from,
    idempotency_key_parameter,
    replay_response,
)
from common.openapi import cursor_page
from common.ratelimit import RateLimitMixin
from payments.withdrawals.services import (
    payout_retry,
    withdrawal_cancel_by_player,
    withdrawal_submit,
)
from tenants.api import TenantApi
from wallet.selectors import withdrawal_get, withdrawal_list


class PayoutAttemptOutputSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    state = serializers.CharField()
    failure_reason = serializers.CharField()
    created_at = serializers.DateTimeField()
    resolved_at = serializers.DateTimeField(allow_null=True)  # null while open


class WithdrawalOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    amount = serializers.SerializerMethodField()
    amount_minor = serializers.IntegerField()
    currency = serializers.CharField()
    destination = serializers.CharField(source="destination_masked")
    auto_approved = serializers.BooleanField()
    rejection_reason = serializers.CharField()
    requested_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()
    attempts = serializers.SerializerMethodField()

    def get_amount(self, withdrawal) -> str:
        return to_major(withdrawal.amount_minor, withdrawal.currency)

    @extend_schema_field(PayoutAttemptOutputSerializer(many=True))
    def get_attempts(self, withdrawal) -> list:
        attempts = withdrawal.attempts.order_by("number")
        return PayoutAttemptOutputSerializer(attempts, many=True).data


class WithdrawalPagination(CursorPagination):
    ordering = "-id"
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class WithdrawalListCreateApi(RateLimitMixin, TenantApi):
    ratelimit_group = "withdrawal"

    @extend_schema_serializer(component_name="WithdrawalCreateInput")
    class InputSerializer(serializers.Serializer):
        amount = serializers.CharField(max_length=32)
        currency = CurrencyCodeField()
        destination = serializers.DictField(
            help_text='{"type": "iban", "iban": "DE89...", "holder_name": "..."}'
        )

    @extend_schema(
        operation_id="v1_withdrawals_list",
        parameters=[
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: cursor_page("WithdrawalPage", WithdrawalOutputSerializer)},
    )
    def get(self, request):
        withdrawals = withdrawal_list(tenant_id=request.tenant.pk, player=request.user)
        paginator = WithdrawalPagination()
        page = paginator.paginate_queryset(withdrawals, request, view=self)
        return paginator.get_paginated_response(
            WithdrawalOutputSerializer(page, many=True).data
        )

    @extend_schema(
        request=InputSerializer,
        parameters=[idempotency_key_parameter(required=True)],
        responses={201: WithdrawalOutputSerializer, 200: WithdrawalOutputSerializer},
    )
    def post(self, request):
        key = idempotency_key_from(request)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        currency = data.validated_data["currency"].upper()
        amount_minor = to_minor(data.validated_data["amount"], currency)
        with transaction.atomic(durable=True):
            withdrawal, created = withdrawal_submit(
                player=request.user,
                amount_minor=amount_minor,
                currency=currency,
                destination=data.validated_data["destination"],
                idempotency_key=key,
            )
        return replay_response(
            WithdrawalOutputSerializer(withdrawal).data, replayed=not created
        )


class WithdrawalDetailApi(TenantApi):
    @extend_schema(responses={200: WithdrawalOutputSerializer})
    def get(self, request, withdrawal_id: int):
        withdrawal = withdrawal_get(
            tenant_id=request.tenant.pk,
            player=request.user,
            withdrawal_id=withdrawal_id,
        )
        return Response(WithdrawalOutputSerializer(withdrawal).data)


_OPTIONAL_KEY = idempotency_key_parameter(required=False)


class WithdrawalCancelApi(TenantApi):
    @extend_schema(
        request=None,
        parameters=[_OPTIONAL_KEY],
        responses={200: WithdrawalOutputSerializer},
    )
    def post(self, request, withdrawal_id: int):
        with transaction.atomic(durable=True):
            withdrawal = withdrawal_get(
                tenant_id=request.tenant.pk,
                player=request.user,
                withdrawal_id=withdrawal_id,
            )
            withdrawal, changed = withdrawal_cancel_by_player(
                withdrawal=withdrawal, actor=Actor.for_player(request.user)
            )
        # A repeat (the withdrawal is already canceled) answers the first result.
        return replay_response(
            WithdrawalOutputSerializer(withdrawal).data,
            replayed=not changed,
            first_status=200,
        )


class WithdrawalRetryApi(RateLimitMixin, TenantApi):
    ratelimit_group = "retry"

    @extend_schema(
        request=None,
        parameters=[_OPTIONAL_KEY],
        responses={200: WithdrawalOutputSerializer},
    )
    def post(self, request, withdrawal_id: int):
        withdrawal = withdrawal_get(
            tenant_id=request.tenant.pk,
            player=request.user,
            withdrawal_id=withdrawal_id,
        )
        attempt = payout_retry(
            withdrawal=withdrawal,
            actor=Actor.for_player(request.user),
            by_player=True,
            request_key=request.headers.get("Idempotency-Key", "").strip()
            and idempotency_key_from(request),
        )
        withdrawal.refresh_from_db()
        # A repeat with the same Idempotency-Key answers the first result.
        return replay_response(
            WithdrawalOutputSerializer(withdrawal).data,
            replayed=attempt is None,
            first_status=200,
        )
