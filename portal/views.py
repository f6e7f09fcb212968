"""Server-rendered player pages, calling the same services as the API."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from casino.services import player_authenticate, player_register
from common.actors import Actor
from common.currency import to_major, to_minor
from common.errors import ApplicationError
from payments.apis import deposit_return_url
from payments.exceptions import DepositCheckoutPending
from payments.payouts import withdrawal_submit
from payments.services import deposit_start
from portal.forms import DepositForm, LoginForm, RegisterForm, WithdrawalForm
from portal.session import player_login, player_logout, portal_view
from wallet.selectors import (
    balance_list,
    deposit_get,
    deposit_list,
    player_entry_list,
    withdrawal_get,
    withdrawal_list,
)
from wallet.services import withdrawal_cancel

HISTORY_ROWS = 50


def _error_text(error: ApplicationError) -> str:
    fields = error.details.get("fields")
    if isinstance(fields, dict):
        flat = "; ".join(
            f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in fields.items()
        )
        return f"{error.message} {flat}"
    return error.message


@portal_view(login_required=False)
def home(request):
    return redirect("portal:wallet" if request.player else "portal:login")


@portal_view(login_required=False, ratelimit_group="register")
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic(durable=True):
                player_register(tenant=request.tenant, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, f"{_error_text(error)} ({error.code})")
        else:
            messages.success(request, "Your account is ready. Please log in.")
            return redirect("portal:login")
    return render(request, "portal/register.html", {"form": form})


@portal_view(login_required=False, ratelimit_group="login")
def login(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            player = player_authenticate(tenant=request.tenant, **form.cleaned_data)
        except ApplicationError as error:
            form.add_error(None, f"{error.message} ({error.code})")
        else:
            player_login(request, player)
            return redirect("portal:wallet")
    return render(request, "portal/login.html", {"form": form})


@require_POST
@portal_view(login_required=False)
def logout(request):
    player_logout(request)
    return redirect("portal:login")


@portal_view(login_required=True)
def wallet(request):
    player = request.player
    balances = [
        {
            "currency": b.currency,
            "available": to_major(b.available_minor, b.currency),
            "held": to_major(b.held_minor, b.currency),
        }
        for b in balance_list(player=player)
    ]
    history = [
        {
            "created_at": entry.created_at,
            "kind": entry.transaction.get_kind_display(),
            "reference": entry.transaction.reference,
            "bucket": "held" if entry.account.kind == "player_held" else "available",
            "amount": to_major(entry.amount_minor, entry.currency),
            "currency": entry.currency,
            "balance_after": to_major(entry.balance_after_minor or 0, entry.currency),
        }
        for entry in player_entry_list(player=player)[:HISTORY_ROWS]
    ]
    deposits = [
        {"deposit": d, "amount": to_major(d.amount_minor, d.currency)}
        for d in deposit_list(player=player)[:HISTORY_ROWS]
    ]
    withdrawals = [
        {"withdrawal": w, "amount": to_major(w.amount_minor, w.currency)}
        for w in withdrawal_list(tenant_id=request.tenant.pk, player=player)[
            :HISTORY_ROWS
        ]
    ]
    return render(
        request,
        "portal/wallet.html",
        {
            "balances": balances,
            "history": history,
            "deposits": deposits,
            "withdrawals": withdrawals,
        },
    )


def _currencies(tenant) -> list[str]:
    return list(dict.fromkeys([tenant.default_currency, *tenant.allowed_currencies]))


@portal_view(login_required=True, ratelimit_group="deposit")
def deposit_new(request):
    currencies = _currencies(request.tenant)
    if request.method == "POST":
        form = DepositForm(request.POST, currencies=currencies)
        if form.is_valid():
            data = form.cleaned_data
            try:
                deposit = deposit_start(
                    player=request.player,
                    amount_minor=to_minor(data["amount"], data["currency"]),
                    currency=data["currency"],
                    idempotency_key=f"portal-{data['idempotency_key']}",
                    return_url_for=lambda d: deposit_return_url(request, d),
                )
            except DepositCheckoutPending as pending:  # the PSP is slow: poll
                return redirect(
                    "portal:deposit-status", deposit_id=pending.details["deposit_id"]
                )
            except ApplicationError as error:
                form.add_error(None, f"{_error_text(error)} ({error.code})")
            else:
                if deposit.checkout_url and not deposit.is_final:
                    return redirect(deposit.checkout_url)
                return redirect("portal:deposit-status", deposit_id=deposit.pk)
        # A new key for the next attempt, so a corrected form is a new deposit.
        form.data = form.data.copy()
        form.data["idempotency_key"] = uuid.uuid4().hex
    else:
        form = DepositForm(
            initial={
                "currency": request.tenant.default_currency,
                "idempotency_key": uuid.uuid4().hex,
            },
            currencies=currencies,
        )
    return render(request, "portal/deposit_new.html", {"form": form})


@portal_view(login_required=True)
def deposit_status(request, deposit_id: int):
    try:
        deposit = deposit_get(player=request.player, deposit_id=deposit_id)
    except ApplicationError as error:
        return render(
            request, "portal/error.html", {"error": error}, status=error.http_status
        )
    return render(
        request,
        "portal/deposit_status.html",
        {
            "deposit": deposit,
            "amount": to_major(deposit.amount_minor, deposit.currency),
            "refresh": not deposit.is_final,
        },
    )


@portal_view(login_required=True, ratelimit_group="withdrawal")
def withdraw(request):
    currencies = _currencies(request.tenant)
    form = WithdrawalForm(
        request.POST or None,
        initial={
            "currency": request.tenant.default_currency,
            "idempotency_key": uuid.uuid4().hex,
        },
        currencies=currencies,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            with transaction.atomic(durable=True):
                withdrawal, _ = withdrawal_submit(
                    player=request.player,
                    amount_minor=to_minor(data["amount"], data["currency"]),
                    currency=data["currency"],
                    destination={
                        "type": "iban",
                        "iban": data["iban"],
                        "holder_name": data["holder_name"],
                    },
                    idempotency_key=f"portal-{data['idempotency_key']}",
                )
        except ApplicationError as error:
            form.add_error(None, f"{_error_text(error)} ({error.code})")
            # A new key for the next attempt, so a corrected form is a new request.
            form.data = form.data.copy()
            form.data["idempotency_key"] = uuid.uuid4().hex
        else:
            messages.success(
                request,
                f"Withdrawal #{withdrawal.pk} requested: "
                f"{to_major(withdrawal.amount_minor, withdrawal.currency)} "
                f"{withdrawal.currency} ({withdrawal.state}).",
            )
            return redirect("portal:wallet")
    return render(request, "portal/withdraw.html", {"form": form})


@require_POST
@portal_view(login_required=True)
def withdrawal_cancel_view(request, withdrawal_id: int):
    try:
        with transaction.atomic(durable=True):
            withdrawal = withdrawal_get(
                tenant_id=request.tenant.pk,
                player=request.player,
                withdrawal_id=withdrawal_id,
            )
            withdrawal_cancel(
                withdrawal=withdrawal, actor=Actor.for_player(request.player)
            )
    except ApplicationError as error:
        messages.error(request, f"{error.message} ({error.code})")
    else:
        messages.success(request, f"Withdrawal #{withdrawal_id} canceled.")
    return redirect("portal:wallet")
