import pgtrigger
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models


class Operator(models.Model):
    """The licensee behind one or more brands (issue 13). Nothing else linked brands
    before: a player's self-exclusion reaches the operator's other brands through
    this row when ``exclusion_covers_all_brands`` is on (players matched by email)."""

    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=200)
    exclusion_covers_all_brands = models.BooleanField(
        default=True,
        help_text="A time-out or self-exclusion on one brand also applies to the "
        "player's accounts (same email) on this operator's other brands.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name


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
    # Issue 13: the licensee this brand belongs to (none = a brand on its own).
    operator = models.ForeignKey(
        Operator,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="brands",
    )

    class Meta:
        ordering = ["slug"]
        # A brand is suspended, never deleted: journal transactions and audit events
        # reference their tenant without a foreign-key constraint (its check locked
        # this row on every posting); a deferred trigger checks the tenant exists
        # instead (tenants/sql.py), which stays sound only because a tenant, once
        # there, stays with its id.
        triggers = [
            pgtrigger.Protect(name="tenant_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="tenant_id_frozen",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange("id"),
            ),
        ]

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


# Issue 13 defaults (docs/compliance.md gives the source of each).
def aml_cdd_default() -> dict[str, int]:
    return {"EUR": 200_000}


def affordability_default() -> dict[str, int]:
    return {"GBP": 15_000}


def maker_checker_default() -> dict[str, int]:
    return {"EUR": 500_000}


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
    # TENANT-POLICY-002: retries of failed payouts.
    payout_retry_limit = models.PositiveIntegerField(
        default=3,
        help_text="How many times a failed payout may be retried (0 = never).",
    )
    payout_cooldown_seconds = models.PositiveIntegerField(
        default=60,
        help_text="Seconds after a payout attempt before a retry is allowed (0 = none).",
    )
    player_may_retry_payout = models.BooleanField(
        default=False,
        help_text="Players may retry their own failed payouts (else operators only).",
    )
    kyc_required_for_withdrawal = models.BooleanField(
        default=True, help_text="Only KYC-verified players may request withdrawals."
    )
    # Per-currency amounts in minor units, e.g. {"EUR": 100000} = 1000.00 EUR.
    # A currency missing from a map has no such limit.
    daily_deposit_limits = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per player per UTC day, minor units: {"EUR": 100000}.',
    )
    daily_withdrawal_limits = models.JSONField(
        default=dict,
        blank=True,
        help_text='Per player per UTC day, minor units: {"EUR": 100000}.',
    )
    withdrawal_min_amounts = models.JSONField(
        default=dict, blank=True, help_text='Minor units: {"EUR": 1000}.'
    )
    withdrawal_max_amounts = models.JSONField(
        default=dict, blank=True, help_text='Minor units: {"EUR": 500000}.'
    )
    auto_approve_thresholds = models.JSONField(
        default=dict,
        blank=True,
        help_text="Withdrawals strictly below this amount (minor units) are approved "
        "without review; a currency missing here always goes to manual review.",
    )
    withdrawal_velocity_max_requests = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="At most this many withdrawal requests per player per window "
        "(empty = no velocity limit; 0 = none allowed).",
    )
    withdrawal_velocity_window_seconds = models.PositiveIntegerField(
        default=3600, help_text="The velocity window, in seconds."
    )
    # --- issue 13: AML thresholds and maker-checker (docs/compliance.md) ---
    aml_cdd_thresholds = models.JSONField(
        default=aml_cdd_default,
        blank=True,
        help_text="Customer due diligence: cumulative deposits in the window reaching "
        'this (minor units) raise a flag. Default {"EUR": 200000} = 2,000.00 EUR.',
    )
    aml_cdd_window_days = models.PositiveIntegerField(
        default=30,
        help_text="Rolling window (days) in which deposits count as linked.",
    )
    affordability_thresholds = models.JSONField(
        default=affordability_default,
        blank=True,
        help_text="Net deposits (deposits minus paid withdrawals) over a rolling 30 "
        'days reaching this raise an affordability flag. Default {"GBP": 15000}.',
    )
    player_may_cancel_withdrawal = models.BooleanField(
        default=True,
        help_text="Players may cancel a withdrawal while it awaits review (never once "
        "approved). Off: only an operator's rejection releases it.",
    )
    maker_checker_thresholds = models.JSONField(
        default=maker_checker_default,
        blank=True,
        help_text="Withdrawals strictly above this amount need a second operator's "
        'approval. Default {"EUR": 500000} = 5,000.00 EUR.',
    )
    # --- end issue 13 ---
    updated_at = models.DateTimeField(auto_now=True)

    AMOUNT_MAPS = (
        "daily_deposit_limits",
        "daily_withdrawal_limits",
        "withdrawal_min_amounts",
        "withdrawal_max_amounts",
        "auto_approve_thresholds",
        "aml_cdd_thresholds",
        "affordability_thresholds",
        "maker_checker_thresholds",
    )

    class Meta:
        verbose_name_plural = "tenant policies"

    def __str__(self) -> str:
        return f"Policy of {self.tenant}"

    def clean(self) -> None:
        from tenants.policies import amount_map_errors

        errors: dict[str, list[str]] = {}
        for name in self.AMOUNT_MAPS:
            if getattr(self, name) in (None, ""):
                setattr(self, name, {})  # a cleared admin field means "no limits"
            problems = amount_map_errors(getattr(self, name))
            if problems:
                errors[name] = problems
        if not errors:
            for currency, maximum in (self.withdrawal_max_amounts or {}).items():
                minimum = (self.withdrawal_min_amounts or {}).get(currency)
                if minimum is not None and minimum > maximum:
                    errors.setdefault("withdrawal_max_amounts", []).append(
                        f"{currency}: the maximum {maximum} is below the minimum "
                        f"{minimum}."
                    )
        if self.aml_cdd_window_days == 0:
            errors["aml_cdd_window_days"] = ["The window must be at least one day."]
        if self.withdrawal_velocity_window_seconds == 0:
            errors["withdrawal_velocity_window_seconds"] = [
                "The window must be at least one second."
            ]
        if errors:
            raise ValidationError(errors)


