"""Every operator login, failure, logout, lockout, unlock and second-factor device
change becomes an audit event. These come from Django's auth signals, django-axes
and django-otp's models, so they are caught whichever door caused them (admin,
shell, management command). Connected in ``CasinoConfig.ready()``."""

from __future__ import annotations

from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import (
    user_logged_in,
    user_logged_out,
    user_login_failed,
)
from django.db.models.signals import post_delete, post_save
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import audit_record
from common.actors import Actor


def _actor_for_username(username: str) -> Actor:
    user = get_user_model().objects.filter(username=username).first()
    if user is not None:
        return Actor.for_user(user)
    return Actor(type=Actor.USER, label=(username or "?")[:200])


def on_logged_in(sender, request, user, **kwargs) -> None:
    if not user.is_staff:
        return
    device = getattr(user, "otp_device", None)
    audit_record(
        actor=Actor.for_user(user),
        action="operator.logged_in",
        tenant_id=None,
        target=user,
        after={"second_factor": type(device).__name__ if device else None},
    )


def on_login_failed(sender, credentials, request=None, **kwargs) -> None:
    # Django has already masked the password in ``credentials``; only the
    # username is kept.
    username = str(credentials.get("username", ""))[:150]
    audit_record(
        actor=_actor_for_username(username),
        action="operator.login_failed",
        tenant_id=None,
        target_type="auth.User",
        target_id=username[:64],
        after={"reason": kwargs.get("reason", "password or second factor")},
    )


def on_logged_out(sender, request, user, **kwargs) -> None:
    if user is None or not user.is_staff:
        return
    audit_record(
        actor=Actor.for_user(user),
        action="operator.logged_out",
        tenant_id=None,
        target=user,
    )


def on_locked_out(sender, request, username, ip_address, **kwargs) -> None:
    audit_record(
        actor=_actor_for_username(username or ""),
        action="operator.locked_out",
        tenant_id=None,
        target_type="auth.User",
        target_id=(username or "")[:64],
        after={"username": username, "ip_address": ip_address},
    )


def on_lockout_record_deleted(sender, instance, **kwargs) -> None:
    """Deleting axes' attempt record (admin "delete", ``axes_reset*`` commands, a
    successful login's reset) unlocks; recorded, with the request that did it."""
    audit_record(
        actor=Actor.system("axes"),
        action="operator.login_attempts_reset",
        tenant_id=None,
        target_type="auth.User",
        target_id=(instance.username or "")[:64],
        after={
            "username": instance.username,
            "ip_address": instance.ip_address,
            "failures": instance.failures_since_start,
        },
    )


def on_device_saved(sender, instance, created, **kwargs) -> None:
    if not created:
        return  # verification bumps counters on every use: not a change
    audit_record(
        actor=Actor.for_user(instance.user),
        action="operator.2fa_device_added",
        tenant_id=None,
        target=instance.user,
        after={"device": sender.__name__, "confirmed": instance.confirmed},
    )


def on_device_deleted(sender, instance, **kwargs) -> None:
    audit_record(
        actor=Actor.for_user(instance.user),
        action="operator.2fa_device_removed",
        tenant_id=None,
        target=instance.user,
        before={"device": sender.__name__, "confirmed": instance.confirmed},
    )


def connect() -> None:
    uid = "casino.operator_audit"
    user_logged_in.connect(on_logged_in, dispatch_uid=f"{uid}.in")
    user_login_failed.connect(on_login_failed, dispatch_uid=f"{uid}.failed")
    user_logged_out.connect(on_logged_out, dispatch_uid=f"{uid}.out")
    user_locked_out.connect(on_locked_out, dispatch_uid=f"{uid}.locked")
    post_delete.connect(
        on_lockout_record_deleted, sender=AccessAttempt, dispatch_uid=f"{uid}.reset"
    )
    for model in (TOTPDevice, StaticDevice):
        post_save.connect(
            on_device_saved, sender=model, dispatch_uid=f"{uid}.saved.{model.__name__}"
        )
        post_delete.connect(
            on_device_deleted,
            sender=model,
            dispatch_uid=f"{uid}.deleted.{model.__name__}",
        )
