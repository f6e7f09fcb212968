"""Player token authentication bound to the tenant of the request."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, permissions

from casino.exceptions import PlayerBlocked
from casino.models import Player, PlayerToken
from casino.services import token_hash
from common.errors import AuthenticationRequired, NotFound


class PlayerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <token>`` (or ``Token <token>``).

    A valid token of another brand's player answers 404, the same as a missing
    resource, so a token never reveals or reaches data across brands."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header:
            return None
        try:
            scheme = header[0].lower().decode("ascii")
            raw = header[1].decode("ascii") if len(header) == 2 else ""
        except UnicodeDecodeError:
            raise AuthenticationRequired("Malformed Authorization header.") from None
        if scheme not in self.keywords:
            return None
        if len(header) != 2:
            raise AuthenticationRequired("Malformed Authorization header.")
        token = (
            PlayerToken.objects.select_related("player", "player__tenant")
            .filter(key_hash=token_hash(raw), expires_at__gt=timezone.now())
            .first()
        )
        if token is None:
            raise AuthenticationRequired("Invalid or expired token.")
        player: Player = token.player
        tenant = getattr(request, "tenant", None)
        if tenant is None or player.tenant_id != tenant.id:
            raise NotFound()
        if not player.is_active:
            raise PlayerBlocked()
        return player, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class IsPlayer(permissions.BasePermission):
    def has_permission(self, request, view):
        return isinstance(request.user, Player)


class PlayerTokenScheme(OpenApiAuthenticationExtension):
    """OpenAPI description of the token, so /api/docs/ offers "Authorize". Defined
    here so it is registered whenever the authentication class is loaded."""

    target_class = PlayerTokenAuthentication
    name = "playerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "The token from POST /api/v1/auth/login, valid only on "
            "the brand it was issued for.",
        }
