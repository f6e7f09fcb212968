from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
)
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from common.currency import to_major
from common.openapi import cursor_page, wrapped_list
from tenants.api import TenantApi
from wallet.models import JournalTransaction
from wallet.selectors import balance_list, player_entry_list


class BalanceOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    available_minor = serializers.IntegerField()
    held_minor = serializers.IntegerField()
    total_minor = serializers.IntegerField()
    available = serializers.SerializerMethodField()
    held = serializers.SerializerMethodField()
    total = serializers.SerializerMethodField()

    def get_available(self, balance) -> str:
        return to_major(balance.available_minor, balance.currency)

    def get_held(self, balance) -> str:
        return to_major(balance.held_minor, balance.currency)

    def get_total(self, balance) -> str:
        return to_major(balance.total_minor, balance.currency)


class WalletBalanceListApi(TenantApi):
    @extend_schema(
        responses={
            200: wrapped_list("BalanceList", "balances", BalanceOutputSerializer)
        }
    )
    def get(self, request):
        balances = balance_list(player=request.user)
        return Response({"balances": BalanceOutputSerializer(balances, many=True).data})


class HistoryPagination(CursorPagination):
    ordering = "-id"
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100


class WalletHistoryApi(TenantApi):
    class FilterSerializer(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=JournalTransaction.Kind.choices, required=False
        )
        currency = serializers.CharField(min_length=3, max_length=3, required=False)
        created_after = serializers.DateTimeField(required=False)
        created_before = serializers.DateTimeField(required=False)

    @extend_schema_serializer(component_name="WalletHistoryEntry")
    class OutputSerializer(serializers.Serializer):
        id = serializers.IntegerField()
        transaction_id = serializers.IntegerField()
        kind = serializers.CharField(source="transaction.kind")
        reference = serializers.CharField(source="transaction.reference")
        bucket = serializers.SerializerMethodField()
        currency = serializers.CharField()
        amount_minor = serializers.IntegerField()
        amount = serializers.SerializerMethodField()
        balance_after_minor = serializers.IntegerField()
        created_at = serializers.DateTimeField()

        def get_bucket(self, entry) -> str:
            return "held" if entry.account.kind == "player_held" else "available"

        def get_amount(self, entry) -> str:
            return to_major(entry.amount_minor, entry.currency)

    @extend_schema(
        operation_id="v1_wallet_transactions_list",
        parameters=[
            FilterSerializer,
            OpenApiParameter("cursor", str),
            OpenApiParameter("page_size", int),
        ],
        responses={200: cursor_page("WalletHistoryPage", OutputSerializer)},
    )
    def get(self, request):
        filters = self.FilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        entries = player_entry_list(player=request.user, **filters.validated_data)
        paginator = HistoryPagination()
        page = paginator.paginate_queryset(entries, request, view=self)
        return paginator.get_paginated_response(
            self.OutputSerializer(page, many=True).data
        )
