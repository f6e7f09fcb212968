"""Server-rendered player pages, calling the same services as the API."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from django_ratelimit.exceptions import Ratelimited

from casino.apis import portal_url
from casino.exceptions import InvalidCredentials
from casino.password_reset import (
    player_password_reset_check,
    player_password_reset_confirm,
    player_password_reset_request,
)
from casino.services import player_logout as player_logout_record
from casino.services import player_portal_login, player_signup
from common.actors import Actor
from common.currency import format_money, to_minor
from common.dberrors import atomic_action
from common.errors import ApplicationError, RateLimited
from common.ratelimit import account_ratelimit_check, account_ratelimit_count
from payments.deposits.apis import deposit_return_url
from payments.deposits.services import deposit_start
from payments.exceptions import DepositCheckoutPending
from payments.withdrawals.services import (
    withdrawal_cancel_by_player,
    withdrawal_submit,
)
from portal.forms import (
    DepositForm,
    LoginForm,
    PasswordResetConfirmForm,
    PasswordResetRequestForm,
    RegisterForm,
    WithdrawalForm,
)
from portal.session import player_login, player_logout, portal_view
from wallet.selectors import (
    balance_list,
    deposit_get,
    deposit_list,
    player_entry_list,
    withdrawal_get,
    withdrawal_list,
)

HISTORY_ROWS = 50


# Amounts a refusal's details carry in minor units, shown to the player in major ones.
_MONEY_DETAILS = ("minimum", "maximum", "remaining")


def _error_text(error: ApplicationError) -> str:
    fields = error.details.get("fields")
    if isinstance(fields, dict):
        flat = "; ".join(
            f"{name}: {' '.join(map(str, msgs if isinstance(msgs, list) else [msgs]))}"
            for name, msgs in fields.items()
        )
        return f"{error.message} {flat}"
    currency = error.details.get("currency")
    amounts = [
        f"{key} {format_money(error.details[key], currency)}"
        for key in _MONEY_DETAILS
        if isinstance(error.details.get(key), int) and isinstance(currency, str)
    ]
    if amounts:
        return f"{error.message} ({', '.join(amounts)})"
    return error.message


@portal_view(login_required=False)
def home(request):
    return redirect("portal:wallet" if request.player else "portal:login")


@portal_view(login_required=False, ratelimit_group="register")
def register(request):
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with atomic_action():
                player_signup(
                    tenant=request.tenant,
                    login_url=portal_url(request, "portal:login"),
                    reset_url=portal_url(request, "portal:password-reset"),
                    **form.cleaned_data,
                )
        except ApplicationError as error:
            form.add_error(None, f"{_error_text(error)} ({error.code})")
        else:
            # The same words whether the email was new or already registered.
            messages.success(
                request, "Registered. We sent you an email; you can log in now."
            )
            return redirect("portal:login")
    return render(request, "portal/register.html", {"form": form})


@portal_view(login_required=False, ratelimit_group="login")
def login(request):
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        account = f"{request.tenant.pk}:{form.cleaned_data['email']}"
        try:
            account_ratelimit_check(request, group="login_account", account=account)
            with atomic_action():
                player = player_portal_login(tenant=request.tenant, **form.cleaned_data)
        except Ratelimited as exc:
            error = RateLimited(retry_after=exc.retry_after)
            form.add_error(None, f"{error.message} ({error.code})")
        except ApplicationError as error:
            if isinstance(error, InvalidCredentials):
                account_ratelimit_count(request, group="login_account", account=account)
            form.add_error(None, f"{error.message} ({error.code})")
        else:
            player_login(request, player)
            return redirect("portal:wallet")
    return render(request, "portal/login.html", {"form": form})


@require_POST
@portal_view(login_required=False)
def logout(request):
    if request.player is not None:
        with atomic_action():
            player_logout_record(player=request.player, token=None)
    player_logout(request)
    return redirect("portal:login")


@portal_view(login_required=False, ratelimit_group="password_reset")
def password_reset(request):
    form = PasswordResetRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with atomic_action():
            player_password_reset_request(
                tenant=request.tenant,
                email=form.cleaned_data["email"],
                link_for=lambda uid, token: portal_url(
                    request, "portal:password-reset-confirm", uid, token
                ),
            )
        messages.success(
            request,
            "If this email has an account, we sent it a link to choose a new password.",
        )
        return redirect("portal:login")
    return render(request, "portal/password_reset.html", {"form": form})


@portal_view(login_required=False, ratelimit_group="password_reset")
def password_reset_confirm(request, uid: str, token: str):
    try:
        player_password_reset_check(tenant=request.tenant, uid=uid, token=token)
    except ApplicationError as error:
        return render(
            request, "portal/error.html", {"error": error}, status=error.http_status
        )
    form = PasswordResetConfirmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with atomic_action():
                player_password_reset_confirm(
                    tenant=request.tenant,
                    uid=uid,
                    token=token,
                    new_password=form.cleaned_data["new_password"],
                )
        except ApplicationError as error:
            form.add_error(None, f"{_error_text(error)} ({error.code})")
        else:
            player_logout(request)
            messages.success(request, "Your password is changed. Please log in.")
            return redirect("portal:login")
    return render(request, "portal/password_reset_confirm.html", {"form": form})


@portal_view(login_required=True)
def wallet(request):
    player = request.player
    balances = [
        {
            "currency": b.currency,
            "available": format_money(b.available_minor, b.currency),
            "held": format_money(b.held_minor, b.currency),
        }
        for b in balance_list(player=player)
    ]
    history = [
        {
            "created_at": entry.created_at,
            "kind": entry.transaction.get_kind_display(),
            "reference": entry.transaction.reference,
            "bucket": "held" if entry.account.kind == "player_held" else "available",
            "amount": format_money(entry.amount_minor, entry.currency),
            "currency": entry.currency,
            "balance_after": format_money(entry.balance_after_minor, entry.currency),
        }
        for entry in player_entry_list(player=player)[:HISTORY_ROWS]
    ]
    deposits = [
        {"deposit": d, "amount": format_money(d.amount_minor, d.currency)}
        for d in deposit_list(player=player)[:HISTORY_ROWS]
    ]
    withdrawals = [
        {"withdrawal": w, "amount": format_money(w.amount_minor, w.currency)}
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
                deposit, _ = deposit_start(
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
            "amount": format_money(deposit.amount_minor, deposit.currency),
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
            with atomic_action():
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
                f"{format_money(withdrawal.amount_minor, withdrawal.currency)} "
                f"({withdrawal.state}).",
            )
            return redirect("portal:wallet")
    return render(request, "portal/withdraw.html", {"form": form})


@require_POST
@portal_view(login_required=True)
def withdrawal_cancel_view(request, withdrawal_id: int):
    try:
        with atomic_action():
            withdrawal = withdrawal_get(
                tenant_id=request.tenant.pk,
                player=request.player,
                withdrawal_id=withdrawal_id,
            )
            withdrawal_cancel_by_player(
                withdrawal=withdrawal, actor=Actor.for_player(request.player)
            )
    except ApplicationError as error:
        messages.error(request, f"{error.message} ({error.code})")
    else:
        messages.success(request, f"Withdrawal #{withdrawal_id} canceled.")
    return redirect("portal:wallet")
