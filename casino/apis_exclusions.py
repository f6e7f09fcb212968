"""Player API for time-outs, self-exclusions and the play gate (issue 13).

Players set their own; nothing here lifts or shortens one. ``PlayAccessApi`` is the
gate a game launcher asks before starting play: 403 ``PLAYER_EXCLUDED`` while an
exclusion binds the player."""

from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from casino.exclusions.selectors import player_exclusion_active_get
from casino.exclusions.services import (
    exclusion_details,
    player_play_access_check,
    player_self_exclusion_start,
    player_time_out_start,
)
from tenants.api import TenantApi


@extend_schema_serializer(component_name="PlayerExclusion")
class ExclusionOutputSerializer(serializers.Serializer):
    kind = serializers.CharField()
    started_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField(allow_null=True)
    permanent = serializers.BooleanField(source="is_permanent")


class PlayerTimeOutApi(TenantApi):
    @extend_schema_serializer(component_name="PlayerTimeOutInput")
    class InputSerializer(serializers.Serializer):
        hours = serializers.IntegerField(
            min_value=24, max_value=1008, help_text="24 hours to six weeks."
        )

    @extend_schema(request=InputSerializer, responses={201: ExclusionOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            exclusion = player_time_out_start(
                player=request.user, hours=data.validated_data["hours"]
            )
        return Response(
            ExclusionOutputSerializer(exclusion).data, status=status.HTTP_201_CREATED
        )


class PlayerSelfExclusionApi(TenantApi):
    @extend_schema_serializer(component_name="PlayerSelfExclusionInput")
    class InputSerializer(serializers.Serializer):
        months = serializers.IntegerField(
            min_value=6, max_value=60, required=False, help_text="At least 6."
        )
        permanent = serializers.BooleanField(required=False, default=False)

    @extend_schema(request=InputSerializer, responses={201: ExclusionOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            exclusion = player_self_exclusion_start(
                player=request.user,
                months=data.validated_data.get("months"),
                permanent=data.validated_data["permanent"],
            )
        return Response(
            ExclusionOutputSerializer(exclusion).data, status=status.HTTP_201_CREATED
        )


class PlayAccessApi(TenantApi):
    @extend_schema_serializer(component_name="PlayAccessOutput")
    class OutputSerializer(serializers.Serializer):
        play_allowed = serializers.BooleanField()

    @extend_schema(responses={200: OutputSerializer})
    def get(self, request):
        player_play_access_check(player=request.user)
        return Response({"play_allowed": True})


def exclusion_summary(player) -> dict | None:
    """The binding exclusion as the API shows it (None when free to play)."""
    exclusion = player_exclusion_active_get(player=player)
    return exclusion_details(exclusion) if exclusion is not None else None
