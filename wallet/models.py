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

from common.currency import format_money

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
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # account_tenant_id (tenant, id) serves every lookup by tenant
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
        indexes = [
            models.Index(fields=["tenant", "id"], name="account_tenant_id"),
            # The admin's kind filter (e.g. a brand's system accounts among its
            # players' hundreds of thousands).
            models.Index(fields=["tenant", "kind", "id"], name="account_tenant_kind"),
        ]
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
        PSP_FEE = "psp_fee", "PSP fee"

    class ActorType(models.TextChoices):
        USER = "user", "Operator / staff"
        PLAYER = "player", "Player"
        SYSTEM = "system", "System"
        PSP = "psp", "PSP"

    # No separate index: the idempotency key's unique (tenant, key) and
    # journal_txn_tenant_kind both lead with tenant. No foreign-key constraint: its
    # check took a KEY SHARE lock on the tenant row for every posting of the brand;
    # a deferred trigger checks the tenant exists instead (tenants/sql.py, installed
    # by migration 0007; tenants are never deleted).
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
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
            # One brand's transactions newest first (the admin changelist) without
            # sorting them all: (tenant, kind, -id) cannot give -id order across kinds.
            models.Index(fields=["tenant", "-id"], name="journal_txn_tenant_recent"),
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
    # Neither the tenant nor the transaction has a foreign-key constraint: each check
    # took a KEY SHARE row lock (a WAL-logged write) per entry, on the brand's one
    # tenant row and on the transaction just inserted. The deferred trigger
    # wallet_entry_transaction_balances checks both instead, without a lock: the
    # account exists in the entry's tenant (and the account's own foreign key keeps
    # the tenant sound) and the transaction exists in the same tenant. Transactions
    # are append-only and tenants are never deleted, so a checked row stays.
    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
        db_index=False,  # entry_tenant_recent (tenant, -id) serves it and the admin
    )
    transaction = models.ForeignKey(
        JournalTransaction,
        on_delete=models.PROTECT,
        related_name="entries",
        db_constraint=False,
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
        indexes = [
            models.Index(fields=["account", "-id"], name="entry_account_recent"),
            # The changelist of one brand's entries, newest first, without a sort.
            models.Index(fields=["tenant", "-id"], name="entry_tenant_recent"),
        ]
        # The zero-sum check per transaction and currency is a deferred constraint
        # trigger installed by migration 0005 (wallet/sql.py explains why it is not
        # declared here through pgtrigger).
        triggers = [
            pgtrigger.Protect(
                name="entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        sign = "+" if self.amount_minor > 0 else ""
        return f"{sign}{format_money(self.amount_minor, self.currency)} on account {self.account_id}"


class Hold(models.Model):
    """Funds moved from a player's available to held balance, waiting for a payout:
    posted (paid out) or voided (released) exactly once."""

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        POSTED = "posted", "Posted"
        VOIDED = "voided", "Voided"

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (tenant, -id) below serves every lookup by tenant
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
            models.Index(fields=["tenant", "-id"], name="hold_tenant_recent"),
            models.Index(
                fields=["tenant", "player", "state"], name="hold_player_state"
            ),
        ]

    def __str__(self) -> str:
        return f"Hold #{self.pk} {format_money(self.amount_minor, self.currency)} ({self.state})"


class Withdrawal(models.Model):
    """A player's request to cash out, backed by a ledger hold from the start.

    requested → approved | rejected | canceled; approved → payout_pending;
    payout_pending → paid | payout_failed; payout_failed → payout_pending (a retry)
    | rejected. Paid posts the hold; rejected and canceled void it."""

    class State(models.TextChoices):
        REQUESTED = "requested", "Requested (awaiting review)"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        CANCELED = "canceled", "Canceled by the player"
        PAYOUT_PENDING = "payout_pending", "Payout pending"
        PAID = "paid", "Paid"
        PAYOUT_FAILED = "payout_failed", "Payout failed"
        RETURNED = "returned", "Paid, then returned to the player"

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (tenant, -id) below serves every lookup by tenant
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.PROTECT, related_name="withdrawals"
    )
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.REQUESTED
    )
    hold = models.OneToOneField(
        Hold,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="withdrawal",
        help_text="Placed in the same DB transaction as the withdrawal row.",
    )
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    destination_encrypted = models.TextField(
        help_text="Fernet ciphertext of the payout destination (common.crypto)."
    )
    destination_masked = models.CharField(max_length=64)
    auto_approved = models.BooleanField(default=False)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    rejection_reason = models.TextField(blank=True)
    # Issue 13, maker-checker: the first of two operators above the tenant's amount.
    first_approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    first_approved_at = models.DateTimeField(null=True, blank=True)
    # Set from the policy clock (common.clock), so windows are testable.
    requested_at = models.DateTimeField(db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="withdrawal_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["player", "idempotency_key"],
                name="withdrawal_idempotency_unique_per_player",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="withdrawal_tenant_recent"),
            models.Index(fields=["tenant", "state", "-id"], name="withdrawal_queue"),
            models.Index(
                fields=["player", "currency", "requested_at"],
                name="withdrawal_player_window",
            ),
            # The player's timeline (crm/timeline.py) pages through this.
            models.Index(
                fields=["player", "-requested_at", "-id"],
                name="withdrawal_player_timeline",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"Withdrawal #{self.pk} {format_money(self.amount_minor, self.currency)} "
            f"({self.state})"
        )


