from django.contrib.auth.hashers import check_password, make_password
from django.db import models
from django.db.models.functions import Lower


class Player(models.Model):
    """A player of one brand. The same email on two brands is two players; players are
    not Django users (operators are), so a player can never reach the admin."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"

    class KycStatus(models.TextChoices):
        UNVERIFIED = "unverified", "Unverified"
        PENDING = "pending", "Pending"
        VERIFIED = "verified", "Verified"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="players"
    )
    email = models.EmailField(max_length=254)
    password = models.CharField(max_length=256)
    display_name = models.CharField(max_length=100, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    kyc_status = models.CharField(
        max_length=16, choices=KycStatus.choices, default=KycStatus.UNVERIFIED
    )
    withdrawals_frozen = models.BooleanField(
        default=False,
        help_text="Set by risk events (e.g. a chargeback); blocks withdrawals.",
    )
    # ISO 3166-1 alpha-2, upper case; empty when the player did not say.
    country = models.CharField(max_length=2, blank=True, default="")
    last_login_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Issue 13: the legal name KYC confirmed; a payout's remainder goes only to a bank
    # account in this name (closed loop).
    verified_name = models.CharField(max_length=140, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                "tenant", Lower("email"), name="player_email_unique_per_tenant"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "status"], name="player_tenant_status"),
            # The admin's KYC and "created" filters.
            models.Index(fields=["tenant", "kyc_status"], name="player_tenant_kyc"),
            models.Index(fields=["tenant", "created_at"], name="player_tenant_created"),
            # One brand's players newest first (the admin changelist) without a sort.
            models.Index(fields=["tenant", "-id"], name="player_tenant_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.email} ({self.tenant_id})"

    # DRF's permission classes ask these of request.user.
    is_authenticated = True
    is_anonymous = False

    def set_password(self, raw_password: str) -> None:
        self.password = make_password(raw_password)

    def check_password(self, raw_password: str) -> bool:
        return check_password(raw_password, self.password)

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class PlayerToken(models.Model):
    """An API token. Only its SHA-256 is stored; the raw value is shown once at login."""

    key_hash = models.CharField(max_length=64, unique=True)
    player = models.ForeignKey(Player, on_delete=models.CASCADE, related_name="tokens")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"token of player {self.player_id}"


class PlayerExclusion(models.Model):
    """A time-out or self-exclusion the player set (issue 13, docs/compliance.md).

    Rows are never changed or deleted by the player: an exclusion runs from
    ``started_at`` to ``ends_at`` (none = permanent). While one is active the player
    may not deposit, start play or receive marketing, but may still withdraw."""

    class Kind(models.TextChoices):
        TIME_OUT = "time_out", "Time-out"
        SELF_EXCLUSION = "self_exclusion", "Self-exclusion"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        Player, on_delete=models.PROTECT, related_name="exclusions"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started_at = models.DateTimeField(help_text="From the policy clock.")
    ends_at = models.DateTimeField(
        null=True, blank=True, help_text="Empty for a permanent self-exclusion."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__isnull=True)
                | models.Q(ends_at__gt=models.F("started_at")),
                name="player_exclusion_ends_after_start",
            ),
        ]
        indexes = [
            models.Index(fields=["player", "ends_at"], name="player_exclusion_player"),
            models.Index(fields=["tenant", "ends_at"], name="player_exclusion_tenant"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} of player {self.player_id}"

    @property
    def is_permanent(self) -> bool:
        return self.ends_at is None
