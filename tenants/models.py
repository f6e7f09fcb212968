from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Tenant(models.Model):
    """A brand. Every money row carries its tenant so data can be split by brand."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        SUSPENDED = "suspended", "Suspended"

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    default_currency = models.CharField(max_length=3, default="EUR")
    allowed_currencies = models.JSONField(default=list, blank=True)
    operators = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="operator_tenants"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE

    def currency_allowed(self, currency: str) -> bool:
        return currency == self.default_currency or currency in (
            self.allowed_currencies or []
        )

    def clean(self) -> None:
        from common.currency import UnknownCurrency, exponent_of

        codes = [self.default_currency, *(self.allowed_currencies or [])]
        for code in codes:
            try:
                exponent_of(code)
            except UnknownCurrency as exc:
                raise ValidationError({"allowed_currencies": str(exc)}) from exc


class TenantDomain(models.Model):
    """A host name the player API and portal answer to for this brand."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="domains")
    domain = models.CharField(max_length=253, unique=True)

    def __str__(self) -> str:
        return self.domain

    def save(self, *args, **kwargs):
        self.domain = self.domain.lower().strip()
        super().save(*args, **kwargs)


class TenantPolicy(models.Model):
    """One per tenant. Later features add their limits here; each refusal has a stable
    error code (docs/financial-policies.md)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="policy"
    )
    deposits_enabled = models.BooleanField(
        default=True, help_text="Kill switch: when off, new deposits are refused (503)."
    )
    withdrawals_enabled = models.BooleanField(
        default=True,
        help_text="Kill switch: when off, new withdrawals are refused (503).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "tenant policies"

    def __str__(self) -> str:
        return f"Policy of {self.tenant}"
