"""The operator's withdrawal queue and review page.

Registered from ``PaymentsConfig.ready()`` (not an ``admin.py``) because the review
actions start payouts, which the wallet app may not import. Every action is a POST
to its own URL and calls the same services as the API; each locks the withdrawal row
and treats a repeat as a no-op, so a double click or two operators at once give one
outcome and one audit row.
"""

from __future__ import annotations

import math
from datetime import timedelta

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse

from common import clock
from common.actors import Actor
from common.currency import format_money, format_money_html
from common.errors import ApplicationError
from payments.providers.registry import provider_operator_settles_payouts
from payments.reconciliation import payout_attempt_settle
from payments.withdrawals.closed_loop import withdrawal_payout_plan
from payments.withdrawals.manual import (
    manual_payout_mark_failed,
    manual_payout_mark_paid,
)
from payments.withdrawals.services import (
    payout_retry,
    withdrawal_review_approve,
    withdrawal_review_reject,
)
from tenants.admin import CurrencyFilter, TenantScopedAdmin, is_operator
from tenants.selectors import tenant_list_for_operator
from tenants.services import tenant_policy_get
from wallet.compliance.risk import withdrawal_review_reasons
from wallet.models import PayoutAttempt, Withdrawal
from wallet.selectors import balance_list, player_entry_list, withdrawal_list