class TenantFeature(models.Model):
    """A module switched on or off for one brand, and its kill switch.

    ``enabled`` is the commercial decision (the brand has the module: off answers
    403 FEATURE_DISABLED); ``killed`` is the emergency brake (the brand has it, but it
    is stopped right now: 503 MODULE_TEMPORARILY_DISABLED). A brand without a row has
    the feature's default (tenants/features.py)."""

    class Feature(models.TextChoices):
        CRM = "crm", "CRM (player 360, tags, notes, segments, campaigns, CRM API)"
        AFFILIATES = "affiliates", "Affiliates"
        ADYEN = "adyen", "Adyen payments"
        STRIPE = "stripe", "Stripe payments"
        WITHDRAWALS_AUTO_APPROVE = (
            "withdrawals_auto_approve",
            "Automatic approval of small withdrawals",
        )

    tenant = models.ForeignKey(
        Tenant, on_delete=models.CASCADE, related_name="features"
    )
    feature = models.CharField(max_length=40, choices=Feature.choices)
    enabled = models.BooleanField(
        default=True, help_text="The brand has this module (off: 403 FEATURE_DISABLED)."
    )
    killed = models.BooleanField(
        default=False,
        help_text="Kill switch: stop the module now (503 MODULE_TEMPORARILY_DISABLED).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tenant_id", "feature"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "feature"], name="tenant_feature_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_feature_display()} for {self.tenant}"


class ApiKey(models.Model):
    """A back-office tool's credential for one brand. Only the SHA-256 of the secret is
    stored; the raw key (``<prefix>.<secret>``) is shown once, when it is created."""

    tenant = models.ForeignKey(
        Tenant, on_delete=models.PROTECT, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key"
        indexes = [models.Index(fields=["tenant", "-id"], name="api_key_tenant_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
