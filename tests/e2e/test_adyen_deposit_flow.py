"""A player of a brand routed to Adyen deposits through the portal; the simulated
checkout posts a signed Adyen AUTHORISATION notification through the real endpoint."""

import re

import pytest
from playwright.sync_api import Page, expect

from payments.models import PaymentRoute, WebhookInbox
from tests.e2e.test_deposit_flow import register_and_log_in
from tests.factories import TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_player_of_an_adyen_brand_deposits_50_eur(page: Page, portal):
    tenant = TenantFactory(slug="e2e-adyen")
    PaymentRoute.objects.create(
        tenant=tenant, deposit_provider="adyen", payout_provider="adyen"
    )
    register_and_log_in(page, portal, tenant.slug, "adyen-payer@example.com")

    page.get_by_role("link", name="Deposit", exact=True).click()
    page.get_by_label("Amount").fill("50.00")
    page.get_by_label("Currency").select_option("EUR")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page).to_have_url(re.compile(r"/payments/simulator/checkout/PLSIM\d+X"))
    expect(page.locator("#amount")).to_have_text("50.00 EUR")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/deposits/\d+/$"))
    expect(page.locator("#deposit-state")).to_have_text("completed")
    page.get_by_role("link", name="Back to the wallet").click()
    expect(page.get_by_test_id("available-EUR")).to_have_text("50.00 EUR")
    expect(page.locator("#deposits tbody tr")).to_contain_text("completed")
    inbox = WebhookInbox.objects.get(tenant=tenant)
    assert (inbox.provider, inbox.event_type, inbox.status) == (
        "adyen",
        "AUTHORISATION",
        "processed",
    )
