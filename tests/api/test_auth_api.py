import pytest

from casino.models import Player
from casino.services import player_set_status
from common.actors import Actor
from tests.api.conftest import PlayerClient

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def register(api_client, tenant, email, password="long-enough-pass"):
    return PlayerClient(api_client, tenant).post(
        "/api/v1/auth/register", {"email": email, "password": password}
    )


def login(api_client, tenant, email, password=PASSWORD):
    return PlayerClient(api_client, tenant).post(
        "/api/v1/auth/login", {"email": email, "password": password}
    )


def test_register_creates_the_player_and_mails_a_welcome(
    api_client, tenant_a, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = register(api_client, tenant_a, "New@Example.com")

    assert response.status_code == 201
    body = response.json()
    assert (body["email"], body["tenant"]) == ("new@example.com", "alpha")
    assert "password" not in body and "id" not in body
    assert Player.objects.filter(tenant=tenant_a, email="new@example.com").exists()
    assert [m.to for m in mailoutbox] == [["new@example.com"]]
    assert "Welcome" in mailoutbox[0].subject


def test_register_of_an_existing_email_answers_as_if_created_and_mails_the_owner(
    api_client, player_a, mailoutbox, django_capture_on_commit_callbacks
):
    fresh = register(api_client, player_a.tenant, "fresh@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        existing = register(api_client, player_a.tenant, "ANN@example.com")

    assert existing.status_code == fresh.status_code == 201
    assert existing.json().keys() == fresh.json().keys()
    assert existing.json()["detail"] == fresh.json()["detail"]
    assert Player.objects.filter(email__iexact="ann@example.com").count() == 1
    assert [m.to for m in mailoutbox] == [["ann@example.com"]]
    assert "already have" in mailoutbox[0].subject
    assert "/password-reset/" in mailoutbox[0].body


def test_same_email_on_another_brand_is_a_separate_player(
    api_client, player_a, tenant_b
):
    response = register(api_client, tenant_b, "ann@example.com")

    assert response.status_code == 201
    assert Player.objects.filter(email="ann@example.com").count() == 2


def test_register_with_a_weak_password_is_a_validation_error(api_client, tenant_a):
    response = register(api_client, tenant_a, "weak@example.com", "12345678")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"


def test_login_returns_a_token(api_client, player_a):
    response = login(api_client, player_a.tenant, "ann@example.com")

    assert response.status_code == 200
    assert response.json()["token"]
    assert response.json()["player"]["id"] == player_a.pk


def test_login_with_a_wrong_password_is_401(api_client, player_a):
    response = login(api_client, player_a.tenant, "ann@example.com", "wrong-pass")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_login_on_another_brand_is_401(api_client, player_a, tenant_b):
    response = login(api_client, tenant_b, "ann@example.com")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "INVALID_CREDENTIALS"


def test_login_of_a_blocked_player_is_403(api_client, player_a):
    player_set_status(
        actor=Actor.system("tests"), player=player_a, status="blocked", reason="test"
    )

    response = login(api_client, player_a.tenant, "ann@example.com")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PLAYER_BLOCKED"


def test_token_of_a_player_blocked_later_is_refused(client_a, player_a):
    player_set_status(
        actor=Actor.system("tests"), player=player_a, status="blocked", reason="test"
    )

    response = client_a.get("/api/v1/me")

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "PLAYER_BLOCKED"


def test_me_returns_the_player(client_a, player_a):
    response = client_a.get("/api/v1/me")

    assert response.status_code == 200
    assert response.json()["email"] == "ann@example.com"


def test_no_token_is_401(api_client, tenant_a):
    response = PlayerClient(api_client, tenant_a).get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_unknown_token_is_401(api_client, tenant_a):
    response = PlayerClient(api_client, tenant_a, "not-a-token").get("/api/v1/me")

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "AUTHENTICATION_REQUIRED"


def test_bad_json_is_400_malformed_request(api_client, tenant_a):
    response = api_client.post(
        "/api/v1/auth/register",
        data='{"email": "x@example.com", ',
        content_type="application/json",
        HTTP_X_TENANT=tenant_a.slug,
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_REQUEST"


def test_form_encoded_body_is_415(api_client, tenant_a):
    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "x@example.com", "password": "long-enough-pass"},
        HTTP_X_TENANT=tenant_a.slug,
    )

    assert response.status_code == 415
    assert response.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"