class PayoutAttempt(models.Model):
    """One try at paying a withdrawal out, with its own idempotency key for the PSP.

    pending (created, not yet sent) → sent (the provider took it; manual payouts wait
    here for an operator) | unknown (timeout or 5xx: outcome unknown, funds stay
    held) → paid | failed."""

    class State(models.TextChoices):
        PENDING = "pending", "Created, not yet sent"
        SENT = "sent", "Sent, awaiting the outcome"
        UNKNOWN = "unknown", "Outcome unknown (provider did not answer)"
        PAID = "paid", "Paid"
        FAILED = "failed", "Failed"

    OPEN_STATES = (State.PENDING, State.SENT, State.UNKNOWN)

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    withdrawal = models.ForeignKey(
        Withdrawal, on_delete=models.PROTECT, related_name="attempts"
    )
    request_key = models.CharField(
        max_length=128,
        blank=True,
        help_text="The Idempotency-Key of the retry request that made this attempt.",
    )
    number = models.PositiveIntegerField(help_text="1 for the first payout.")
    provider = models.CharField(max_length=32)
    state = models.CharField(
        max_length=16, choices=State.choices, default=State.PENDING
    )
    idempotency_key = models.CharField(max_length=200, unique=True)
    provider_reference = models.CharField(max_length=200, blank=True)
    failure_reason = models.TextField(blank=True)
    actor_label = models.CharField(max_length=200)
    created_at = models.DateTimeField(help_text="From the policy clock.")
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["withdrawal", "number"], name="payout_attempt_number_unique"
            )
        ]
        # The admin index counts payouts whose outcome is unknown (rare rows).
        indexes = [
            models.Index(
                fields=["tenant"],
                condition=Q(state="unknown"),
                name="payout_attempt_unknown",
            )
        ]

    def __str__(self) -> str:
        return (
            f"Attempt {self.number} of withdrawal {self.withdrawal_id} ({self.state})"
        )


