"""Player protection and AML in the admin (issue 13).

Operators read a player's deposit limits, exclusions and risk flags on the player
page; nothing here can set or raise a limit or lift an exclusion (those belong to
the player). Risk flags are cleared through ``risk_flag_clear`` with a reason."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction
from django.template.loader import render_to_string

from casino.exclusions.selectors import (
    player_exclusion_active_get,
    player_exclusion_list,
)
from casino.models import Player
from common.actors import Actor
from common.currency import format_money, money_display
from tenants.admin import TenantFilter, TenantScopedAdmin, reason_action
from wallet.compliance.deposit_limits import deposit_limit_usage_list
from wallet.compliance.risk import risk_flag_clear
from wallet.models import PlayerDepositLimit, PlayerRiskFlag


def _money(amount_minor, currency) -> str:
    return "none" if amount_minor is None else format_money(amount_minor, currency)


def player_protection_html(player: Player) -> str:
    """The player page's read-only section: exclusion in force (also one set on a
    sibling brand), exclusion history, deposit limits with use and pending changes,
    and risk flags."""
    active = player_exclusion_active_get(player=player)
    limits = [
        {
            "period": usage.limit.get_period_display(),
            "limit": _money(usage.limit.amount_minor, usage.limit.currency),
            "used": _money(usage.used_minor, usage.limit.currency),
            "resets_at": usage.resets_at,
            "pending": (
                "removal"
                if usage.limit.pending_removal
                else _money(usage.limit.pending_amount_minor, usage.limit.currency)
            )
            if usage.limit.has_pending_change
            else "",
            "confirmable_from": usage.limit.pending_available_at,
        }
        for usage in deposit_limit_usage_list(player=player)
    ]
    return render_to_string(
        "admin/casino/player/protection.html",
        {
            "active": active,
            "active_elsewhere": active is not None and active.player_id != player.pk,
            "exclusions": player_exclusion_list(
                tenant_id=player.tenant_id, player=player
            )[:20],
            "limits": limits,
            "flags": PlayerRiskFlag.objects.filter(
                tenant_id=player.tenant_id, player=player
            ).order_by("-raised_at")[:20],
        },
    )


@admin.register(PlayerRiskFlag)
class PlayerRiskFlagAdmin(TenantScopedAdmin):
    """The AML/affordability queue: open flags first; clearing asks for a reason."""

    list_display = [
        "id",
        "tenant",
        "player",
        "kind",
        "currency",
        "raised_at",
        "cleared_at",
    ]
    list_filter = [TenantFilter, "kind", ("cleared_at", admin.EmptyFieldListFilter)]
    list_select_related = ["tenant", "player"]
    search_fields = ["=player__email"]
    ordering = ["-raised_at"]
    actions = ["clear_flags"]
    readonly_fields = [
        "tenant",
        "player",
        "kind",
        "currency",
        "reason",
        "details",
        "raised_at",
        "cleared_at",
        "cleared_by",
        "clear_reason",
    ]
    fields = readonly_fields

    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(
        description="Clear selected flags after the checks (asks for a reason)"
    )
    def clear_flags(self, request, queryset):
        actor = Actor.for_user(request.user)
        done: list[int] = []

        def apply(flag: PlayerRiskFlag, reason: str) -> None:
            if flag.cleared_at is not None:
                return
            with transaction.atomic(durable=True):
                risk_flag_clear(flag=flag, actor=actor, reason=reason)
            done.append(flag.pk)

        response = reason_action(
            self, request, queryset, title="Clear risk flags", apply=apply
        )
        if response is None:
            self.message_user(
                request, f"Cleared {len(done)} flag(s).", level=messages.SUCCESS
            )
        return response


@admin.register(PlayerDepositLimit)
class PlayerDepositLimitAdmin(TenantScopedAdmin):
    """Read-only for everybody: an operator can never set or raise a player's
    limit; only the player can, through the API or the portal."""

    read_only = True
    list_display = ["id", "tenant", "player", "period", "amount"]
    list_filter = [TenantFilter, "period", "currency"]
    exclude = ["amount_minor", "pending_amount_minor"]  # shown in major units
    readonly_fields = ["amount", "pending_amount"]
    amount = money_display(description="Limit")
    pending_amount = money_display("pending_amount_minor", description="Pending limit")
    list_select_related = ["tenant", "player"]
    search_fields = ["=player__email"]
    ordering = ["-id"]
