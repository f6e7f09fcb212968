"""Operator two-factor authentication on django-otp: a TOTP authenticator app,
with single-use static backup codes for when the phone is lost.

Enrolment: ``totp_enrolment_start`` creates an *unconfirmed* TOTP device and the
operator scans its otpauth URI; ``totp_enrolment_confirm`` checks a first code,
confirms the device, replaces any older TOTP device and issues fresh backup codes
(shown once). Every change is audited by ``casino.operator_audit`` (device saves
and deletions from any door, the admin included).
"""

from __future__ import annotations

import io
import secrets

from django.conf import settings
from django.db import transaction
from django_otp import devices_for_user
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp.qr import write_qrcode_image

from audit.services import audit_record
from common.actors import Actor
from common.errors import ValidationFailed

BACKUP_CODE_COUNT = 10
ENROLMENT_DEVICE_NAME = "authenticator (enrolling)"


def operator_2fa_required(user) -> bool:
    """Whether this staff user must pass a second factor: when the setting says so,
    and always once they have a confirmed device."""
    return bool(settings.OPERATOR_2FA_REQUIRED) or operator_has_device(user)


def operator_has_device(user) -> bool:
    return any(True for _ in devices_for_user(user, confirmed=True))


def totp_enrolment_start(*, user) -> TOTPDevice:
    """The user's pending (unconfirmed) TOTP device, created on first call."""
    with transaction.atomic(savepoint=False):
        device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            device = TOTPDevice.objects.create(
                user=user, name=ENROLMENT_DEVICE_NAME, confirmed=False
            )
    return device


def totp_enrolment_confirm(*, user, token: str) -> list[str]:
    """Confirm the pending device with a first code from the app; returns the new
    backup codes (their only showing)."""
    token = (token or "").strip().replace(" ", "")
    with transaction.atomic(savepoint=False):
        device = (
            TOTPDevice.objects.select_for_update()
            .filter(user=user, confirmed=False)
            .first()
        )
        if device is None or not token.isascii() or not device.verify_token(token):
            raise ValidationFailed(
                "That code is not right. Check the time on your phone and try again.",
                details={"fields": {"otp_token": ["invalid"]}},
            )
        for old in TOTPDevice.objects.filter(user=user, confirmed=True):
            old.delete()
        device.name = "authenticator"
        device.confirmed = True
        device.save()
        audit_record(
            actor=Actor.for_user(user),
            action="operator.2fa_enrolled",
            tenant_id=None,
            target=user,
            after={"device": "totp"},
        )
        return backup_codes_regenerate(user=user)


def backup_codes_regenerate(*, user) -> list[str]:
    """Replace the user's backup codes with ``BACKUP_CODE_COUNT`` new ones."""
    codes = [secrets.token_hex(5) for _ in range(BACKUP_CODE_COUNT)]
    with transaction.atomic(savepoint=False):
        for old in StaticDevice.objects.filter(user=user):
            old.delete()
        device = StaticDevice.objects.create(user=user, name="backup codes")
        StaticToken.objects.bulk_create(
            [StaticToken(device=device, token=code) for code in codes]
        )
        audit_record(
            actor=Actor.for_user(user),
            action="operator.2fa_backup_codes_issued",
            tenant_id=None,
            target=user,
            after={"count": len(codes)},
        )
    return codes


def otpauth_qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth URI as an inline SVG QR code (no external service)."""
    out = io.BytesIO()
    write_qrcode_image(device.config_url, out)
    svg = out.getvalue().decode()
    return svg[svg.index("<svg") :]
