"""Money reads in major units with its currency on every admin and portal page.

Registry-driven: every admin-registered model's changelist and the change page of
its first row are rendered for a superuser, with a brand holding a row of every
model (tests/admin/conftest.py) plus postings of distinctive amounts, and scanned for
money shown in minor units: an integer followed by a currency code ("12000 EUR"),
a label or text saying "minor" (a raw ``*_minor`` field or "(minor units)"), or one
of the distinctive minor amounts as a bare number. Pages that show raw data on
purpose (the audit trail's before/after JSON, a webhook's raw body, a transaction's
metadata) are scanned for the first only."""

import re

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.urls import reverse

from tests.factories import fund
from tests.portal.test_portal import login
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet.models import Deposit, Entry, Hold, Withdrawal

pytestmark = pytest.mark.django_db

DISTINCT_CREDIT = 987_654  # shown as 9876.54 EUR
DISTINCT_WITHDRAWAL = 123_457  # shown as 1234.57 EUR
RAW_WITH_CODE = re.compile(r"(?<![\d.,])-?\d+\s+(EUR|USD|GBP|KWD)\b")
# A column or field labelled "... minor" ("Amount minor", "Refunded minor") is a raw
# minor-unit model field put on the page.
MINOR_LABEL = re.compile(r">[^<>]*\bminor\b[^<>]*<", re.IGNORECASE)
RAW_DATA_PAGES = {"auditevent", "webhookinbox", "journaltransaction"}


def _raw_minor_display(page: str, *, strict: bool) -> list[str]:
    found = [m.group(0) for m in RAW_WITH_CODE.finditer(page)]
    if strict:
        found += MINOR_LABEL.findall(page)
        for amount in (DISTINCT_CREDIT, DISTINCT_WITHDRAWAL):
            found += re.findall(rf"(?<![\d.]){amount}(?![\d.])", page)
    return found


@pytest.fixture
def money_rows(brand_a):
    fund(brand_a.player, DISTINCT_CREDIT)
    payee = verified_player(
        tenant=brand_a.tenant, email="money-payee@example.com", balance_minor=0
    )
    fund(payee, DISTINCT_WITHDRAWAL)
    withdrawal = withdrawal_requested(payee, DISTINCT_WITHDRAWAL, key="money-w")
    return brand_a, payee, withdrawal


def test_no_admin_page_shows_money_in_minor_units(money_rows, superuser_client):
    request = RequestFactory().get("/")
    request.user = get_user_model().objects.get(username="root")
    problems = {}
    pages = 0
    for model, model_admin in admin.site._registry.items():
        opts = model._meta
        name = f"admin:{opts.app_label}_{opts.model_name}"
        urls = [reverse(f"{name}_changelist")]
        obj = model_admin.get_queryset(request).order_by("-pk").first()
        if obj is not None:
            urls.append(reverse(f"{name}_change", args=[obj.pk]))
        strict = opts.model_name not in RAW_DATA_PAGES
        for url in urls:
            response = superuser_client.get(url)
            assert response.status_code == 200, url
            pages += 1
            found = _raw_minor_display(response.content.decode(), strict=strict)
            if found:
                problems[url] = found
    assert pages > 20
    assert problems == {}


def test_the_withdrawal_review_page_shows_major_units(money_rows, superuser_client):
    _, payee, withdrawal = money_rows
    page = superuser_client.get(
        reverse("admin:wallet_withdrawal_change", args=[withdrawal.pk])
    ).content.decode()
    assert f"Withdrawal #{withdrawal.pk} 1234.57 EUR" in page  # the title
    assert "1234.57 EUR" in page.split('id="recent-withdrawals"')[1]
    ledger = page.split('id="ledger-lines"')[1]
    assert "-1234.57 EUR" in ledger and "0.00 EUR" in ledger  # amount, balance after
    assert _raw_minor_display(page, strict=True) == []


def test_the_player_page_shows_balances_and_lines_in_major_units(
    money_rows, superuser_client
):
    brand, _, _ = money_rows
    page = superuser_client.get(
        reverse("admin:casino_player_change", args=[brand.player.pk])
    ).content.decode()
    assert "9876.54 EUR" in page
    assert _raw_minor_display(page, strict=True) == []


def test_the_portal_wallet_shows_money_in_major_units(money_rows, client):
    _, payee, _ = money_rows
    login(client, payee)
    page = client.get(f"/wallet/?tenant={payee.tenant.slug}").content.decode()
    assert "Transaction history" in page
    assert 'data-testid="held-EUR">1234.57 EUR<' in page
    assert _raw_minor_display(page, strict=True) == []


def test_model_str_shows_major_units(money_rows):
    _, payee, withdrawal = money_rows
    assert str(withdrawal) == f"Withdrawal #{withdrawal.pk} 1234.57 EUR (requested)"
    hold = Hold.objects.filter(player=payee).latest("pk")
    assert str(hold) == f"Hold #{hold.pk} 1234.57 EUR (pending)"
    entry = Entry.objects.filter(amount_minor=DISTINCT_CREDIT).first()
    assert str(entry).startswith("+9876.54 EUR on account ")
    for deposit in Deposit.objects.all():
        assert re.fullmatch(
            rf"Deposit #{deposit.pk} \d+\.\d\d EUR \(\w+\)", str(deposit)
        )
    assert Withdrawal.objects.exists()
