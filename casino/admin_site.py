"""The operators' admin site: Django's, plus a second factor and lookup guards.

- Login asks for a one-time code (authenticator app or a backup code) from every
  staff user who has a confirmed device, and, when ``OPERATOR_2FA_REQUIRED`` is on,
  lets one without a device in only as far as the enrolment page. A wrong code counts
  as a failed login for django-axes, so the lockout covers codes too.
- ``/admin/2fa/`` enrols an authenticator (QR code rendered inline as SVG; the
  otpauth URI as text too) and issues backup codes.
- Every registered ``ModelAdmin`` refuses changelist lookups that touch a secret
  field (``password``, anything encrypted, secret, token, HMAC key or OTP key), and
  such a field is never searchable or sortable. See ``casino.admin_guard``.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django_otp import login as otp_login
from django_otp import match_token
from django_otp.plugins.otp_totp.models import TOTPDevice

from casino.admin_guard import guard_admin_class
from casino.operator_2fa import (
    backup_codes_regenerate,
    operator_2fa_required,
    operator_has_device,
    otpauth_qr_svg,
    totp_enrolment_confirm,
    totp_enrolment_start,
)
from common.errors import ApplicationError

# One message for a wrong password and a wrong code, so a password guess that is
# right is not told apart from one that is wrong.
INVALID_LOGIN = (
    "Please enter the correct username, password and (if you have set up two-factor "
    "authentication) one-time code for a staff account."
)


class OperatorLoginForm(AdminAuthenticationForm):
    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "invalid_login": INVALID_LOGIN,
    }
    otp_token = forms.CharField(
        label="One-time code",
        required=False,
        max_length=32,
        help_text="From your authenticator app, or one of your backup codes.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code"}),
    )

    def clean(self):
        cleaned = super().clean()  # password (and axes' lockout) first
        user = self.get_user()
        if user is None or not operator_2fa_required(user):
            return cleaned
        if not operator_has_device(user):
            return cleaned  # required but not enrolled: the site allows enrolment only
        token = (cleaned.get("otp_token") or "").strip().replace(" ", "")
        device = match_token(user, token) if token and token.isascii() else None
        if device is None:
            user_login_failed.send(
                sender=__name__,
                credentials={"username": user.get_username()},
                request=self.request,
                reason="second factor",
            )
            raise ValidationError(INVALID_LOGIN, code="invalid_login")
        user.otp_device = device  # django-otp marks the session verified on login
        return cleaned


def _is_verified(request) -> bool:
    user = request.user
    is_verified = getattr(user, "is_verified", None)
    return bool(is_verified and is_verified())


class OperatorAdminSite(admin.AdminSite):
    login_form = OperatorLoginForm
    login_template = "admin/operator_login.html"

    def register(self, model_or_iterable, admin_class=None, **options):
        super().register(
            model_or_iterable,
            guard_admin_class(admin_class or admin.ModelAdmin),
            **options,
        )

    def has_permission(self, request):
        """With 2FA required, only a session verified by a second factor. Without,
        any staff session: the login form still demands the code of everybody who
        has a device, and this check then costs no query per page."""
        if not super().has_permission(request):
            return False
        return _is_verified(request) or not settings.OPERATOR_2FA_REQUIRED

    def get_urls(self):
        return [
            path("2fa/", never_cache(self.enrolment_view), name="operator_2fa"),
            *super().get_urls(),
        ]

    def admin_view(self, view, cacheable=False):
        wrapped = super().admin_view(view, cacheable)

        def inner(request, *args, **kwargs):
            user = request.user
            if (
                user.is_active
                and user.is_staff
                and request.path != reverse("admin:logout", current_app=self.name)
                and not self.has_permission(request)
                and not operator_has_device(user)
            ):
                # Signed in with the password, 2FA required, nothing enrolled yet.
                return redirect("admin:operator_2fa")
            return wrapped(request, *args, **kwargs)

        inner.__wrapped__ = wrapped
        return inner

    def enrolment_view(self, request):
        user = request.user
        if not (user.is_active and user.is_staff):
            return redirect(f"{reverse('admin:login')}?next={request.path}")
        has_device = operator_has_device(user)
        if has_device and not _is_verified(request):
            return redirect(f"{reverse('admin:login')}?next={request.path}")
        context = {**self.each_context(request), "title": "Two-factor authentication"}
        if request.method == "POST" and request.POST.get("action") == "backup-codes":
            if not has_device:
                return redirect("admin:operator_2fa")
            with transaction.atomic(durable=True):
                codes = backup_codes_regenerate(user=user)
            return TemplateResponse(
                request, "admin/operator_2fa.html", {**context, "codes": codes}
            )
        with transaction.atomic(durable=True):
            device = totp_enrolment_start(user=user)
        error = None
        if request.method == "POST":
            try:
                with transaction.atomic(durable=True):
                    codes = totp_enrolment_confirm(
                        user=user, token=request.POST.get("otp_token", "")
                    )
            except ApplicationError as exc:
                error = exc.message
            else:
                otp_login(request, TOTPDevice.objects.get(user=user, confirmed=True))
                messages.success(request, "Two-factor authentication is on.")
                return TemplateResponse(
                    request, "admin/operator_2fa.html", {**context, "codes": codes}
                )
        return TemplateResponse(
            request,
            "admin/operator_2fa.html",
            {
                **context,
                "has_device": has_device,
                "required": operator_2fa_required(user),
                "otpauth_uri": device.config_url,
                "qr_svg": otpauth_qr_svg(device),
                "error": error,
            },
        )
