"""Operator pages: PSP credentials (secrets write-only), the webhook inbox, deposits."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html

from common import crypto
from common.actors import Actor
from common.errors import ApplicationError
from payments.models import PSPConfig, WebhookInbox
from payments.services import (
    psp_config_check_credentials,
    psp_config_save,
    webhook_reprocess,
)
from tenants.admin import TenantScopedAdmin
from wallet.models import Deposit


class PSPConfigForm(forms.ModelForm):
    """Secrets are write-only: the inputs are always rendered empty (never the
    stored value), and leaving one empty keeps the current secret."""

    secret_key = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stripe secret key (sk_test_... / sk_live_... or a restricted "
        "rk_ key). Leave empty to keep the current one.",
    )
    webhook_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text="The endpoint's signing secret (whsec_...). Leave empty to keep "
        "the current one.",
    )

    class Meta:
        model = PSPConfig
        fields = ["tenant", "provider", "mode", "enabled", "currencies"]
        fields += ["publishable_key"]

    def clean(self):
        data = super().clean()
        mode = data.get("mode")
        key = data.get("secret_key") or ""
        if key and mode and not key.startswith((f"sk_{mode}_", f"rk_{mode}_")):
            self.add_error("secret_key", f"This is not a {mode}-mode Stripe key.")
        secret = data.get("webhook_secret") or ""
        if secret and not secret.startswith("whsec_"):
            self.add_error("webhook_secret", "Stripe signing secrets start whsec_.")
        return data


@admin.register(PSPConfig)
class PSPConfigAdmin(TenantScopedAdmin):
    form = PSPConfigForm
    operator_can_add = True
    operator_can_change = True
    list_display = ["tenant", "provider", "mode", "enabled", "secret_key_masked"]
    list_filter = ["provider", "mode", "enabled"]
    readonly_fields = [
        "secret_key_masked",
        "webhook_secret_masked",
        "webhook_url",
        "created_at",
        "updated_at",
    ]
    actions = ["check_credentials"]

    @admin.display(description="secret key")
    def secret_key_masked(self, obj):
        return crypto.mask(obj.secret_key()) if obj.pk else ""

    @admin.display(description="webhook signing secret")
    def webhook_secret_masked(self, obj):
        return crypto.mask(obj.webhook_secret()) if obj.pk else ""

    @admin.display(description="webhook URL (give this to Stripe)")
    def webhook_url(self, obj):
        if not obj.pk:
            return "shown after saving"
        return reverse("webhook-stripe", args=[obj.endpoint_id])

    def save_model(self, request, obj, form, change):
        psp_config_save(
            actor=Actor.for_user(request.user),
            config=obj,
            secret_key=form.cleaned_data.get("secret_key", ""),
            webhook_secret=form.cleaned_data.get("webhook_secret", ""),
            created=not change,
        )

    @admin.action(description="Check credentials with the PSP")
    def check_credentials(self, request, queryset):
        for config in queryset:
            try:
                with transaction.atomic(durable=True):
                    psp_config_check_credentials(
                        config=config, actor=Actor.for_user(request.user)
                    )
            except ApplicationError as error:
                self.message_user(
                    request,
                    f"{config}: {error.code}: {error.message}",
                    level=messages.ERROR,
                )
            else:
                self.message_user(request, f"{config}: credentials accepted.")


@admin.register(WebhookInbox)
class WebhookInboxAdmin(TenantScopedAdmin):
    list_display = [
        "id",
        "received_at",
        "tenant",
        "provider",
        "event_type",
        "event_id",
        "status",
        "deposit_id",
    ]
    list_filter = ["status", "provider", "event_type"]
    search_fields = ["event_id", "=deposit_id"]
    actions = ["reprocess"]
    fields = [
        "tenant",
        "config",
        "provider",
        "event_id",
        "event_type",
        "status",
        "error",
        "deposit_id",
        "duplicate_of",
        "attempts",
        "received_at",
        "processed_at",
        "headers",
        "payload",
    ]
    readonly_fields = fields

    @admin.display(description="payload")
    def payload(self, obj):
        try:
            text = json.dumps(json.loads(obj.body), indent=2, sort_keys=True)
        except ValueError:
            text = obj.body
        return format_html("<pre>{}</pre>", text)

    def has_change_permission(self, request, obj=None):
        return False  # read-only; the reprocess action is the one way to act

    @admin.action(description="Reprocess (verified deliveries that failed)")
    def reprocess(self, request, queryset):
        for inbox in queryset:
            try:
                result = webhook_reprocess(
                    inbox=inbox, actor=Actor.for_user(request.user)
                )
            except ApplicationError as error:
                self.report_error(request, error)
            else:
                self.message_user(request, f"Delivery {inbox.pk}: {result.status}.")


@admin.register(Deposit)
class DepositAdmin(TenantScopedAdmin):
    read_only = True
    list_display = [
        "id",
        "created_at",
        "tenant",
        "player",
        "amount_minor",
        "currency",
        "state",
        "needs_review",
    ]
    list_filter = ["state", "needs_review", "provider", "currency"]
    search_fields = ["=id", "provider_reference", "payment_reference"]
    raw_id_fields = ["player", "credit_transaction"]
