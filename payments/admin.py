"""Operator pages: PSP credentials (secrets write-only), the webhook inbox, deposits."""

from __future__ import annotations

import json
import secrets

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

from common import crypto
from common.actors import Actor
from common.currency import exponent_of, format_money, money_display, to_minor
from common.errors import ApplicationError
from payments.config.services import (
    payment_route_delete,
    payment_route_save,
    psp_config_check_credentials,
    psp_config_save,
)
from payments.deposits.refunds import refund_request, refundable_minor
from payments.models import Dispute, PaymentRoute, PSPConfig, Refund, WebhookInbox
from payments.providers.registry import provider_filter
from payments.webhooks.services import webhook_reprocess
from tenants.admin import CurrencyFilter, TenantScopedAdmin
from tenants.selectors import tenant_ids_for_operator
from wallet.models import Deposit


def _secret_field(help_text: str) -> forms.CharField:
    """A write-only secret input: rendered empty, never echoing the stored value."""
    return forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False),
        help_text=f"{help_text}",
    )


class PSPConfigForm(forms.ModelForm):
    """Secrets are write-only: the inputs are always rendered empty (never the
    stored value), and leaving one empty keeps the current secret."""

    secret_key = _secret_field(
        "Stripe secret key (sk_test_... / sk_live_... or a restricted rk_ key)."
    )
    webhook_secret = _secret_field("The endpoint's signing secret (whsec_...).")

    # Adyen (docs/payments/adyen.md): the API key goes in "secret key" above.
    hmac_key = _secret_field("Adyen: the standard webhook's HMAC key (hex).")
    webhook_password = _secret_field("Adyen: the webhook's basic-auth password.")
    balance_platform_hmac_key = _secret_field(
        "Adyen: the Balance Platform (transfer) webhook's HMAC key (hex)."
    )

    class Meta:
        model = PSPConfig
        fields = ["tenant", "provider", "mode", "enabled", "currencies"]
        fields += ["publishable_key"]
        fields += [
            "merchant_account",
            "live_url_prefix",
            "balance_account_id",
            "webhook_username",
        ]

    def clean(self):
        data = super().clean()
        if data.get("provider") == PSPConfig.Provider.ADYEN:
            return self._clean_adyen(data)
        mode = data.get("mode")
        key = data.get("secret_key") or ""
        if key and mode and not key.startswith((f"sk_{mode}_", f"rk_{mode}_")):
            self.add_error("secret_key", f"This is not a {mode}-mode Stripe key.")
        secret = data.get("webhook_secret") or ""
        if secret and not secret.startswith("whsec_"):
            self.add_error("webhook_secret", "Stripe signing secrets start whsec_.")
        return data

    def _clean_adyen(self, data):
        for name in ("hmac_key", "balance_platform_hmac_key"):
            value = data.get(name) or ""
            if value and not _is_hex_key(value):
                self.add_error(name, "An Adyen HMAC key is a hexadecimal string.")
        if not data.get("merchant_account"):
            self.add_error("merchant_account", "Adyen needs the merchant account.")
        if data.get("mode") == PSPConfig.Mode.LIVE and not data.get("live_url_prefix"):
            self.add_error("live_url_prefix", "Adyen live mode needs the URL prefix.")
        return data


