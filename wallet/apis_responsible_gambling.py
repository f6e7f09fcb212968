"""Player API for deposit limits and the responsible-gambling overview (issue 13).

Amounts are major-unit strings in and out (``"50.00"``) with the minor units beside
them, like every money field of the API."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.response import Response

from casino.exclusions.selectors import player_exclusion_active_get
from casino.exclusions.services import exclusion_details
from common.currency import to_major, to_minor
from tenants.api import TenantApi
from wallet.compliance.deposit_limits import (
    deposit_limit_usage_get,
    deposit_limit_usage_list,
    player_deposit_limit_confirm,
    player_deposit_limit_set,
)
from wallet.models import PlayerDepositLimit


def _money(amount_minor, currency):
    return None if amount_minor is None else to_major(amount_minor, currency)


def limit_output(usage) -> dict:
    limit = usage.limit
    return {
        "currency": limit.currency,
        "period": limit.period,
        "amount_minor": limit.amount_minor,
        "amount": _money(limit.amount_minor, limit.currency),
        "used_minor": usage.used_minor,
        "remaining_minor": usage.remaining_minor,
        "remaining": _money(usage.remaining_minor, limit.currency),
        "resets_at": usage.resets_at.isoformat(),
        "pending": None
        if not limit.has_pending_change
        else {
            "amount_minor": limit.pending_amount_minor,
            "amount": _money(limit.pending_amount_minor, limit.currency),
            "removal": limit.pending_removal,
            "requested_at": limit.pending_requested_at.isoformat(),
            "confirmable_from": limit.pending_available_at.isoformat(),
        },
    }


@extend_schema_serializer(component_name="DepositLimit")
class DepositLimitOutputSerializer(serializers.Serializer):
    currency = serializers.CharField()
    period = serializers.ChoiceField(choices=PlayerDepositLimit.Period.choices)
    amount_minor = serializers.IntegerField(allow_null=True)
    amount = serializers.CharField(allow_null=True)
    used_minor = serializers.IntegerField()
    remaining_minor = serializers.IntegerField(allow_null=True)
    remaining = serializers.CharField(allow_null=True)
    resets_at = serializers.DateTimeField()
    pending = serializers.DictField(allow_null=True)


def _one(player, currency, period) -> dict:
    return limit_output(
        deposit_limit_usage_get(player=player, currency=currency, period=period)
    )


class ResponsibleGamblingApi(TenantApi):
    """Everything the player set: the binding exclusion and the deposit limits."""

    @extend_schema_serializer(component_name="ResponsibleGamblingOutput")
    class OutputSerializer(serializers.Serializer):
        play_allowed = serializers.BooleanField()
        exclusion = serializers.DictField(allow_null=True)
        deposit_limits = DepositLimitOutputSerializer(many=True)

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        exclusion = player_exclusion_active_get(player=request.user)
        return Response(
            {
                "play_allowed": exclusion is None,
                "exclusion": exclusion_details(exclusion) if exclusion else None,
                "deposit_limits": [
                    limit_output(u)
                    for u in deposit_limit_usage_list(player=request.user)
                ],
            }
        )


class DepositLimitSetApi(TenantApi):
    @extend_schema_serializer(component_name="DepositLimitSetInput")
    class InputSerializer(serializers.Serializer):
        amount = serializers.DecimalField(
            max_digits=18,
            decimal_places=3,
            min_value=0,
            allow_null=True,
            help_text="Major units; null removes the limit (after cooling-off).",
        )

    @extend_schema(
        request=InputSerializer, responses={200: DepositLimitOutputSerializer}
    )
    def put(self, request, currency: str, period: str):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        amount = data.validated_data["amount"]
        amount_minor = None if amount is None else to_minor(amount, currency)
        with transaction.atomic(durable=True):
            player_deposit_limit_set(
                player=request.user,
                currency=currency,
                period=period,
                amount_minor=amount_minor,
            )
        return Response(_one(request.user, currency, period))


class DepositLimitConfirmApi(TenantApi):
    @extend_schema(request=None, responses={200: DepositLimitOutputSerializer})
    def post(self, request, currency: str, period: str):
        with transaction.atomic(durable=True):
            player_deposit_limit_confirm(
                player=request.user, currency=currency, period=period
            )
        return Response(_one(request.user, currency, period))
