"""Every page carries the Content-Security-Policy and works under it: the admin,
the player portal and the API docs load in headless Chromium without one CSP
violation or script error."""

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tests.factories import TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def problems(page: Page):
    """Console errors and uncaught page errors (a CSP refusal is a console error)."""
    seen: list[str] = []

    def on_console(message):
        if message.location.get("url", "").endswith("/favicon.ico"):
            return  # browsers ask for it; the app has none
        if message.type == "error" or "Content Security Policy" in message.text:
            seen.append(f"console {message.type}: {message.text} {message.location}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: seen.append(f"page error: {error}"))
    return seen


def test_admin_works_under_the_policy(page: Page, live_server, problems):
    get_user_model().objects.create_superuser(
        "csp-admin", "a@example.com", "pw-long-enough"
    )
    response = page.goto(f"{live_server.url}/admin/login/")
    assert "script-src 'self' 'nonce-" in response.headers["content-security-policy"]
    page.get_by_label("Username").fill("csp-admin")
    page.get_by_label("Password").fill("pw-long-enough")
    page.get_by_role("button", name="Log in").click()
    # The admin index is the operator's "Today" page (issue 11).
    expect(page.get_by_role("heading", name="Needs attention today")).to_be_visible()
    for path in (
        "/admin/payments/webhookinbox/",
        "/admin/payments/pspconfig/add/",
        "/admin/payments/paymentroute/add/",
        "/admin/tenants/tenant/add/",
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("#content")).to_be_visible()
    # The admin's own JavaScript runs (the action bar and its counter).
    page.goto(f"{live_server.url}/admin/payments/webhookinbox/")
    assert page.evaluate("typeof django !== 'undefined' && !!django.jQuery")
    assert problems == []


def test_portal_works_under_the_policy(page: Page, portal, problems):
    tenant = TenantFactory(slug="csp-brand")
    response = page.goto(f"{portal}/register/?tenant={tenant.slug}")
    assert "content-security-policy" in response.headers
    page.get_by_label("Email").fill("csp@example.com")
    page.get_by_label("Password").fill("long-enough-pass")
    page.get_by_role("button", name="Register").click()
    page.get_by_label("Email").fill("csp@example.com")
    page.get_by_label("Password").fill("long-enough-pass")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name="Deposit", exact=True).click()
    page.get_by_label("Amount").fill("10.00")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.locator("#amount")).to_have_text("10.00 EUR")
    page.goto(f"{portal}/?tenant=")
    assert problems == []


def test_api_docs_render_under_the_policy(page: Page, live_server, problems):
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "content-security-policy" in response.headers
    expect(page.locator(".swagger-ui .info .title")).to_contain_text(
        "Casino payments back-office API"
    )
    expect(page.locator(".opblock").first).to_be_visible()
    assert problems == []
