"""The ledger in the admin: read-only for everyone (``read_only = True``), even a
superuser. A correction is a reversing transaction, made through
``wallet.services.transaction_reverse`` by the "reverse" action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html

from common.actors import Actor
from common.currency import format_money_html
from common.dberrors import atomic_action
from common.errors import ApplicationError
from tenants.admin import (
    CurrencyFilter,
    TenantFilter,
    TenantScopedAdmin,
    is_operator,
    reason_action,
)
from wallet.models import Account, Entry, Hold, JournalTransaction
from wallet.selectors import account_balance, accounts_with_derived_balance
from wallet.services import transaction_reverse


class PlayerIdLookupMixin:
    """Allows ``?account__player__id__exact=<id>`` / ``?player__id__exact=<id>``,
    the links of the player page; the changelist is still tenant-scoped, so another
    brand's player id shows an empty list."""

    extra_lookups: tuple[str, ...] = ()

    def lookup_allowed(self, lookup, value, request=None):
        if lookup in self.extra_lookups:
            return True
        return super().lookup_allowed(lookup, value, request)


@admin.register(Account)
class AccountAdmin(PlayerIdLookupMixin, TenantScopedAdmin):
    read_only = True
    extra_lookups = ("player__id__exact",)
    list_display = ["id", "tenant", "kind", "currency", "owner", "balance"]
    list_filter = [TenantFilter, "kind", CurrencyFilter]
    list_select_related = ["tenant", "player"]
    search_fields = ["=id", "=player__id"]
    search_help_text = "An account id or a player id."
    raw_id_fields = ["player"]
    exclude = ["balance_minor"]  # shown as "Balance", in major units
    readonly_fields = ["balance"]

    def get_queryset(self, request):
        # System balances in the same query as the rows: checkpoint + entries since.
        return accounts_with_derived_balance(super().get_queryset(request))

    def get_search_results(self, request, queryset, search_term):
        if search_term.strip() and not search_term.strip().isdigit():
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Owner")
    def owner(self, obj: Account) -> str:
        if obj.player_id:
            url = reverse("admin:casino_player_change", args=[obj.player_id])
            return format_html('<a href="{}">{}</a>', url, obj.player.email)
        return obj.provider or "system"

    @admin.display(description="Balance")
    def balance(self, obj: Account) -> str:
        # Player accounts: the cached balance. System accounts: derived from their
        # entries (never cached, so postings never lock them).
        return format_money_html(account_balance(account=obj), obj.currency)


class EntryInline(admin.TabularInline):
    model = Entry
    extra = 0
    fields = ["account", "currency", "amount", "balance_after", "created_at"]
    readonly_fields = fields
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account")

    @admin.display(description="Amount")
    def amount(self, obj: Entry) -> str:
        return format_money_html(obj.amount_minor, obj.currency)

    @admin.display(description="Balance after")
    def balance_after(self, obj: Entry) -> str:
        return format_money_html(obj.balance_after_minor, obj.currency)

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser or is_operator(request.user)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(JournalTransaction)
class JournalTransactionAdmin(TenantScopedAdmin):
    read_only = True
    list_display = [
        "id",
        "tenant",
        "kind",
        "reference",
        "actor_label",
        "reverses",
        "created_at",
    ]
    list_filter = [TenantFilter, "kind", "actor_type", "created_at"]
    list_select_related = ["tenant", "reverses"]
    search_fields = ["=id", "=reference", "=idempotency_key"]
    search_help_text = "A transaction id, an exact reference or idempotency key."
    raw_id_fields = ["reverses", "actor_user", "actor_player"]
    inlines = [EntryInline]
    actions = ["reverse_transactions"]
    exclude = ["request_hash"]

    @admin.action(description="Reverse selected transactions (asks for a reason)")
    def reverse_transactions(self, request, queryset):
        actor = Actor.for_user(request.user)
        posted: list[int] = []

        def apply(txn: JournalTransaction, reason: str) -> None:
            try:
                with atomic_action():
                    result = transaction_reverse(
                        transaction_id=txn.pk,
                        tenant_id=txn.tenant_id,
                        actor=actor,
                        reason=reason,
                    )
            except ApplicationError as error:
                self.report_error(request, error)
                return
            if result.replayed:
                self.message_user(
                    request,
                    f"Transaction #{txn.pk} was already reversed by "
                    f"#{result.transaction_id}.",
                    level=messages.WARNING,
                )
            else:
                posted.append(result.transaction_id)

        response = reason_action(
            self, request, queryset, title="Reverse transactions", apply=apply
        )
        if response is None and posted:
            self.message_user(
                request,
                "Posted reversal(s): " + ", ".join(f"#{pk}" for pk in posted),
            )
        return response


@admin.register(Entry)
class EntryAdmin(PlayerIdLookupMixin, TenantScopedAdmin):
    read_only = True
    extra_lookups = ("account__player__id__exact", "account__id__exact")
    list_display = [
        "id",
        "tenant",
        "transaction_link",
        "kind",
        "account",
        "amount",
        "balance_after",
        "created_at",
    ]
    list_filter = [TenantFilter, CurrencyFilter, "created_at"]
    list_select_related = ["tenant", "transaction", "account"]
    search_fields = ["=transaction__id", "=account__id"]
    search_help_text = "A transaction id or an account id."
    raw_id_fields = ["transaction", "account"]
    exclude = ["amount_minor", "balance_after_minor"]  # shown in major units below
    readonly_fields = ["amount", "balance_after"]

    def get_search_results(self, request, queryset, search_term):
        if search_term.strip() and not search_term.strip().isdigit():
            return queryset.none(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="Transaction")
    def transaction_link(self, obj: Entry) -> str:
        url = reverse(
            "admin:wallet_journaltransaction_change", args=[obj.transaction_id]
        )
        return format_html('<a href="{}">#{}</a>', url, obj.transaction_id)

    @admin.display(description="Kind")
    def kind(self, obj: Entry) -> str:
        return obj.transaction.get_kind_display()

    @admin.display(description="Amount")
    def amount(self, obj: Entry) -> str:
        return format_money_html(obj.amount_minor, obj.currency)

    @admin.display(description="Balance after")
    def balance_after(self, obj: Entry) -> str:
        return format_money_html(obj.balance_after_minor, obj.currency)


@admin.register(Hold)
class HoldAdmin(PlayerIdLookupMixin, TenantScopedAdmin):
    read_only = True
    extra_lookups = ("player__id__exact",)
    list_display = [
        "id",
        "tenant",
        "player",
        "amount",
        "state",
        "reference",
        "created_at",
    ]
    list_filter = [TenantFilter, "state", CurrencyFilter, "created_at"]
    list_select_related = ["tenant", "player"]
    search_fields = ["=id", "=player__id", "=reference"]
    raw_id_fields = ["player", "place_transaction", "resolve_transaction"]
    exclude = ["amount_minor"]  # shown as "Amount", in major units
    readonly_fields = ["amount"]

    @admin.display(description="Amount")
    def amount(self, obj: Hold) -> str:
        return format_money_html(obj.amount_minor, obj.currency)


# The findings admin registers with the ledger's admins.
from wallet import admin_findings  # noqa: E402, F401
