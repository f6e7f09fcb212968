"""The portal's password reset, login limits and session end on a new password."""

import re

import pytest
from django.test import Client

from audit.models import AuditEvent
from tests.factories import PlayerFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"
LINK = re.compile(r"https?://[^/]+(/password-reset/[^/]+/[^/]+/\?tenant=\w+)")


def login(client, player, password=PASSWORD, ip="127.0.0.1"):
    return client.post(
        f"/login/?tenant={player.tenant.slug}",
        {"email": player.email, "password": password},
        REMOTE_ADDR=ip,
    )


def test_forgotten_password_is_reset_through_the_mailed_link(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    player = PlayerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        asked = client.post(
            f"/password-reset/?tenant={player.tenant.slug}", {"email": player.email}
        )
    link = LINK.search(mailoutbox[0].body).group(1)

    form = client.get(link)
    done = client.post(link, {"new_password": "a-brand-new-secret"})
    reused = client.get(link)

    assert asked["Location"] == "/login/"
    assert form.status_code == 200 and b"new_password" in form.content
    assert done["Location"] == "/login/"
    assert reused.status_code == 400
    assert b"PASSWORD_RESET_TOKEN_INVALID" in reused.content
    assert login(client, player, "a-brand-new-secret")["Location"] == "/wallet/"


def test_unknown_email_is_answered_like_a_known_one(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    player = PlayerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        unknown = client.post(
            f"/password-reset/?tenant={player.tenant.slug}",
            {"email": "nobody@example.com"},
            follow=True,
        )
        known = client.post("/password-reset/", {"email": player.email}, follow=True)

    message = b"If this email has an account, we sent it a link"
    assert unknown.redirect_chain == known.redirect_chain == [("/login/", 302)]
    assert message in unknown.content and message in known.content
    assert len(mailoutbox) == 1


def test_a_new_password_ends_other_portal_sessions(client):
    player = PlayerFactory()
    other_browser = Client()
    login(other_browser, player)
    assert other_browser.get("/wallet/").status_code == 200

    player.set_password("changed-elsewhere-1")
    player.save(update_fields=["password"])

    assert other_browser.get("/wallet/")["Location"] == "/login/"


def test_portal_login_is_limited_per_account_across_ips(client, settings):
    settings.RATELIMIT_RATES = {
        **settings.RATELIMIT_RATES,
        "login": "100/m",
        "login_account": "3/15m",
    }
    player = PlayerFactory()
    for n in range(3):
        login(Client(), player, f"guess-{n}", ip=f"203.0.113.{n}")

    response = login(client, player, PASSWORD, ip="198.51.100.9")

    assert response.status_code == 200
    assert b"RATE_LIMITED" in response.content


def test_portal_login_and_logout_are_audited(client):
    player = PlayerFactory()

    login(client, player)
    client.post("/logout/")

    actions = list(
        AuditEvent.objects.filter(target_id=str(player.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions[-2:] == ["player.logged_in", "player.logged_out"]


def test_portal_registration_of_an_existing_email_looks_like_a_new_one(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    player = PlayerFactory()
    with django_capture_on_commit_callbacks(execute=True):
        existing = client.post(
            f"/register/?tenant={player.tenant.slug}",
            {"email": player.email, "password": "long-enough-pass"},
        )
        new = client.post(
            "/register/", {"email": "new@example.com", "password": "long-enough-pass"}
        )

    assert existing["Location"] == new["Location"] == "/login/"
    assert sorted(m.subject.split(" ")[0] for m in mailoutbox) == ["Welcome", "You"]
