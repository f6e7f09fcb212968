"""PSP configuration per brand and the inbox of PSP notifications."""

from __future__ import annotations

import secrets

from django.db import models
from django.db.models import Q

from common import crypto


def new_endpoint_id() -> str:
    return secrets.token_urlsafe(18)


class PSPConfig(models.Model):
    """One brand's credentials for one PSP. Secrets are stored encrypted
    (``*_encrypted``, common/crypto.py) and never leave this model in clear except to
    the provider that uses them. ``endpoint_id`` is the public, random part of the
    webhook URL: it selects the config (and so the signing secret) of a delivery."""

    class Provider(models.TextChoices):
        STRIPE = "stripe", "Stripe"
        ADYEN = "adyen", "Adyen"
        MANUAL = "manual", "Manual (bank transfer)"

    class Mode(models.TextChoices):
        TEST = "test", "Test"
        LIVE = "live", "Live"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="psp_configs"
    )
    provider = models.CharField(max_length=32, choices=Provider.choices)
    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.TEST)
    enabled = models.BooleanField(default=True)
    currencies = models.JSONField(
        default=list,
        blank=True,
        help_text="ISO codes this PSP takes for the brand; empty means all the "
        "brand's currencies.",
    )
    publishable_key = models.CharField(max_length=255, blank=True)
    secret_key_encrypted = models.TextField(blank=True, editable=False)
    webhook_secret_encrypted = models.TextField(blank=True, editable=False)
    endpoint_id = models.CharField(
        max_length=64, unique=True, default=new_endpoint_id, editable=False
    )
    # Adyen (docs/payments/adyen.md). The API key is ``secret_key`` above.
    merchant_account = models.CharField(
        max_length=100, blank=True, help_text="Adyen merchant account code."
    )
    live_url_prefix = models.CharField(
        max_length=100,
        blank=True,
        help_text="Adyen live URL prefix ([random]-[company]); required in live mode.",
    )
    balance_account_id = models.CharField(
        max_length=64,
        blank=True,
        help_text="Adyen balance account that pays withdrawals (Transfers API).",
    )
    webhook_username = models.CharField(
        max_length=150, blank=True, help_text="Adyen webhook basic-auth user name."
    )
    webhook_password_encrypted = models.TextField(blank=True, editable=False)
    hmac_key_encrypted = models.TextField(blank=True, editable=False)
    balance_platform_hmac_key_encrypted = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "PSP configuration"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "provider"], name="pspconfig_one_per_provider"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} ({self.mode}) for {self.tenant}"

    # Secrets: write through the setters, read through the getters. Neither is a
    # field, so forms, model_snapshot() and the audit trail never see clear text.
    def set_secret_key(self, value: str) -> None:
        self.secret_key_encrypted = crypto.encrypt_str(value) if value else ""

    def set_webhook_secret(self, value: str) -> None:
        self.webhook_secret_encrypted = crypto.encrypt_str(value) if value else ""

    def secret_key(self) -> str:
        return (
            crypto.decrypt_str(self.secret_key_encrypted)
            if self.secret_key_encrypted
            else ""
        )

    def webhook_secret(self) -> str:
        return (
            crypto.decrypt_str(self.webhook_secret_encrypted)
            if self.webhook_secret_encrypted
            else ""
        )

    def takes_currency(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    # Adyen secrets, same rules as the Stripe ones above.
    def _decrypted(self, ciphertext: str) -> str:
        return crypto.decrypt_str(ciphertext) if ciphertext else ""

    def set_hmac_key(self, value: str) -> None:
        self.hmac_key_encrypted = crypto.encrypt_str(value) if value else ""

    def set_webhook_password(self, value: str) -> None:
        self.webhook_password_encrypted = crypto.encrypt_str(value) if value else ""

    def set_balance_platform_hmac_key(self, value: str) -> None:
        self.balance_platform_hmac_key_encrypted = (
            crypto.encrypt_str(value) if value else ""
        )

    def hmac_key(self) -> str:
        return self._decrypted(self.hmac_key_encrypted)

    def webhook_password(self) -> str:
        return self._decrypted(self.webhook_password_encrypted)

    def balance_platform_hmac_key(self) -> str:
        return self._decrypted(self.balance_platform_hmac_key_encrypted)

    def as_adyen_config(self):
        """The Adyen adapter's view of this config, secrets decrypted. Base URLs come
        from settings so tests and the simulator can point them at a local peer."""
        from django.conf import settings

        from payments.providers.adyen.config import AdyenConfig

        return AdyenConfig(
            merchant_account=self.merchant_account,
            api_key=self.secret_key(),
            hmac_key=self.hmac_key(),
            webhook_username=self.webhook_username,
            webhook_password=self.webhook_password(),
            environment=self.mode,
            live_url_prefix=self.live_url_prefix,
            balance_account_id=self.balance_account_id,
            balance_platform_hmac_key=self.balance_platform_hmac_key(),
            checkout_base_url=settings.ADYEN_CHECKOUT_BASE_URL,
            transfers_base_url=settings.ADYEN_TRANSFERS_BASE_URL,
            timeout_seconds=settings.ADYEN_TIMEOUT_SECONDS,
            tenant_slug=self.tenant.slug,
            simulator=settings.PAYMENTS_SIMULATOR_ENABLED,
        )


class WebhookInbox(models.Model):
    """One delivery of a PSP notification, stored raw before anything else happens.

    The first verified delivery of an event carries its ``event_id`` (unique per
    endpoint); a repeat delivery is kept as ``duplicate`` pointing at it. Rejected
    deliveries (bad signature) keep no event id, so a forger cannot squat one."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (not yet verified)"
        REJECTED = "rejected", "Rejected (signature)"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (not for us)"
        FAILED = "failed", "Failed (will be retried)"
        DUPLICATE = "duplicate", "Duplicate delivery"
        DEAD = "dead", "Dead-lettered (retries exhausted; reprocess in the admin)"

    provider = models.CharField(max_length=32)
    config = models.ForeignKey(
        PSPConfig, on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    # Indexed by webhook_tenant_status, whose first column it is.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    event_id = models.CharField(max_length=255, blank=True, default="")
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.TextField(blank=True)
    deposit_id = models.BigIntegerField(null=True, blank=True)
    duplicate_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    attempts = models.PositiveIntegerField(default=0)
    # When a failed application is tried again (payments.outbox): the sweep
    # re-enqueues a failed row whose retry is this overdue.
    retry_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook inbox"
        constraints = [
            # Per endpoint, not per provider: one PSP account may serve several
            # brands, and each brand's endpoint must apply the event once.
            models.UniqueConstraint(
                fields=["config", "event_id"],
                condition=~Q(event_id=""),
                name="webhook_inbox_event_per_endpoint",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "-id"], name="webhook_tenant_status"
            ),
            # The outbox sweep, health and metrics look for the few rows still to
            # apply, oldest first, without scanning the applied millions.
            models.Index(
                fields=["status", "received_at"],
                name="webhook_status_received",
                condition=Q(status__in=["received", "failed", "dead"]),
            ),
            # Partial: a delivery is stored with neither (the hot path's INSERT
            # then writes no entry here); most never get a duplicate_of.
            models.Index(
                fields=["deposit_id"],
                name="webhook_deposit",
                condition=Q(deposit_id__isnull=False),
            ),
            models.Index(
                fields=["duplicate_of"],
                name="webhook_duplicate_of",
                condition=Q(duplicate_of__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type or '?'} {self.event_id or self.pk}"


# --- Routing, refunds and disputes (docs/payments/adyen.md) ------------------------


class PaymentRoute(models.Model):
    """Which PSP serves a brand's deposits and which pays its withdrawals, for one
    currency or (``currency`` empty) for every currency without a row of its own."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, related_name="payment_routes"
    )
    currency = models.CharField(
        max_length=3, blank=True, help_text="Empty: the brand's default route."
    )
    deposit_provider = models.CharField(
        max_length=32, choices=PSPConfig.Provider.choices, default="stripe"
    )
    payout_provider = models.CharField(
        max_length=32, choices=PSPConfig.Provider.choices, default="manual"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "currency"], name="payment_route_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.currency or '*'}: deposits {self.deposit_provider}, payouts {self.payout_provider}"


