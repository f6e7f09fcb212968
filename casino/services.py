from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from casino.exceptions import InvalidCredentials, PlayerAlreadyExists, PlayerBlocked
from casino.exclusions.selectors import player_play_allowed
from casino.mail import mail_already_registered, mail_welcome
from casino.models import Player, PlayerToken
from common.actors import Actor
from common.errors import ValidationFailed
from tenants.models import Tenant


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def player_register(
    *,
    tenant: Tenant,
    email: str,
    password: str,
    display_name: str = "",
    country: str = "",
) -> Player:
    email = email.strip().lower()
    country = country.strip().upper()
    if country and not (len(country) == 2 and country.isascii() and country.isalpha()):
        raise ValidationFailed(
            details={"fields": {"country": ["an ISO 3166-1 alpha-2 code, e.g. DE"]}}
        )
    player = Player(
        tenant=tenant, email=email, display_name=display_name, country=country
    )
    try:
        validate_password(password, user=player)
    except ValidationError as exc:
        raise ValidationFailed(details={"fields": {"password": exc.messages}}) from exc
    player.set_password(password)
    with transaction.atomic(savepoint=False):
        if Player.objects.filter(tenant=tenant, email__iexact=email).exists():
            raise PlayerAlreadyExists(details={"email": email})
        try:
            with transaction.atomic():
                player.save()
        except IntegrityError as exc:  # a concurrent registration won
            raise PlayerAlreadyExists(details={"email": email}) from exc
        audit_record(
            actor=Actor.for_player(player),
            action="player.registered",
            tenant_id=tenant.pk,
            target=player,
            after={"email": email, "display_name": display_name},
        )
    return player


_dummy_hashes: dict[str, str] = {}


def _dummy_password_hash() -> str:
    """A hash made by the current default hasher (and its work factor), so checking a
    password for an unknown email costs what checking a known one does."""
    hasher = settings.PASSWORD_HASHERS[0]
    if hasher not in _dummy_hashes:
        _dummy_hashes[hasher] = make_password(secrets.token_urlsafe(16))
    return _dummy_hashes[hasher]


def player_signup(
    *,
    tenant: Tenant,
    email: str,
    password: str,
    display_name: str = "",
    country: str = "",
    login_url: str,
    reset_url: str,
) -> None:
    """Registration that does not tell whether the email already has an account:
    a new player gets a welcome mail, an existing one a "you already have an account"
    mail, and the caller answers the same in both cases. The password is validated
    and hashed either way, so both cost the same."""
    email = email.strip().lower()
    with transaction.atomic(savepoint=False):
        try:
            with transaction.atomic():  # a savepoint: a lost race must not poison
                player = player_register(
                    tenant=tenant,
                    email=email,
                    password=password,
                    display_name=display_name,
                    country=country,
                )
        except PlayerAlreadyExists:
            mail_already_registered(
                tenant=tenant, email=email, login_url=login_url, reset_url=reset_url
            )
            return
        mail_welcome(player=player, login_url=login_url)


def player_authenticate(*, tenant: Tenant, email: str, password: str) -> Player:
    """The player with this email and password. An unknown email does the same
    password hashing as a known one, so the answer's timing does not tell them apart."""
    player = Player.objects.filter(tenant=tenant, email__iexact=email.strip()).first()
    if player is None:
        check_password(password, _dummy_password_hash())
        raise InvalidCredentials()
    if not player.check_password(password):
        raise InvalidCredentials()
    if not player.is_active:
        raise PlayerBlocked()
    return player


def player_token_issue(*, player: Player) -> str:
    """Create a token and return its raw value (stored only as a hash). Expired
    tokens of the player are deleted, and the oldest live ones beyond
    ``PLAYER_MAX_LIVE_TOKENS`` (the new one included) are revoked. Locks the player
    row, so concurrent logins cannot overshoot the cap."""
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        Player.objects.select_for_update(no_key=True).filter(pk=player.pk).first()
        tokens = PlayerToken.objects.filter(player=player)
        tokens.filter(expires_at__lte=now).delete()
        keep = max(1, settings.PLAYER_MAX_LIVE_TOKENS) - 1
        surplus = list(
            tokens.order_by("-created_at", "-id").values_list("id", flat=True)[keep:]
        )
        if surplus:
            PlayerToken.objects.filter(pk__in=surplus).delete()
        PlayerToken.objects.create(
            player=player,
            key_hash=token_hash(raw),
            expires_at=now + timedelta(seconds=settings.PLAYER_TOKEN_TTL_SECONDS),
        )
    return raw