def _is_hex_key(value: str) -> bool:
    try:
        return len(bytes.fromhex(value)) > 0
    except ValueError:
        return False


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
        "hmac_key_masked",
        "webhook_password_masked",
        "balance_platform_hmac_key_masked",
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

    @admin.display(description="Adyen HMAC key")
    def hmac_key_masked(self, obj):
        return crypto.mask(obj.hmac_key()) if obj.pk else ""

    @admin.display(description="Adyen webhook password")
    def webhook_password_masked(self, obj):
        return crypto.mask(obj.webhook_password()) if obj.pk else ""

    @admin.display(description="Adyen Balance Platform HMAC key")
    def balance_platform_hmac_key_masked(self, obj):
        return crypto.mask(obj.balance_platform_hmac_key()) if obj.pk else ""

    @admin.display(description="webhook URL (give this to the PSP)")
    def webhook_url(self, obj):
        if not obj.pk:
            return "shown after saving"
        try:  # a provider without webhooks (manual) has no route
            return reverse(f"webhook-{obj.provider}", args=[obj.endpoint_id])
        except NoReverseMatch:
            return "-"

    def save_model(self, request, obj, form, change):
        psp_config_save(
            actor=Actor.for_user(request.user),
            config=obj,
            secret_key=form.cleaned_data.get("secret_key", ""),
            webhook_secret=form.cleaned_data.get("webhook_secret", ""),
            hmac_key=form.cleaned_data.get("hmac_key", ""),
            webhook_password=form.cleaned_data.get("webhook_password", ""),
            balance_platform_hmac_key=form.cleaned_data.get(
                "balance_platform_hmac_key", ""
            ),
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
    list_filter = ["status", provider_filter()]
    # event_type is searched, not filtered: its values are open-ended per PSP.
    search_fields = ["event_id", "=event_type", "=deposit_id"]
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
        "retry_at",
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

    @admin.action(
        description="Reprocess (verified deliveries that failed or were dead-lettered)"
    )
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
        "amount",
        "state",
        "needs_review",
    ]
    list_filter = ["state", "needs_review", provider_filter(), CurrencyFilter]
    search_fields = ["=id", "provider_reference", "payment_reference"]
    raw_id_fields = ["player", "credit_transaction"]
    # Shown below in major units (common.currency.format_money).
    exclude = ["amount_minor", "refunded_minor", "charged_back_minor"]
    readonly_fields = ["amount", "refunded", "charged_back"]
    amount = money_display()
    refunded = money_display("refunded_minor", description="Refunded")
    charged_back = money_display("charged_back_minor", description="Charged back")


# --- Routing, refunds, disputes (docs/payments/adyen.md) ---------------------------


class PaymentRouteForm(forms.ModelForm):
    class Meta:
        model = PaymentRoute
        fields = ["tenant", "currency", "deposit_provider", "payout_provider"]

    def clean_currency(self):
        currency = (self.cleaned_data.get("currency") or "").upper()
        if currency:
            try:
                exponent_of(currency)
            except ApplicationError as error:
                raise forms.ValidationError(error.message) from None
        return currency

    def clean(self):
        data = super().clean()
        if data.get("deposit_provider") == PSPConfig.Provider.MANUAL:
            self.add_error("deposit_provider", "Deposits need a PSP (Stripe or Adyen).")
        if data.get("payout_provider") == PSPConfig.Provider.STRIPE:
            self.add_error("payout_provider", "Stripe payouts are not supported.")
        tenant = data.get("tenant")
        for field in ("deposit_provider", "payout_provider"):
            provider = data.get(field)
            if tenant is None or provider in (None, PSPConfig.Provider.MANUAL):
                continue
            configured = PSPConfig.objects.filter(
                tenant=tenant, provider=provider, enabled=True
            ).exists()
            if not configured and field not in self.errors:
                # Routing to a PSP the brand has no credentials for would refuse
                # every deposit (503) or fail every payout.
                self.add_error(
                    field,
                    f"{tenant} has no enabled {provider} configuration: add one "
                    "under PSP configurations first.",
                )
        return data


@admin.register(PaymentRoute)
class PaymentRouteAdmin(TenantScopedAdmin):
    """Which PSP serves a brand's deposits and pays its withdrawals, per currency."""

    form = PaymentRouteForm
    operator_can_add = True
    operator_can_change = True
    operator_can_delete = True
    list_display = [
        "tenant",
        "currency_or_default",
        "deposit_provider",
        "payout_provider",
    ]
    list_filter = [
        provider_filter("deposit_provider", "deposit provider"),
        provider_filter("payout_provider", "payout provider"),
    ]

    @admin.display(description="currency")
    def currency_or_default(self, obj):
        return obj.currency or "(every other currency)"

    def save_model(self, request, obj, form, change):
        payment_route_save(
            actor=Actor.for_user(request.user), route=obj, created=not change
        )

    def delete_model(self, request, obj):
        payment_route_delete(actor=Actor.for_user(request.user), route=obj)


