"""Password reset: an emailed link, single use, expiring, the same answer for
unknown emails, and every session ends with the old password."""

import re
from datetime import datetime

import pytest
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from audit.models import AuditEvent
from casino.password_reset import reset_tokens
from tests.api.conftest import PlayerClient
from tests.factories import token_for

pytestmark = pytest.mark.django_db

LINK = re.compile(r"/password-reset/([^/]+)/([^/]+)/\?tenant=(\w+)")


def request_reset(api_client, tenant, email, capture):
    with capture(execute=True):
        return PlayerClient(api_client, tenant).post(
            "/api/v1/auth/password-reset", {"email": email}
        )


def confirm(api_client, tenant, uid, token, new_password="a-brand-new-secret"):
    return PlayerClient(api_client, tenant).post(
        "/api/v1/auth/password-reset/confirm",
        {"uid": uid, "token": token, "new_password": new_password},
    )


def login(api_client, tenant, email, password):
    return PlayerClient(api_client, tenant).post(
        "/api/v1/auth/login", {"email": email, "password": password}
    )


def test_reset_link_is_mailed_and_sets_a_new_password(
    api_client, player_a, mailoutbox, django_capture_on_commit_callbacks
):
    response = request_reset(
        api_client,
        player_a.tenant,
        "ANN@example.com",
        django_capture_on_commit_callbacks,
    )
    uid, token, slug = LINK.search(mailoutbox[0].body).groups()

    confirmed = confirm(api_client, player_a.tenant, uid, token)

    assert response.status_code == 202
    assert mailoutbox[0].to == ["ann@example.com"]
    assert slug == player_a.tenant.slug
    assert confirmed.status_code == 204
    assert (
        login(
            api_client, player_a.tenant, "ann@example.com", "a-brand-new-secret"
        ).status_code
        == 200
    )
    assert (
        login(
            api_client, player_a.tenant, "ann@example.com", "correct-horse-battery"
        ).status_code
        == 401
    )
    assert AuditEvent.objects.filter(action="player.password_reset").exists()


def test_reset_token_works_only_once(
    api_client, player_a, mailoutbox, django_capture_on_commit_callbacks
):
    request_reset(
        api_client, player_a.tenant, player_a.email, django_capture_on_commit_callbacks
    )
    uid, token, _ = LINK.search(mailoutbox[0].body).groups()

    first = confirm(api_client, player_a.tenant, uid, token)
    second = confirm(api_client, player_a.tenant, uid, token, "yet-another-secret")

    assert first.status_code == 204
    assert second.status_code == 400
    assert second.json()["error"]["code"] == "PASSWORD_RESET_TOKEN_INVALID"


def test_reset_token_expires(api_client, player_a, settings, monkeypatch):
    settings.PASSWORD_RESET_TIMEOUT = 60
    token = reset_tokens.make_token(player_a)

    uid = urlsafe_base64_encode(force_bytes(player_a.pk))
    later = reset_tokens._now().timestamp() + 61

    monkeypatch.setattr(reset_tokens, "_now", lambda: datetime.fromtimestamp(later))

    response = confirm(api_client, player_a.tenant, uid, token)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "PASSWORD_RESET_TOKEN_INVALID"


def test_reset_token_of_one_brand_does_not_work_on_another(
    api_client, player_a, tenant_b
):
    uid = urlsafe_base64_encode(force_bytes(player_a.pk))

    response = confirm(api_client, tenant_b, uid, reset_tokens.make_token(player_a))

    assert response.json()["error"]["code"] == "PASSWORD_RESET_TOKEN_INVALID"


@pytest.mark.parametrize("uid", ["", "!!!", "MTIzNDU2Nzg5MDEyMzQ1Njc4OTA", "AA"])
def test_garbage_uid_is_an_invalid_token_not_a_500(api_client, tenant_a, uid):
    response = confirm(api_client, tenant_a, uid or "x", "abc-def")

    assert response.status_code == 400


def test_unknown_email_gets_the_same_answer_and_no_mail(
    api_client, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    response = request_reset(
        api_client, tenant_a, "nobody@example.com", django_capture_on_commit_callbacks
    )

    assert response.status_code == 202
    assert response.content == b""
    assert mailoutbox == []


def test_reset_signs_the_player_out_everywhere(
    api_client, player_a, mailoutbox, django_capture_on_commit_callbacks
):
    session = PlayerClient(api_client, player_a.tenant, token_for(player_a))
    request_reset(
        api_client, player_a.tenant, player_a.email, django_capture_on_commit_callbacks
    )
    uid, token, _ = LINK.search(mailoutbox[0].body).groups()

    confirm(api_client, player_a.tenant, uid, token)

    assert session.get("/api/v1/me").status_code == 401


def test_weak_new_password_is_refused_and_the_link_still_works(
    api_client, player_a, mailoutbox, django_capture_on_commit_callbacks
):
    request_reset(
        api_client, player_a.tenant, player_a.email, django_capture_on_commit_callbacks
    )
    uid, token, _ = LINK.search(mailoutbox[0].body).groups()

    weak = confirm(api_client, player_a.tenant, uid, token, "12345678")
    strong = confirm(api_client, player_a.tenant, uid, token)

    assert weak.json()["error"]["code"] == "VALIDATION_ERROR"
    assert strong.status_code == 204