class Deposit(models.Model):
    """A player's deposit through a PSP. Money moves only when the PSP confirms it
    (a verified webhook): ``created → pending_provider → completed | failed | expired``.

    Refunds and chargebacks after completion do not change ``state``; they are
    recorded in ``refunded_minor`` / ``charged_back_minor`` with their own journal
    transactions. ``needs_review`` marks anything an operator must look at (an amount
    that does not match, a session that completed after it expired, ...). The wallet
    knows nothing of any particular PSP: ``provider`` and the references are opaque."""

    class State(models.TextChoices):
        CREATED = "created", "Created"
        PENDING_PROVIDER = "pending_provider", "Waiting for the provider"
        COMPLETED = "completed", "Completed"
        FAILED = "failed", "Failed"
        EXPIRED = "expired", "Expired"

    tenant = models.ForeignKey(
        "tenants.Tenant",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # (tenant, -id) below serves every lookup by tenant
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.PROTECT, related_name="deposits"
    )
    provider = models.CharField(max_length=32)
    currency = models.CharField(max_length=3)
    amount_minor = models.BigIntegerField()
    state = models.CharField(
        max_length=24, choices=State.choices, default=State.CREATED
    )
    idempotency_key = models.CharField(max_length=128)
    request_hash = models.CharField(max_length=64)
    provider_reference = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="e.g. the checkout session"
    )
    payment_reference = models.CharField(
        max_length=255, blank=True, db_index=True, help_text="e.g. the payment intent"
    )
    checkout_url = models.TextField(blank=True)
    credit_transaction = models.OneToOneField(
        JournalTransaction,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="deposit_credited",
    )
    refunded_minor = models.BigIntegerField(default=0)
    charged_back_minor = models.BigIntegerField(default=0)
    failure_reason = models.CharField(max_length=255, blank=True)
    needs_review = models.BooleanField(default=False)
    review_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_minor__gt=0), name="deposit_amount_positive"
            ),
            models.UniqueConstraint(
                fields=["tenant", "player", "idempotency_key"],
                name="deposit_idempotency_unique",
            ),
            models.CheckConstraint(
                condition=~Q(state="completed") | Q(credit_transaction__isnull=False),
                name="deposit_completed_has_credit",
            ),
        ]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="deposit_tenant_recent"),
            # The finance dashboard's daily deposits of a brand: completed ones only,
            # with what the sums need, so a month of a busy brand is an index-only
            # scan instead of a heap fetch per deposit.
            models.Index(
                fields=["tenant", "completed_at", "currency", "amount_minor"],
                condition=Q(state="completed"),
                name="deposit_tenant_completed",
            ),
            models.Index(fields=["tenant", "player", "-id"], name="deposit_player"),
            models.Index(fields=["tenant", "state"], name="deposit_tenant_state"),
            # The player's timeline (crm/timeline.py) pages through this.
            models.Index(
                fields=["player", "-created_at", "-id"], name="deposit_player_timeline"
            ),
            # The admin index's "flagged deposits" reads only flagged rows.
            models.Index(
                fields=["tenant", "-id"],
                condition=Q(needs_review=True),
                name="deposit_needs_review",
            ),
        ]

    def __str__(self) -> str:
        return f"Deposit #{self.pk} {format_money(self.amount_minor, self.currency)} ({self.state})"

    @property
    def is_final(self) -> bool:
        return self.state in (
            self.State.COMPLETED,
            self.State.FAILED,
            self.State.EXPIRED,
        )


