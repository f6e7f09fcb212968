"""The finance dashboard (an admin page) and its CSV export.

Thin: parse and check the request (the brand must be one of the operator's, the
dates a valid range of at most a year), call ``finance_dashboard``, render."""

from __future__ import annotations

import csv
from datetime import timedelta

from django import forms
from django.contrib import admin
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse

from common import clock
from common.currency import format_money as money
from common.currency import to_major
from reconciliation.dashboard.charts import bar_chart_svg
from reconciliation.selectors import SERIES, finance_dashboard
from tenants.admin import is_operator
from tenants.selectors import tenant_list_for_operator

MAX_DAYS = 366


class DashboardForm(forms.Form):
    tenant = forms.ModelChoiceField(queryset=None, required=False)
    currency = forms.CharField(max_length=3, required=False)
    start = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["tenant"].queryset = tenant_list_for_operator(user=user).order_by(
            "name"
        )

    def clean(self):
        data = super().clean()
        tenants = self.fields["tenant"].queryset
        data["tenant"] = data.get("tenant") or tenants.first()
        if data["tenant"] is None:
            raise forms.ValidationError("You have no brand to show.")
        today = clock.now().date()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=29)
        if data["start"] > data["end"]:
            raise forms.ValidationError("The start is after the end.")
        if (data["end"] - data["start"]).days >= MAX_DAYS:
            raise forms.ValidationError(f"At most {MAX_DAYS} days at a time.")
        data["currency"] = (
            (data.get("currency") or data["tenant"].default_currency).upper().strip()
        )
        return data


def _board(request):
    if not (request.user.is_superuser or is_operator(request.user)):
        raise Http404("Not found")
    form = DashboardForm(request.GET, user=request.user)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    board = finance_dashboard(
        tenant_id=data["tenant"].pk,
        currency=data["currency"],
        start=data["start"],
        end=data["end"],
    )
    return form, board


def dashboard_view(request):
    form, board = _board(request)
    context = {
        **admin.site.each_context(request),
        "title": "Finance dashboard",
        "form": form,
        "board": board,
    }
    if board is not None:
        currency = board.currency
        labels = [day.day.isoformat() for day in board.days]

        def fmt(value: int) -> str:
            return money(value, currency)

        context["charts"] = [
            bar_chart_svg(
                title=f"Daily {name} ({currency})",
                labels=labels,
                values=[getattr(day, name) for day in board.days],
                format_value=fmt,
                color=color,
            )
            for name, color in zip(
                (*SERIES, "net"),
                ("#417690", "#ba2121", "#c98a00", "#7a3e9d", "#2b7a3b"),
                strict=True,
            )
        ]
        context["totals"] = [
            (name, fmt(board.total(name))) for name in (*SERIES, "net")
        ]
        context["pending_holds"] = fmt(board.pending_holds_minor)
        context["queue"] = [
            (label, count, fmt(amount))
            for label, count, amount in board.withdrawal_queue
        ]
        context["rows"] = [
            (day.day, *(fmt(getattr(day, name)) for name in (*SERIES, "net")))
            for day in board.days
        ]
        context["csv_query"] = request.GET.urlencode()
    return TemplateResponse(request, "admin/reconciliation/dashboard.html", context)


def dashboard_csv_view(request):
    form, board = _board(request)
    if board is None:
        return HttpResponse(
            "Invalid dashboard parameters.", status=400, content_type="text/plain"
        )
    response = HttpResponse(content_type="text/csv")
    slug = form.cleaned_data["tenant"].slug
    response["Content-Disposition"] = (
        f'attachment; filename="finance-{slug}-{board.currency}-'
        f'{board.start}-{board.end}.csv"'
    )
    writer = csv.writer(response)
    writer.writerow(
        [
            "day",
            "currency",
            "deposits",
            "deposits_count",
            "withdrawals",
            "withdrawals_count",
            "refunds",
            "chargebacks",
            "net",
        ]
    )
    for day in board.days:
        writer.writerow(
            [
                day.day.isoformat(),
                board.currency,
                to_major(day.deposits, board.currency),
                day.deposits_count,
                to_major(day.withdrawals, board.currency),
                day.withdrawals_count,
                to_major(day.refunds, board.currency),
                to_major(day.chargebacks, board.currency),
                to_major(day.net, board.currency),
            ]
        )
    return response
