"""Operator sign-in: second factor, lockout and unlock, and the audit trail of it."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditEvent
from casino.operator_2fa import backup_codes_regenerate
from tests.factories import OperatorFactory

pytestmark = pytest.mark.django_db

PASSWORD = "operator-pass-123"


def sign_in(client, username, password=PASSWORD, otp_token="", ip="10.1.1.1"):
    return client.post(
        "/admin/login/?next=/admin/",
        {"username": username, "password": password, "otp_token": otp_token},
        REMOTE_ADDR=ip,
    )


def current_code(device: TOTPDevice, steps_ahead: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def actions(username) -> list[str]:
    return list(
        AuditEvent.objects.filter(actor_label=username)
        .order_by("id")
        .values_list("action", flat=True)
    )


@pytest.fixture
def operator(db):
    return OperatorFactory(username="olga", is_superuser=True)


@pytest.fixture
def enrolled(operator):
    device = TOTPDevice.objects.create(user=operator, name="phone", confirmed=True)
    return device


@pytest.fixture
def required(settings):
    settings.OPERATOR_2FA_REQUIRED = True


def test_operator_with_a_device_cannot_sign_in_with_the_password_alone(
    client, enrolled
):
    response = sign_in(client, "olga")

    assert response.status_code == 200
    assert client.get("/admin/").status_code == 302


def test_a_right_password_with_a_wrong_code_looks_like_a_wrong_password(
    client, enrolled
):
    wrong_code = sign_in(client, "olga", otp_token="000000")
    wrong_password = sign_in(client, "olga", "not-it", otp_token="000000")

    assert wrong_code.context["form"].non_field_errors() == (
        wrong_password.context["form"].non_field_errors()
    )


def test_operator_with_a_device_signs_in_with_the_current_code(client, enrolled):
    response = sign_in(client, "olga", otp_token=current_code(enrolled))

    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert "operator.logged_in" in actions("olga")


def test_a_wrong_code_is_a_failed_login(client, enrolled):
    sign_in(client, "olga", otp_token="000000")

    assert client.get("/admin/").status_code == 302
    assert AccessAttempt.objects.get(username="olga").failures_since_start == 1
    assert "operator.login_failed" in actions("olga")


def test_a_backup_code_works_once(client, operator, enrolled):
    code = backup_codes_regenerate(user=operator)[0]

    first = sign_in(client, "olga", otp_token=code)
    client.post("/admin/logout/")
    second = sign_in(Client(), "olga", otp_token=code)

    assert first["Location"] == "/admin/"
    assert second.status_code == 200


def test_when_required_a_staff_user_without_a_device_may_only_enrol(
    client, operator, required
):
    signed_in = sign_in(client, "olga")

    assert client.get("/admin/")["Location"] == "/admin/2fa/"
    assert client.get("/admin/casino/player/")["Location"] == "/admin/2fa/"
    page = client.get("/admin/2fa/")
    assert signed_in.status_code == 302
    assert page.status_code == 200
    assert b"otpauth://totp/" in page.content and b"<svg" in page.content


def test_enrolment_turns_on_2fa_and_shows_backup_codes(client, operator, required):
    sign_in(client, "olga")
    client.get("/admin/2fa/")
    pending = TOTPDevice.objects.get(user=operator, confirmed=False)

    wrong = client.post("/admin/2fa/", {"otp_token": "123"})
    right = client.post("/admin/2fa/", {"otp_token": current_code(pending)})

    assert b"not right" in wrong.content
    assert right.status_code == 200
    assert len(right.context["codes"]) == 10
    assert TOTPDevice.objects.get(user=operator).confirmed
    assert StaticDevice.objects.get(user=operator).token_set.count() == 10
    assert client.get("/admin/").status_code == 200
    assert {
        "operator.2fa_device_added",
        "operator.2fa_enrolled",
        "operator.2fa_backup_codes_issued",
    } <= set(actions("olga"))


def test_when_required_an_unverified_session_is_not_enough(
    operator, enrolled, required
):
    client = Client()
    client.force_login(operator)  # a password-only session

    response = client.get("/admin/")

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_lockout_after_the_failure_limit_holds_even_for_the_right_password(
    client, operator, settings
):
    settings.AXES_FAILURE_LIMIT = 3
    failures = [sign_in(client, "olga", "wrong").status_code for _ in range(3)]

    right_password = sign_in(client, "olga")

    assert failures[:2] == [200, 200]
    assert failures[2] == 429
    assert right_password.status_code == 429
    assert client.get("/admin/").status_code == 302
    # axes reports the lockout while handling the third failure.
    assert actions("olga")[:4] == [
        "operator.login_failed",
        "operator.login_failed",
        "operator.locked_out",
        "operator.login_failed",
    ]


def test_lockout_by_ip_covers_other_usernames(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for n in range(3):
        OperatorFactory(username=f"user{n}")
        sign_in(client, f"user{n}", "wrong", ip="10.6.6.6")
    OperatorFactory(username="victim")

    response = sign_in(Client(), "victim", ip="10.6.6.6")

    assert response.status_code == 429


def test_a_superuser_unlocks_an_operator_from_the_admin(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    locked = OperatorFactory(username="lena")
    for _ in range(2):
        sign_in(Client(), "lena", "wrong", ip="10.2.2.2")
    assert sign_in(Client(), "lena", ip="10.2.2.3").status_code == 429
    sign_in(client, "olga")
    records = AccessAttempt.objects.filter(username="lena")

    client.post(
        "/admin/axes/accessattempt/?q=lena",
        {
            "action": "delete_selected",
            "_selected_action": [r.pk for r in records],
            "post": "yes",
        },
    )

    assert sign_in(Client(), "lena", ip="10.2.2.3")["Location"] == "/admin/"
    assert AuditEvent.objects.filter(
        action="operator.login_attempts_reset", target_id="lena"
    ).exists()
    assert locked.is_staff


def test_the_lockout_ends_after_the_cool_off(client, operator, settings):
    settings.AXES_FAILURE_LIMIT = 2
    for _ in range(2):
        sign_in(client, "olga", "wrong")
    assert sign_in(client, "olga").status_code == 429

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )

    assert sign_in(client, "olga")["Location"] == "/admin/"


def test_logout_is_audited(client, operator):
    sign_in(client, "olga")

    client.post("/admin/logout/")

    assert actions("olga")[-2:] == ["operator.logged_in", "operator.logged_out"]


def test_authenticate_without_a_request_still_works_and_checks_the_password(operator):
    assert authenticate(username="olga", password=PASSWORD) == operator
    assert authenticate(username="olga", password="wrong") is None
