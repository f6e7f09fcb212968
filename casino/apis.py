from django.db import transaction
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from casino.apis_exclusions import exclusion_summary
from casino.services import player_login, player_register
from common.ratelimit import RateLimitMixin
from tenants.api import TenantApi


class PlayerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    status = serializers.CharField()
    kyc_status = serializers.CharField()
    tenant = serializers.CharField(source="tenant.slug")
    created_at = serializers.DateTimeField()


class PlayerRegisterApi(RateLimitMixin, TenantApi):
    ratelimit_group = "register"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PlayerRegisterInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(min_length=8, max_length=128, write_only=True)
        display_name = serializers.CharField(max_length=100, required=False, default="")

    @extend_schema(request=InputSerializer, responses={201: PlayerOutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            player = player_register(tenant=request.tenant, **data.validated_data)
        return Response(
            PlayerOutputSerializer(player).data, status=status.HTTP_201_CREATED
        )


class PlayerLoginApi(RateLimitMixin, TenantApi):
    ratelimit_group = "login"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PlayerLoginInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        password = serializers.CharField(write_only=True)

    @extend_schema_serializer(component_name="PlayerLoginOutput")
    class OutputSerializer(serializers.Serializer):
        token = serializers.CharField()
        player = PlayerOutputSerializer()
        # Issue 13: an excluded player logs in to the cashier, not to play.
        play_allowed = serializers.BooleanField()
        exclusion = serializers.DictField(allow_null=True)

    @extend_schema(request=InputSerializer, responses={200: OutputSerializer})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            player, token = player_login(tenant=request.tenant, **data.validated_data)
        exclusion = exclusion_summary(player)
        return Response(
            self.OutputSerializer(
                {
                    "token": token,
                    "player": player,
                    "play_allowed": exclusion is None,
                    "exclusion": exclusion,
                }
            ).data
        )


class PlayerMeApi(TenantApi):
    @extend_schema(responses={200: PlayerOutputSerializer})
    def get(self, request):
        return Response(PlayerOutputSerializer(request.user).data)
