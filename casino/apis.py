from django.db import transaction
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from casino.apis_exclusions import exclusion_summary
from casino.exceptions import InvalidCredentials
from casino.password_reset import (
    player_password_reset_confirm,
    player_password_reset_request,
)
from casino.services import (
    player_login,
    player_logout,
    player_logout_everywhere,
    player_signup,
)
from common.ratelimit import (
    RateLimitMixin,
    account_ratelimit_check,
    account_ratelimit_count,
)
from common.text import reject_control_characters
from tenants.api import TenantApi


class PlayerOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    status = serializers.CharField()
    kyc_status = serializers.CharField()
    tenant = serializers.CharField(source="tenant.slug")
    created_at = serializers.DateTimeField()


def portal_url(request, name: str, *args) -> str:
    """An absolute link into the brand's portal (host-resolved brands need no
    ``?tenant=``; it is added so links also work on a shared demo host)."""
    return request.build_absolute_uri(
        f"{reverse(name, args=args)}?tenant={request.tenant.slug}"
    )


class PlayerRegisterApi(RateLimitMixin, TenantApi):
    ratelimit_group = "register"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PlayerRegisterInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)
        password = serializers.CharField(min_length=8, max_length=128, write_only=True)
        display_name = serializers.CharField(
            max_length=100,
            required=False,
            default="",
            validators=[reject_control_characters],
        )
        country = serializers.RegexField(
            r"^[A-Za-z]{2}$",
            required=False,
            default="",
            help_text="ISO 3166-1 alpha-2 country code, e.g. DE.",
        )

    @extend_schema_serializer(component_name="PlayerRegisterOutput")
    class OutputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        display_name = serializers.CharField()
        tenant = serializers.CharField()
        detail = serializers.CharField()

    @extend_schema(request=InputSerializer, responses={201: OutputSerializer})
    def post(self, request):
        """The same answer whether or not the email already has an account on this
        brand; the mailbox gets a welcome or an "already registered" mail."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            player_signup(
                tenant=request.tenant,
                login_url=portal_url(request, "portal:login"),
                reset_url=portal_url(request, "portal:password-reset"),
                **data.validated_data,
            )
        body = {
            "email": data.validated_data["email"].strip().lower(),
            "display_name": data.validated_data["display_name"],
            "tenant": request.tenant.slug,
            "detail": "Registered. Check your email, then log in.",
        }
        return Response(
            self.OutputSerializer(body).data, status=status.HTTP_201_CREATED
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
        """Limited per IP (``RATELIMIT_LOGIN``) and per account
        (``RATELIMIT_LOGIN_ACCOUNT`` failed logins, from any number of IPs)."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        account = f"{request.tenant.pk}:{data.validated_data['email']}"
        account_ratelimit_check(request, group="login_account", account=account)
        try:
            with transaction.atomic(durable=True):
                player, token = player_login(
                    tenant=request.tenant, **data.validated_data
                )
        except InvalidCredentials:
            account_ratelimit_count(request, group="login_account", account=account)
            raise
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


class PlayerLogoutApi(TenantApi):
    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        """Revoke the token this request came with."""
        with transaction.atomic(durable=True):
            player_logout(player=request.user, token=request.auth)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlayerLogoutAllApi(TenantApi):
    @extend_schema_serializer(component_name="PlayerLogoutAllOutput")
    class OutputSerializer(serializers.Serializer):
        tokens_revoked = serializers.IntegerField()

    @extend_schema(request=None, responses={200: OutputSerializer})
    def post(self, request):
        """Revoke every token of the player, the one in use included."""
        with transaction.atomic(durable=True):
            revoked = player_logout_everywhere(player=request.user)
        return Response(self.OutputSerializer({"tokens_revoked": revoked}).data)


class PasswordResetRequestApi(RateLimitMixin, TenantApi):
    ratelimit_group = "password_reset"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PasswordResetRequestInput")
    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField(max_length=254)

    @extend_schema(request=InputSerializer, responses={202: None})
    def post(self, request):
        """Mail a single-use reset link if the email has an account; the answer is
        202 either way."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            player_password_reset_request(
                tenant=request.tenant,
                email=data.validated_data["email"],
                link_for=lambda uid, token: portal_url(
                    request, "portal:password-reset-confirm", uid, token
                ),
            )
        return Response(status=status.HTTP_202_ACCEPTED)


class PasswordResetConfirmApi(RateLimitMixin, TenantApi):
    ratelimit_group = "password_reset"
    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema_serializer(component_name="PasswordResetConfirmInput")
    class InputSerializer(serializers.Serializer):
        uid = serializers.CharField(max_length=64)
        token = serializers.CharField(max_length=128)
        new_password = serializers.CharField(
            min_length=8, max_length=128, write_only=True
        )

    @extend_schema(request=InputSerializer, responses={204: None})
    def post(self, request):
        """Set a new password with the link's ``uid`` and ``token``; every token of
        the player is revoked."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        with transaction.atomic(durable=True):
            player_password_reset_confirm(tenant=request.tenant, **data.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PlayerMeApi(TenantApi):
    @extend_schema(responses={200: PlayerOutputSerializer})
    def get(self, request):
        return Response(PlayerOutputSerializer(request.user).data)
