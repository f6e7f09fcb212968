"""A player who forgot the password resets it through the mailed link, in a browser."""

import re

import pytest
from django.core import mail
from playwright.sync_api import Page, expect

from tests.factories import PlayerFactory, TenantFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

LINK = re.compile(r"https?://\S+/password-reset/\S+")


def test_forgotten_password_is_reset_through_the_mailed_link(page: Page, portal):
    tenant = TenantFactory(slug="e2e-reset")
    PlayerFactory(tenant=tenant, email="forgetful@example.com")
    mail.outbox = []

    page.goto(f"{portal}/login/?tenant={tenant.slug}")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_role("button", name="Send the link").click()
    expect(page.get_by_text("If this email has an account")).to_be_visible()

    link = LINK.search(mail.outbox[-1].body).group(0)
    page.goto(link)
    page.get_by_label("New password").fill("a-fresh-long-secret")
    page.get_by_role("button", name="Set the password").click()
    expect(page.get_by_text("Your password is changed")).to_be_visible()

    page.get_by_label("Email").fill("forgetful@example.com")
    page.get_by_label("Password").fill("a-fresh-long-secret")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/wallet/$"))

    page.goto(link)
    expect(page.get_by_text("invalid, used or expired")).to_be_visible()
