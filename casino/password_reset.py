"""Player password reset by an emailed single-use, expiring link.

The token is Django's ``PasswordResetTokenGenerator`` over the player's id, brand,
email and *password hash*: setting a new password changes the hash, so a used link
stops working; ``PASSWORD_RESET_TIMEOUT`` ends it otherwise. Nothing is stored.
A request for an unknown email answers exactly as for a known one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from audit.services import audit_record
from casino.exceptions import PasswordResetTokenInvalid
from casino.mail import mail_password_reset
from casino.models import Player
from casino.services import player_logout_everywhere
from common.actors import Actor
from common.errors import ValidationFailed
from tenants.models import Tenant


class PlayerPasswordResetTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "casino.password_reset.PlayerPasswordResetTokenGenerator"

    def _make_hash_value(self, player: Player, timestamp: int) -> str:
        return f"{player.pk}:{player.tenant_id}:{player.email}:{player.password}:{timestamp}"


reset_tokens = PlayerPasswordResetTokenGenerator()


def player_password_reset_request(
    *, tenant: Tenant, email: str, link_for: Callable[[str, str], str]
) -> None:
    """Mail a reset link to the player with this email on this brand, if there is an
    active one. ``link_for(uid, token)`` builds the URL the player opens."""
    player = (
        Player.objects.filter(tenant=tenant, email__iexact=email.strip())
        .select_related("tenant")
        .first()
    )
    if player is None or not player.is_active:
        return
    uid = urlsafe_base64_encode(force_bytes(player.pk))
    token = reset_tokens.make_token(player)
    with transaction.atomic(savepoint=False):
        audit_record(
            actor=Actor.for_player(player),
            action="player.password_reset_requested",
            tenant_id=tenant.pk,
            target=player,
        )
        mail_password_reset(player=player, reset_link=link_for(uid, token))


def player_password_reset_check(*, tenant: Tenant, uid: str, token: str) -> Player:
    """The player a link is for, or ``PasswordResetTokenInvalid``."""
    try:
        player_id = int(force_str(urlsafe_base64_decode(uid)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        raise PasswordResetTokenInvalid() from None
    player = Player.objects.filter(pk=player_id, tenant=tenant).first()
    if player is None or not player.is_active:
        raise PasswordResetTokenInvalid()
    if not reset_tokens.check_token(player, token):
        raise PasswordResetTokenInvalid()
    return player


def player_password_reset_confirm(
    *, tenant: Tenant, uid: str, token: str, new_password: str
) -> Player:
    """Set the new password and sign the player out everywhere."""
    with transaction.atomic(savepoint=False):
        player = player_password_reset_check(tenant=tenant, uid=uid, token=token)
        player = Player.objects.select_for_update().get(pk=player.pk)
        # Checked again under the lock: two uses of one link, one wins.
        if not reset_tokens.check_token(player, token):
            raise PasswordResetTokenInvalid()
        try:
            validate_password(new_password, user=player)
        except ValidationError as exc:
            raise ValidationFailed(
                details={"fields": {"new_password": exc.messages}}
            ) from exc
        player.set_password(new_password)
        player.save(update_fields=["password"])
        audit_record(
            actor=Actor.for_player(player),
            action="player.password_reset",
            tenant_id=tenant.pk,
            target=player,
        )
        player_logout_everywhere(player=player, reason="password reset")
    return player
