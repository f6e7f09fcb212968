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


class WebhookInbox(models.Model):
    """One delivery of a PSP notification, stored raw before anything else happens.

    The first verified delivery of an event carries its ``event_id`` (unique per
    provider); a repeat delivery is kept as ``duplicate`` pointing at it. Rejected
    deliveries (bad signature) keep no event id, so a forger cannot squat one."""

    class Status(models.TextChoices):
        RECEIVED = "received", "Received (not yet verified)"
        REJECTED = "rejected", "Rejected (signature)"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored (not for us)"
        FAILED = "failed", "Failed (will be retried)"
        DUPLICATE = "duplicate", "Duplicate delivery"

    provider = models.CharField(max_length=32)
    config = models.ForeignKey(
        PSPConfig, on_delete=models.PROTECT, related_name="webhook_deliveries"
    )
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    event_id = models.CharField(max_length=255, blank=True, default="")
    event_type = models.CharField(max_length=100, blank=True)
    headers = models.JSONField(default=dict)
    body = models.TextField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED
    )
    error = models.TextField(blank=True)
    deposit_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    attempts = models.PositiveIntegerField(default=0)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook inbox"
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "event_id"],
                condition=~Q(event_id=""),
                name="webhook_inbox_event_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "-id"], name="webhook_tenant_status"
            )
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.event_type or '?'} {self.event_id or self.pk}"
