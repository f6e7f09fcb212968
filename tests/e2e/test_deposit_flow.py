"""A player deposits through the portal and the simulated Stripe checkout."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.factories import TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def register_and_log_in(page: Page, portal: str, slug: str, email: str) -> None:
    page.goto(f"{portal}/register/?tenant={slug}")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("long-enough-pass")
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(re.compile(r"/login/$"))
    expect(page.get_by_text("Registered. We sent you an email")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("long-enough-pass")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))


def start_deposit(page: Page, amount: str, currency: str) -> None:
    page.get_by_role("link", name="Deposit", exact=True).click()
    page.get_by_label("Amount").fill(amount)
    page.get_by_label("Currency").select_option(currency)
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/payments/simulator/checkout/cs_test_sim_"))
    expect(page.locator("#amount")).to_have_text(f"{amount} {currency}")


def test_new_player_deposits_50_eur_and_sees_it_available(page: Page, portal):
    tenant = TenantFactory(slug="e2e-pay")
    register_and_log_in(page, portal, tenant.slug, "payer@example.com")
    expect(page.locator("#no-balance")).to_be_visible()

    start_deposit(page, "50.00", "EUR")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/deposits/\d+/$"))
    expect(page.locator("#deposit-state")).to_have_text("completed")
    page.get_by_role("link", name="Back to the wallet").click()
    expect(page.get_by_test_id("available-EUR")).to_have_text("50.00 EUR")
    deposit_row = page.locator("#deposits tbody tr")
    expect(deposit_row).to_have_count(1)
    expect(deposit_row).to_contain_text("50.00 EUR")
    expect(deposit_row).to_contain_text("completed")
    expect(page.locator("#history tbody tr")).to_contain_text("Deposit")


def test_cancelled_checkout_changes_no_balance_and_shows_expired(page: Page, portal):
    tenant = TenantFactory(slug="e2e-cancel")
    register_and_log_in(page, portal, tenant.slug, "canceller@example.com")

    start_deposit(page, "50.00", "EUR")
    page.get_by_role("button", name="Cancel").click()

    expect(page).to_have_url(re.compile(r"/deposits/\d+/$"))
    expect(page.locator("#deposit-state")).to_have_text("expired")
    page.get_by_role("link", name="Back to the wallet").click()
    expect(page.locator("#no-balance")).to_be_visible()
    expect(page.locator("#deposits tbody tr")).to_contain_text("expired")
