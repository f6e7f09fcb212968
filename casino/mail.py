"""Mails to players, through Django's email framework (the console backend in
development, ``EMAIL_URL`` in production). Sent after the commit of the business
action that caused them, so a rolled-back action mails nobody."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from casino.models import Player
from tenants.models import Tenant


def _send_after_commit(*, to: str, subject: str, body: str) -> None:
    transaction.on_commit(
        lambda: send_mail(
            subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False
        )
    )


def mail_welcome(*, player: Player, login_url: str) -> None:
    _send_after_commit(
        to=player.email,
        subject=f"Welcome to {player.tenant.name}",
        body=(
            f"Your {player.tenant.name} account for {player.email} is ready.\n\n"
            f"Log in here: {login_url}\n"
        ),
    )


def mail_already_registered(
    *, tenant: Tenant, email: str, login_url: str, reset_url: str
) -> None:
    """Someone tried to register an email that already has an account. The answer
    they saw was the same as for a new account; only the mailbox owner learns this."""
    _send_after_commit(
        to=email,
        subject=f"You already have a {tenant.name} account",
        body=(
            f"Someone (hopefully you) tried to register {email} at {tenant.name}, "
            "but this address already has an account, so nothing was changed.\n\n"
            f"Log in here: {login_url}\n"
            f"Forgot your password? Reset it here: {reset_url}\n\n"
            "If this was not you, you can ignore this mail.\n"
        ),
    )


def mail_password_reset(*, player: Player, reset_link: str) -> None:
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    _send_after_commit(
        to=player.email,
        subject=f"Reset your {player.tenant.name} password",
        body=(
            f"Somebody asked to reset the password of {player.email} at "
            f"{player.tenant.name}.\n\n"
            f"Choose a new password here (the link works once, for {minutes} "
            f"minutes):\n{reset_link}\n\n"
            "If this was not you, ignore this mail: your password stays as it is.\n"
        ),
    )