class Refund(models.Model):
    """Money returned to the player's card for a completed deposit. An operator asks
    for it (or the PSP reports one made elsewhere); the ledger moves only when the
    PSP confirms: ``pending → succeeded | failed`` (``reversed`` if the PSP later
    undoes a succeeded refund)."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending at the PSP"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        REVERSED = "reversed", "Reversed by the PSP"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    deposit = models.ForeignKey(
        "wallet.Deposit", on_delete=models.PROTECT, related_name="refunds"
    )
    provider = models.CharField(max_length=32)
    amount_minor = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    reason = models.CharField(max_length=255, blank=True)
    provider_reference = models.CharField(max_length=255, blank=True, db_index=True)
    ledger_transaction_id = models.BigIntegerField(null=True, blank=True)
    failure_reason = models.CharField(max_length=255, blank=True)
    requested_by = models.CharField(max_length=255, blank=True)
    # The operator's request key (one per refund form shown): a second submit of
    # the same form returns the first refund instead of refunding twice.
    request_key = models.CharField(max_length=128, blank=True, default="")
    # Closed-loop payouts: a refund that is a leg of a withdrawal is paid from that
    # withdrawal's money, held in this hold until the refund is final.
    hold = models.OneToOneField(
        "wallet.Hold",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="refund",
        help_text="Set for a closed-loop leg of a withdrawal: the held money it pays.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="refund_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["tenant", "request_key"],
                condition=~Q(request_key=""),
                name="refund_request_key_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"Refund #{self.pk} of deposit #{self.deposit_id} ({self.state})"

    @property
    def idempotency_key(self) -> str:
        return f"refund:{self.pk}"


class Dispute(models.Model):
    """A chargeback case on a deposit and how far it has gone."""

    class Stage(models.TextChoices):
        NOTIFICATION_OF_CHARGEBACK = "notification_of_chargeback", "Notified"
        CHARGEBACK = "chargeback", "Charged back"
        CHARGEBACK_REVERSED = "chargeback_reversed", "Chargeback reversed (won)"
        LOST = "lost", "Lost (final)"
        SECOND_CHARGEBACK = "second_chargeback", "Second chargeback"
        PREARBITRATION_WON = "prearbitration_won", "Pre-arbitration won"
        PREARBITRATION_LOST = "prearbitration_lost", "Pre-arbitration lost"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    deposit = models.ForeignKey(
        "wallet.Deposit", on_delete=models.PROTECT, related_name="disputes"
    )
    provider = models.CharField(max_length=32)
    payment_reference = models.CharField(max_length=255, db_index=True)
    stage = models.CharField(max_length=32, choices=Stage.choices)
    amount_minor = models.BigIntegerField(null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    history = models.JSONField(default=list, blank=True)
    opened_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "payment_reference"], name="dispute_one_per_payment"
            )
        ]

    def __str__(self) -> str:
        return f"Dispute on deposit #{self.deposit_id} ({self.stage})"
