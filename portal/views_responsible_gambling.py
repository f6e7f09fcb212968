"""The player's "Safer gambling" page (issue 13): see and set deposit limits,
confirm a raised limit after its cooling-off, take a time-out or self-exclude.
Same services as the API; nothing here can lift or shorten an exclusion."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render

from casino.exclusions.selectors import player_exclusion_active_get
from casino.exclusions.services import (
    TIME_OUT_MAX_HOURS,
    TIME_OUT_MIN_HOURS,
    player_self_exclusion_start,
    player_time_out_start,
)
from common.currency import format_money, to_major, to_minor
from common.errors import ApplicationError
from portal.session import portal_view
from wallet.compliance.deposit_limits import (
    deposit_limit_usage_list,
    player_deposit_limit_confirm,
    player_deposit_limit_set,
)
from wallet.models import PlayerDepositLimit


class LimitForm(forms.Form):
    currency = forms.ChoiceField()
    period = forms.ChoiceField(choices=PlayerDepositLimit.Period.choices)
    amount = forms.DecimalField(
        max_digits=18,
        decimal_places=3,
        min_value=0,
        required=False,
        help_text="Leave empty to remove the limit (after 24 hours).",
    )

    def __init__(self, *args, currencies: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["currency"].choices = [(c, c) for c in currencies]


class ConfirmForm(forms.Form):
    currency = forms.CharField(max_length=3)
    period = forms.ChoiceField(choices=PlayerDepositLimit.Period.choices)


class TimeOutForm(forms.Form):
    hours = forms.TypedChoiceField(
        coerce=int,
        choices=[(24, "24 hours"), (72, "3 days"), (168, "1 week"), (1008, "6 weeks")],
    )


class SelfExclusionForm(forms.Form):
    duration = forms.ChoiceField(
        choices=[
            ("6", "6 months"),
            ("12", "1 year"),
            ("60", "5 years"),
            ("permanent", "Permanently"),
        ]
    )
    confirm = forms.BooleanField(
        label="I understand this cannot be undone before it ends."
    )


def _currencies(tenant) -> list[str]:
    return [tenant.default_currency] + [
        c for c in (tenant.allowed_currencies or []) if c != tenant.default_currency
    ]


def _apply(request, action: str, currencies: list[str]):
    """Run one POSTed action; returns the form with errors, or None when done."""
    player = request.player
    if action == "limit":
        form = LimitForm(request.POST, currencies=currencies)
        if not form.is_valid():
            return form
        data = form.cleaned_data
        amount = data["amount"]
        with transaction.atomic(durable=True):
            limit = player_deposit_limit_set(
                player=player,
                currency=data["currency"],
                period=data["period"],
                amount_minor=None
                if amount is None
                else to_minor(amount, data["currency"]),
            )
        if limit.has_pending_change:
            messages.info(
                request,
                "Your higher limit (or removal) can be confirmed from "
                f"{limit.pending_available_at:%Y-%m-%d %H:%M} UTC; until then the "
                "current limit applies.",
            )
        else:
            messages.success(request, "Your deposit limit applies now.")
    elif action == "confirm":
        form = ConfirmForm(request.POST)
        if not form.is_valid():
            return form
        with transaction.atomic(durable=True):
            player_deposit_limit_confirm(player=player, **form.cleaned_data)
        messages.success(request, "Your new deposit limit applies now.")
    elif action == "time_out":
        form = TimeOutForm(request.POST)
        if not form.is_valid():
            return form
        with transaction.atomic(durable=True):
            player_time_out_start(player=player, hours=form.cleaned_data["hours"])
        messages.success(request, "Your time-out has started.")
    elif action == "self_exclusion":
        form = SelfExclusionForm(request.POST)
        if not form.is_valid():
            return form
        duration = form.cleaned_data["duration"]
        with transaction.atomic(durable=True):
            player_self_exclusion_start(
                player=player,
                months=None if duration == "permanent" else int(duration),
                permanent=duration == "permanent",
            )
        messages.success(request, "Your self-exclusion has started.")
    return None


@portal_view(login_required=True)
def responsible_gambling(request):
    currencies = _currencies(request.tenant)
    error_form = None
    if request.method == "POST":
        try:
            error_form = _apply(request, request.POST.get("action", ""), currencies)
        except ApplicationError as error:
            messages.error(request, f"{error.message} ({error.code})")
        if error_form is None:
            return redirect("portal:responsible-gambling")
    limits = [
        {
            "currency": u.limit.currency,
            "period": u.limit.period,
            "period_label": u.limit.get_period_display(),
            "amount": "none"
            if u.limit.amount_minor is None
            else format_money(u.limit.amount_minor, u.limit.currency),
            "remaining": ""
            if u.remaining_minor is None
            else format_money(u.remaining_minor, u.limit.currency),
            "resets_at": u.resets_at,
            "pending": u.limit.has_pending_change,
            "pending_amount": "removal"
            if u.limit.pending_removal
            else f"{to_major(u.limit.pending_amount_minor or 0, u.limit.currency)} "
            f"{u.limit.currency}",
            "confirmable_from": u.limit.pending_available_at,
        }
        for u in deposit_limit_usage_list(player=request.player)
    ]
    return render(
        request,
        "portal/responsible_gambling.html",
        {
            "exclusion": player_exclusion_active_get(player=request.player),
            "limits": limits,
            "limit_form": LimitForm(currencies=currencies),
            "time_out_form": TimeOutForm(),
            "self_exclusion_form": SelfExclusionForm(),
            "error_form": error_form,
            "time_out_bounds": (TIME_OUT_MIN_HOURS, TIME_OUT_MAX_HOURS),
        },
    )