def player_logout(*, player: Player, token: PlayerToken | None) -> None:
    """Revoke the token the request came with (a portal session passes None)."""
    with transaction.atomic(savepoint=False):
        if token is not None:
            PlayerToken.objects.filter(pk=token.pk, player=player).delete()
        audit_record(
            actor=Actor.for_player(player),
            action="player.logged_out",
            tenant_id=player.tenant_id,
            target=player,
        )


def player_logout_everywhere(*, player: Player, reason: str = "") -> int:
    """Revoke every API token of the player; returns how many were live."""
    with transaction.atomic(savepoint=False):
        revoked, _ = PlayerToken.objects.filter(player=player).delete()
        audit_record(
            actor=Actor.for_player(player),
            action="player.logged_out_everywhere",
            tenant_id=player.tenant_id,
            target=player,
            after={"tokens_revoked": revoked},
            reason=reason,
        )
    return revoked


def player_login(*, tenant: Tenant, email: str, password: str) -> tuple[Player, str]:
    with transaction.atomic(savepoint=False):
        player = player_authenticate(tenant=tenant, email=email, password=password)
        raw = player_token_issue(player=player)
        player.last_login_at = timezone.now()
        player.save(update_fields=["last_login_at"])
        audit_record(
            actor=Actor.for_player(player),
            action="player.logged_in",
            tenant_id=tenant.pk,
            target=player,
            # Issue 13: an excluded player logs in to the cashier only, never to play.
            after={"play_allowed": player_play_allowed(player=player)},
        )
    return player, raw


def player_portal_login(*, tenant: Tenant, email: str, password: str) -> Player:
    """A portal (session) login: the same checks and audit as the API's, no token."""
    with transaction.atomic(savepoint=False):
        player = player_authenticate(tenant=tenant, email=email, password=password)
        audit_record(
            actor=Actor.for_player(player),
            action="player.logged_in",
            tenant_id=tenant.pk,
            target=player,
            after={"via": "portal"},
        )
    return player


def _player_field_set(
    *, actor: Actor, player: Player, field: str, value: str, action: str, reason: str
) -> Player:
    """Set one field of the player under its row lock, audited with before/after and
    the reason; setting the value it already has changes and records nothing."""
    with transaction.atomic(savepoint=False):
        locked = Player.objects.select_for_update(no_key=True).get(pk=player.pk)
        before = getattr(locked, field)
        if before == value:
            return locked
        setattr(locked, field, value)
        locked.save(update_fields=[field])
        audit_record(
            actor=actor,
            action=action,
            tenant_id=locked.tenant_id,
            target=locked,
            before={field: before},
            after={field: value},
            reason=reason,
        )
    return locked


def player_set_status(
    *, actor: Actor, player: Player, status: str, reason: str
) -> Player:
    """Block or unblock a player, audited with before/after and the reason; setting
    the status a player already has changes and records nothing."""
    if status not in Player.Status.values:
        raise ValidationFailed(
            details={"fields": {"status": [f"unknown value {status!r}"]}}
        )
    return _player_field_set(
        actor=actor,
        player=player,
        field="status",
        value=status,
        action="player.status_changed",
        reason=reason,
    )


def player_set_kyc_status(
    *, actor: Actor, player: Player, kyc_status: str, reason: str
) -> Player:
    """An operator's KYC decision, audited with before/after and the reason."""
    if kyc_status not in Player.KycStatus.values:
        raise ValidationFailed(
            details={"fields": {"kyc_status": [f"unknown value {kyc_status!r}"]}}
        )
    return _player_field_set(
        actor=actor,
        player=player,
        field="kyc_status",
        value=kyc_status,
        action="player.kyc_status_changed",
        reason=reason,
    )


# --- issue 13: the KYC-confirmed name the closed-loop payout matches ----------------


def player_set_verified_name(
    *, actor: Actor, player: Player, verified_name: str, reason: str
) -> Player:
    """An operator records the legal name KYC confirmed, audited with the reason.
    Bank payouts go only to accounts in this name (payments/withdrawals/closed_loop.py)."""
    verified_name = verified_name.strip()
    if len(verified_name) > 140:
        raise ValidationFailed(
            details={"fields": {"verified_name": ["at most 140 characters"]}}
        )
    return _player_field_set(
        actor=actor,
        player=player,
        field="verified_name",
        value=verified_name,
        action="player.verified_name_changed",
        reason=reason,
    )
