"""The double-entry ledger.

Sign convention: an entry's ``amount_minor`` adds to its account's balance. A deposit
is ``psp_clearing -5000, player_available +5000``; every transaction sums to zero per
currency. Player accounts keep a cached ``balance_minor`` (updated in the same DB
transaction as their entries, never negative); tenant-wide system accounts do not,
their balance is the sum of their entries, so a posting never locks them.
"""

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models import Q

PLAYER_KINDS = ("player_available", "player_held")


class Account(models.Model):
    class Kind(models.TextChoices):
        PLAYER_AVAILABLE = "player_available", "Player cash (available)"
        PLAYER_HELD = "player_held", "Player cash (held for withdrawals)"
        PSP_CLEARING = "psp_clearing", "PSP clearing"
        WITHDRAWALS_IN_FLIGHT = "withdrawals_in_flight", "Withdrawals in flight"
        CHARGEBACK_RECEIVABLE = "chargeback_receivable", "Chargeback receivable"
        FEES = "fees", "PSP fees"
        ADJUSTMENTS = "adjustments", "Operator adjustments"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    player = models.ForeignKey(
        "casino.Player",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="accounts",
    )
    provider = models.CharField(max_length=32, blank=True, default="")
    balance_minor = models.BigIntegerField(
        default=0,
        help_text="Cached for player accounts only; system accounts derive theirs.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind__in=PLAYER_KINDS) | Q(balance_minor__gte=0),
                name="account_player_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=PLAYER_KINDS, player__isnull=False)
                | (~Q(kind__in=PLAYER_KINDS) & Q(player__isnull=True)),
                name="account_player_iff_player_kind",
            ),
            models.UniqueConstraint(
                fields=["tenant", "player", "kind", "currency"],
                condition=Q(player__isnull=False),
                name="account_unique_player_kind_currency",
            ),
            models.UniqueConstraint(
                fields=["tenant", "kind", "currency", "provider"],
                condition=Q(player__isnull=True),
                name="account_unique_system_kind_currency_provider",
            ),
        ]
        # Entries point at their account without a foreign-key constraint (see
        # Entry.account), so the database keeps that reference sound this way: an
        # account is never deleted, and what identifies it never changes. Only the
        # cached balance of a player account is updated. The WHEN condition keeps the
        # balance UPDATE of every posting from calling the trigger function at all.
        triggers = [
            pgtrigger.Protect(name="account_no_delete", operation=pgtrigger.Delete),
            pgtrigger.Protect(
                name="account_identity_frozen",
                operation=pgtrigger.Update,
                condition=pgtrigger.AnyChange(
                    "tenant", "player", "kind", "currency", "provider"
                ),
            ),
        ]

    def __str__(self) -> str:
        owner = (
            f"player {self.player_id}"
            if self.player_id
            else (self.provider or "system")
        )
        return f"{self.get_kind_display()} {self.currency} ({owner})"

    @property
    def is_player_account(self) -> bool:
        return self.kind in PLAYER_KINDS


class JournalTransaction(models.Model):
    class Kind(models.TextChoices):
        DEPOSIT = "deposit", "Deposit"
        WITHDRAWAL_HOLD = "withdrawal_hold", "Withdrawal hold placed"
        WITHDRAWAL_POST = "withdrawal_post", "Withdrawal paid out"
        WITHDRAWAL_VOID = "withdrawal_void", "Withdrawal hold released"
        ADJUSTMENT = "adjustment", "Operator adjustment"
        REFUND = "refund", "Refund"
        CHARGEBACK = "chargeback", "Chargeback"
        CHARGEBACK_REVERSAL = "chargeback_reversal", "Chargeback reversed"
        TRANSFER = "transfer", "Internal transfer"
        REVERSAL = "reversal", "Reversal"

    class ActorType(models.TextChoices):
        USER = "user", "Operator / staff"
        PLAYER = "player", "Player"
        SYSTEM = "system", "System"
        PSP = "psp", "PSP"

    # No separate index: the idempotency key's unique (tenant, key) and
    # journal_txn_tenant_kind both lead with tenant.
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    kind = models.CharField(max_length=32, choices=Kind.choices)
    idempotency_key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    reference = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # Indexed only where set (see Meta.indexes): most postings are by the system or
    # a PSP, and an index entry per NULL would be paid on every posting.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_player = models.ForeignKey(
        "casino.Player",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    actor_label = models.CharField(max_length=200)
    request_id = models.CharField(max_length=64, blank=True)
    reverses = models.OneToOneField(
        "self",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversed_by",
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "idempotency_key"],
                name="journal_txn_idempotency_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "kind", "-id"], name="journal_txn_tenant_kind"
            ),
            # A plain btree for equality lookups by reference (db_index=True on a
            # CharField would add a second, pattern-ops index to every posting).
            models.Index(fields=["reference"], name="journal_txn_reference"),
            models.Index(
                fields=["actor_user"],
                condition=Q(actor_user__isnull=False),
                name="journal_txn_actor_user",
            ),
            models.Index(
                fields=["actor_player"],
                condition=Q(actor_player__isnull=False),
                name="journal_txn_actor_player",
            ),
        ]
        triggers = [
            pgtrigger.Protect(
                name="journal_txn_append_only",
                operation=pgtrigger.Update | pgtrigger.Delete,
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.get_kind_display()} {self.reference}".strip()


class Entry(models.Model):
    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    transaction = models.ForeignKey(
        JournalTransaction, on_delete=models.PROTECT, related_name="entries"
    )
    # No foreign-key constraint in the database: its check would take a KEY SHARE
    # row lock on the account for every entry, and a tenant's PSP clearing account is
    # on every deposit, so all deposits of a brand would queue on that one row's lock
    # bookkeeping. The deferred trigger wallet_entry_transaction_balances checks
    # instead, without a lock, that the account exists in the entry's tenant and
    # currency; accounts can be neither deleted nor re-identified (Account triggers).
    # No separate index either: entry_account_recent (account, -id) serves every
    # lookup by account, and each index costs an insert on the posting path.
    account = models.ForeignKey(
        Account,
        on_delete=models.PROTECT,
        related_name="entries",
        db_index=False,
        db_constraint=False,
    )
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    balance_after_minor = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The account's balance after this entry (player accounts).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(
                condition=~Q(amount_minor=0), name="entry_amount_non_zero"
            ),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="entry_account_recent")]
        # The zero-sum check per transaction and currency is a deferred constraint
        # trigger installed by migration 0003 (wallet/sql.py explains why it is not
        # declared here through pgtrigger).
        triggers = [
            pgtrigger.Protect(
                name="entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount_minor:+d} {self.currency} on account {self.account_id}"


class Hold(models.Model):
    """Funds moved from a player's available to held balance, waiting for a payout:
    posted (paid out) or voided (released) exactly once."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.PROTECT, related_name="holds"
    )
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    reference = models.CharField(max_length=200, blank=True)
    place_transaction = models.OneToOneField(
        JournalTransaction, on_delete=models.PROTECT, related_name="hold_placed"
    )
    resolve_transaction = models.OneToOneField(
        JournalTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="hold_resolved",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="hold_amount_positive"
            ),
            models.CheckConstraint(
                condition=Q(state="pending", resolve_transaction__isnull=True)
                | (~Q(state="pending") & Q(resolve_transaction__isnull=False)),
                name="hold_resolved_iff_resolve_transaction",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "player", "state"], name="hold_player_state")
        ]

    def __str__(self) -> str:
        return f"Hold #{self.pk} {self.amount_minor} {self.currency} ({self.state})"