class OperatorTenantFilter(admin.SimpleListFilter):
    title = "brand"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        return [
            (tenant.pk, tenant.name)
            for tenant in tenant_list_for_operator(user=request.user)
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(tenant_id=self.value())
        return queryset


class AmountFilter(admin.SimpleListFilter):
    title = "amount"
    parameter_name = "amount"
    # Minor units, so 100.00 in a two-decimal currency is 10000.
    BANDS = {
        "small": ("under 100.00", None, 10_000),
        "medium": ("100.00 – 1,000.00", 10_000, 100_000),
        "large": ("1,000.00 and more", 100_000, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        _, low, high = self.BANDS[self.value()]
        if low is not None:
            queryset = queryset.filter(amount_minor__gte=low)
        if high is not None:
            queryset = queryset.filter(amount_minor__lt=high)
        return queryset


class AgeFilter(admin.SimpleListFilter):
    title = "age"
    parameter_name = "age"
    BANDS = {
        "1h": ("under an hour", None, 1),
        "24h": ("1 to 24 hours", 1, 24),
        "old": ("over 24 hours", 24, None),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _, _) in self.BANDS.items()]

    def queryset(self, request, queryset):
        if self.value() not in self.BANDS:
            return queryset
        _, min_hours, max_hours = self.BANDS[self.value()]
        now = clock.now()
        if min_hours is not None:
            queryset = queryset.filter(
                requested_at__lte=now - timedelta(hours=min_hours)
            )
        if max_hours is not None:
            queryset = queryset.filter(
                requested_at__gt=now - timedelta(hours=max_hours)
            )
        return queryset


class SecondApprovalFilter(admin.SimpleListFilter):
    """Issue 13: the checker's queue, withdrawals one operator approved already."""

    title = "maker-checker"
    parameter_name = "second_approval"

    def lookups(self, request, model_admin):
        return [("awaiting", "awaiting a second approval")]

    def queryset(self, request, queryset):
        if self.value() == "awaiting":
            return queryset.filter(
                state=Withdrawal.State.REQUESTED, first_approved_by__isnull=False
            )
        return queryset


def risk_flags(withdrawal: Withdrawal) -> list[str]:
    """What an operator should look at twice before approving: the same reasons that
    kept the withdrawal from auto-approval (issue 13), read without writing."""
    flags = withdrawal_review_reasons(
        player=withdrawal.player,
        currency=withdrawal.currency,
        amount_minor=withdrawal.amount_minor,
        evaluate=False,
    )
    if withdrawal.attempts.filter(state=PayoutAttempt.State.UNKNOWN).exists():
        flags.append(
            "A payout attempt's outcome is unknown: check the bank before marking it."
        )
    return flags


def payout_plan_rows(withdrawal: Withdrawal) -> dict:
    """The closed-loop split (issue 13) as the review page shows it."""
    plan = withdrawal_payout_plan(withdrawal=withdrawal)
    currency = plan.currency
    return {
        "legs": [
            {
                "kind": "Refund to deposit"
                if leg.kind == "refund"
                else "Bank transfer",
                "deposit_id": leg.deposit_id,
                "provider": leg.provider,
                "amount": format_money(leg.amount_minor, currency),
            }
            for leg in plan.legs
        ],
        "bank_name_matches": plan.bank_name_matches,
        "payable": plan.payable,
        "first_approved_by": withdrawal.first_approved_by,
        "first_approved_at": withdrawal.first_approved_at,
    }


class WithdrawalAdmin(TenantScopedAdmin):
    change_form_template = "admin/wallet/withdrawal/review.html"
    list_display = [
        "id",
        "tenant",
        "player_email",
        "amount_display",
        "state",
        "age",
        "auto_approved",
        "requested_at",
    ]
    list_filter = [
        "state",
        OperatorTenantFilter,
        AmountFilter,
        AgeFilter,
        CurrencyFilter,
        SecondApprovalFilter,
    ]
    search_fields = ["player__email"]
    list_select_related = ["tenant", "player"]
    ordering = ["-id"]
    fields = [
        "tenant",
        "player",
        "state",
        "amount_display",
        "destination_masked",
        "auto_approved",
        "requested_at",
        "reviewed_by",
        "reviewed_at",
        "rejection_reason",
        "updated_at",
    ]
    readonly_fields = fields

    ACTIONS = ("approve", "reject", "mark-paid", "mark-failed", "retry", "ask-psp")

    @admin.display(description="player", ordering="player__email")
    def player_email(self, obj: Withdrawal) -> str:
        return obj.player.email

    @admin.display(description="amount", ordering="amount_minor")
    def amount_display(self, obj: Withdrawal) -> str:
        return format_money_html(obj.amount_minor, obj.currency)

    @admin.display(description="age", ordering="requested_at")
    def age(self, obj: Withdrawal) -> str:
        minutes = int((clock.now() - obj.requested_at).total_seconds() // 60)
        if minutes < 60:
            return f"{minutes} min"
        if minutes < 48 * 60:
            return f"{minutes // 60} h"
        return f"{minutes // 1440} d"

    # Withdrawals change only through the review actions, never through a form.
    def has_add_permission(self, request, *args):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def may_review(self, request) -> bool:
        return request.user.is_superuser or is_operator(request.user)

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        custom = [
            path(
                f"<path:object_id>/{action}/",
                self.admin_site.admin_view(self.review_action_view),
                {"action": action},
                name="{}_{}_".format(*info) + action.replace("-", "_"),
            )
            for action in self.ACTIONS
        ]
        return custom + super().get_urls()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        withdrawal = self.get_object(request, unquote(object_id))
        player = withdrawal.player
        attempts = list(withdrawal.attempts.order_by("number"))
        latest = attempts[-1] if attempts else None
        policy = tenant_policy_get(tenant=withdrawal.tenant)
        cooldown_left = 0
        if latest is not None and policy.payout_cooldown_seconds:
            elapsed = (clock.now() - latest.created_at).total_seconds()
            cooldown_left = max(0, math.ceil(policy.payout_cooldown_seconds - elapsed))
        context = {
            "withdrawal": withdrawal,
            "player": player,
            "balances": [
                {
                    "currency": b.currency,
                    "available": format_money(b.available_minor, b.currency),
                    "held": format_money(b.held_minor, b.currency),
                }
                for b in balance_list(player=player)
            ],
            "ledger_lines": [
                {
                    "entry": entry,
                    "amount": format_money(entry.amount_minor, entry.currency),
                    "balance_after": format_money(
                        entry.balance_after_minor, entry.currency
                    ),
                }
                for entry in player_entry_list(player=player)[:15]
            ],
            "recent_withdrawals": withdrawal_list(
                tenant_id=withdrawal.tenant_id, player=player
            )[:10],
            "attempts": attempts,
            "latest_attempt": latest,
            "open_attempt": latest
            if latest and latest.state in PayoutAttempt.OPEN_STATES
            else None,
            "operator_settles": latest is not None
            and provider_operator_settles_payouts(latest.provider),
            "risk_flags": risk_flags(withdrawal),
            "payout_plan": payout_plan_rows(withdrawal),
            "may_review": self.may_review(request),
            "retry_limit": policy.payout_retry_limit,
            "retries_used": max(0, len(attempts) - 1),
            "cooldown_left": cooldown_left,
            "W": Withdrawal.State,
        }
        context.update(extra_context or {})
        return super().change_view(request, object_id, form_url, context)

    def review_action_view(self, request, object_id, action):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        withdrawal = self.get_object(request, unquote(object_id))
        if not self.may_review(request):
            raise PermissionDenied
        actor = Actor.for_user(request.user)
        post = request.POST
        try:
            outcome = self._perform(action, withdrawal, actor, post)
        except ApplicationError as error:
            self.report_error(request, error)
        else:
            self.message_user(
                request,
                outcome,
                level=messages.SUCCESS
                if not outcome.startswith("Nothing")
                else messages.WARNING,
            )
        info = self.opts.app_label, self.opts.model_name
        return redirect(
            reverse("admin:{}_{}_change".format(*info), args=[withdrawal.pk])
        )

    def _attempt(self, withdrawal: Withdrawal, post) -> PayoutAttempt:
        attempt = withdrawal.attempts.filter(pk=post.get("attempt") or 0).first()
        if attempt is None:
            raise Http404("No such payout attempt")
        return attempt

    def _perform(self, action: str, withdrawal: Withdrawal, actor: Actor, post) -> str:
        nothing = "Nothing to do: someone already did this."
        if action == "retry":
            attempt = payout_retry(
                withdrawal=withdrawal,
                actor=actor,
                by_player=False,
                after_attempt_id=self._attempt(withdrawal, post).pk,
            )
            return f"Payout attempt {attempt.number} started." if attempt else nothing
        if action == "ask-psp":
            # An unknown outcome is settled by asking the PSP, the same code
            # reconcile_payouts runs; never by an operator's guess.
            finding = payout_attempt_settle(attempt=self._attempt(withdrawal, post))
            return f"Asked {finding.provider}: {finding.outcome} ({finding.detail})."
        with transaction.atomic(durable=True):
            if action == "approve":
                approved, changed = withdrawal_review_approve(
                    withdrawal=withdrawal, actor=actor
                )
                done = (
                    "First approval recorded; a second operator must approve."
                    if approved.state == Withdrawal.State.REQUESTED
                    else "Approved; the payout is pending."
                )
            elif action == "reject":
                _, changed = withdrawal_review_reject(
                    withdrawal=withdrawal, actor=actor, reason=post.get("reason", "")
                )
                done = "Rejected; the funds are back in the player's balance."
            elif action == "mark-paid":
                _, changed = manual_payout_mark_paid(
                    attempt=self._attempt(withdrawal, post),
                    actor=actor,
                    bank_reference=post.get("bank_reference", ""),
                )
                done = "Marked paid."
            elif action == "mark-failed":
                _, changed = manual_payout_mark_failed(
                    attempt=self._attempt(withdrawal, post),
                    actor=actor,
                    reason=post.get("reason", ""),
                )
                done = "Marked failed; the funds stay held until a retry or rejection."
            else:  # pragma: no cover - the URLs list every action
                raise Http404
        return done if changed else nothing


admin.site.register(Withdrawal, WithdrawalAdmin)