class PlayerDepositLimit(models.Model):
    """A deposit limit the player set on themselves (issue 13, UKGC RTS 12).

    ``amount_minor`` is the limit in force. A lower amount replaces it at once; a
    higher one or a removal waits in ``pending_*`` until the cooling-off has passed
    (``pending_available_at``) and the player confirms it again. Operators read these
    rows and never write them."""

    class Period(models.TextChoices):
        DAY = "day", "Daily"
        WEEK = "week", "Weekly"
        MONTH = "month", "Monthly"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.PROTECT, related_name="deposit_limits"
    )
    currency = models.CharField(max_length=3)
    period = models.CharField(max_length=8, choices=Period.choices)
    amount_minor = models.BigIntegerField(
        null=True, blank=True, help_text="The limit in force; empty = none."
    )
    pending_amount_minor = models.BigIntegerField(null=True, blank=True)
    pending_removal = models.BooleanField(default=False)
    pending_requested_at = models.DateTimeField(null=True, blank=True)
    pending_available_at = models.DateTimeField(
        null=True, blank=True, help_text="Cooling-off end: confirmable from then."
    )
    updated_at = models.DateTimeField(help_text="From the policy clock.")

    class Meta:
        ordering = ["currency", "period"]
        constraints = [
            models.UniqueConstraint(
                fields=["player", "currency", "period"],
                name="player_deposit_limit_unique",
            ),
            models.CheckConstraint(
                condition=Q(amount_minor__isnull=True) | Q(amount_minor__gte=0),
                name="player_deposit_limit_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_period_display()} {self.currency} limit of {self.player_id}"

    @property
    def has_pending_change(self) -> bool:
        return self.pending_available_at is not None


class PlayerRiskFlag(models.Model):
    """An open AML or affordability concern about a player (issue 13). While any
    flag is open every withdrawal of the player waits for an operator; an operator
    clears it with a reason once the checks are done."""

    class Kind(models.TextChoices):
        DUE_DILIGENCE = "due_diligence", "Customer due diligence threshold"
        AFFORDABILITY = "affordability", "Affordability check"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    player = models.ForeignKey(
        "casino.Player", on_delete=models.PROTECT, related_name="risk_flags"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    currency = models.CharField(max_length=3)
    reason = models.TextField()
    details = models.JSONField(default=dict, blank=True)
    raised_at = models.DateTimeField(help_text="From the policy clock.")
    cleared_at = models.DateTimeField(null=True, blank=True)
    cleared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    clear_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-raised_at"]
        constraints = [
            # One open flag per kind and currency: concurrent raisers cannot double it.
            models.UniqueConstraint(
                fields=["player", "kind", "currency"],
                condition=Q(cleared_at__isnull=True),
                name="player_risk_flag_one_open",
            ),
        ]
        indexes = [
            models.Index(
                fields=["tenant", "cleared_at", "-raised_at"], name="risk_flag_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.currency}) on player {self.player_id}"

    @property
    def is_open(self) -> bool:
        return self.cleared_at is None


class AccountCheckpoint(models.Model):
    """A system account's balance up to and including entry ``upto_entry_id``.

    System accounts are never locked nor cached (so deposits of a brand never queue
    on them); summing all their entries on every read is a scan that grows for ever.
    A checkpoint, taken periodically by ``checkpoint_system_balances`` for entries
    old enough to be final, turns the read into the latest checkpoint plus the
    entries after it (an index range on ``entry_account_recent``)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="checkpoints"
    )
    upto_entry_id = models.BigIntegerField()
    balance_minor = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-upto_entry_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "upto_entry_id"], name="checkpoint_account_upto"
            )
        ]

    def __str__(self) -> str:
        return f"account {self.account_id} = {self.balance_minor} at entry {self.upto_entry_id}"


class Finding(models.Model):
    """One discrepancy found by a reconciliation (``reconcile``, ``reconcile_payouts``,
    ``expire_stale_deposits``, ``reconcile_psp``). A finding is identified by its
    tenant, code and object: when a later run finds it again it is the same row
    (``last_seen_at`` and ``times_seen`` move), never a new one. An operator resolves
    or dismisses it with a reason (audited)."""

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, related_name="+"
    )
    code = models.CharField(max_length=64)
    severity = models.CharField(max_length=16, choices=Severity.choices)
    source = models.CharField(max_length=64, help_text="The command that found it.")
    object_type = models.CharField(max_length=64)
    object_ref = models.CharField(max_length=200)
    details = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN
    )
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    times_seen = models.PositiveIntegerField(default=1)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolution_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "code", "object_type", "object_ref"],
                name="finding_identity",
            )
        ]
        indexes = [
            models.Index(
                fields=["tenant", "status", "severity", "-id"], name="finding_queue"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.object_type} {self.object_ref} ({self.status})"