class RefundForm(forms.ModelForm):
    """An operator's refund: amount in major units (``12.50``), at most what is left
    to refund. The service re-checks under the deposit's lock."""

    amount = forms.DecimalField(max_digits=18, decimal_places=3, min_value=0)
    # One key per form shown: submitting the same form twice refunds once.
    request_key = forms.CharField(
        widget=forms.HiddenInput, max_length=128, initial=secrets.token_urlsafe
    )

    class Meta:
        model = Refund
        fields = ["deposit", "reason"]

    def clean(self):
        data = super().clean()
        deposit = data.get("deposit")
        if deposit is None or data.get("amount") is None:
            return data
        if Refund.objects.filter(
            tenant_id=deposit.tenant_id, request_key=data.get("request_key") or "-"
        ).exists():
            # A second submit of the same form: the service returns the first refund.
            data["amount_minor"] = to_minor(data["amount"], deposit.currency)
            return data
        try:
            data["amount_minor"] = to_minor(data["amount"], deposit.currency)
        except ApplicationError as error:
            self.add_error("amount", error.message)
            return data
        if deposit.state != Deposit.State.COMPLETED:
            self.add_error("deposit", "Only a completed deposit can be refunded.")
            return data
        left = refundable_minor(deposit=deposit)
        if not 0 < data["amount_minor"] <= left:
            self.add_error(
                "amount",
                f"At most {format_money(left, deposit.currency)} can still be refunded.",
            )
        if not (data.get("reason") or "").strip():
            self.add_error("reason", "Say why the deposit is refunded.")
        return data


@admin.register(Refund)
class RefundAdmin(TenantScopedAdmin):
    """Operators ask for refunds here; they stay pending until the PSP confirms."""

    form = RefundForm
    operator_can_add = True
    list_display = [
        "id",
        "created_at",
        "tenant",
        "deposit",
        "amount",
        "state",
        "provider_reference",
    ]
    list_filter = ["state", provider_filter(), CurrencyFilter]
    search_fields = ["=deposit__id", "provider_reference"]
    raw_id_fields = ["deposit"]
    amount = money_display()

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["deposit", "amount", "reason", "request_key"]
        return [
            "tenant",
            "deposit",
            "provider",
            "amount",
            "state",
            "reason",
            "provider_reference",
            "failure_reason",
            "requested_by",
            "created_at",
            "updated_at",
        ]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.get_fields(request, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "deposit":
            tenant_ids = tenant_ids_for_operator(user=request.user)
            deposits = Deposit.objects.filter(state=Deposit.State.COMPLETED)
            if tenant_ids is not None:
                deposits = deposits.filter(tenant_id__in=tenant_ids)
            kwargs["queryset"] = deposits
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request, obj, form, change):
        deposit = form.cleaned_data["deposit"]
        refund = refund_request(
            deposit_id=deposit.pk,
            tenant_id=deposit.tenant_id,
            amount_minor=form.cleaned_data["amount_minor"],
            reason=form.cleaned_data["reason"],
            actor=Actor.for_user(request.user),
            request_key=form.cleaned_data["request_key"],
        )
        obj.pk = refund.pk


@admin.register(Dispute)
class DisputeAdmin(TenantScopedAdmin):
    read_only = True
    list_display = [
        "id",
        "opened_at",
        "tenant",
        "deposit",
        "stage",
        "amount",
        "updated_at",
    ]
    list_filter = ["stage", provider_filter()]
    search_fields = ["=deposit__id", "payment_reference"]
    raw_id_fields = ["deposit"]
    exclude = ["amount_minor"]  # shown as "Amount", in major units
    readonly_fields = ["amount"]
    amount = money_display()
