"""Player login: limited per account across IPs, and no timing difference between
an unknown and a known email."""

import statistics
import time

import pytest

from audit.models import AuditEvent
from tests.api.conftest import PlayerClient
from tests.factories import PlayerFactory, TenantFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct-horse-battery"


def login(api_client, tenant, email, password, ip="10.0.0.1", **extra):
    return PlayerClient(api_client, tenant).api_client.post(
        "/api/v1/auth/login",
        {"email": email, "password": password},
        format="json",
        HTTP_X_TENANT=tenant.slug,
        REMOTE_ADDR=ip,
        **extra,
    )


def test_per_account_limit_holds_across_many_ips(api_client, settings):
    settings.RATELIMIT_RATES = {
        **settings.RATELIMIT_RATES,
        "login": "100/m",
        "login_account": "5/15m",
    }
    player = PlayerFactory(email="target@example.com")

    failures = [
        login(
            api_client,
            player.tenant,
            "target@example.com",
            f"guess-{n}",
            ip=f"203.0.113.{n}",
        ).status_code
        for n in range(5)
    ]
    right_password_from_a_new_ip = login(
        api_client, player.tenant, "Target@example.com", PASSWORD, ip="198.51.100.7"
    )

    assert failures == [401] * 5
    assert right_password_from_a_new_ip.status_code == 429
    assert right_password_from_a_new_ip.json()["error"]["code"] == "RATE_LIMITED"
    assert int(right_password_from_a_new_ip["Retry-After"]) > 0


def test_successful_logins_do_not_use_up_the_account_limit(api_client, settings):
    settings.RATELIMIT_RATES = {
        **settings.RATELIMIT_RATES,
        "login": "100/m",
        "login_account": "2/15m",
    }
    player = PlayerFactory()

    statuses = [
        login(api_client, player.tenant, player.email, PASSWORD).status_code
        for _ in range(4)
    ]

    assert statuses == [200] * 4


def test_unknown_emails_are_limited_like_known_ones(api_client, settings):
    settings.RATELIMIT_RATES = {
        **settings.RATELIMIT_RATES,
        "login": "100/m",
        "login_account": "2/15m",
    }
    tenant = TenantFactory()

    statuses = [
        login(
            api_client, tenant, "nobody@example.com", "x", ip=f"192.0.2.{n}"
        ).status_code
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]


def test_per_ip_limit_ignores_a_spoofed_forwarded_for_without_trusted_proxies(
    api_client, settings
):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "login": "2/m"}
    settings.TRUSTED_PROXY_COUNT = 0
    tenant = TenantFactory()

    statuses = [
        login(
            api_client,
            tenant,
            f"p{n}@example.com",
            "x",
            HTTP_X_FORWARDED_FOR=f"1.2.3.{n}",
        ).status_code
        for n in range(3)
    ]

    assert statuses == [401, 401, 429]


def test_behind_one_trusted_proxy_each_client_has_its_own_bucket(api_client, settings):
    settings.RATELIMIT_RATES = {**settings.RATELIMIT_RATES, "login": "2/m"}
    settings.TRUSTED_PROXY_COUNT = 1
    tenant = TenantFactory()

    def from_client(n):
        # The client forged the left entry; the proxy appended the real address.
        return login(
            api_client,
            tenant,
            f"p{n}@example.com",
            "x",
            ip="10.9.9.9",
            HTTP_X_FORWARDED_FOR=f"6.6.6.6, 198.51.100.{n % 2}",
        ).status_code

    statuses = [from_client(n) for n in range(6)]

    assert statuses == [401, 401, 401, 401, 429, 429]


def test_login_is_audited_with_the_client_ip(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    player = PlayerFactory()

    login(
        api_client,
        player.tenant,
        player.email,
        PASSWORD,
        HTTP_X_FORWARDED_FOR="7.7.7.7, 198.51.100.23",
    )

    event = AuditEvent.objects.get(action="player.logged_in")
    assert (event.target_id, event.ip) == (str(player.pk), "198.51.100.23")


def _seconds(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_unknown_and_known_email_logins_take_about_the_same_time(api_client, settings):
    settings.PASSWORD_HASHERS = ["tests.players.hashers.MeasurablePBKDF2PasswordHasher"]
    settings.RATELIMIT_ENABLE = False
    player = PlayerFactory(email="known@example.com")

    def known():
        assert (
            login(
                api_client, player.tenant, "known@example.com", "wrong-pass"
            ).status_code
            == 401
        )

    def unknown():
        assert (
            login(
                api_client, player.tenant, "unknown@example.com", "wrong-pass"
            ).status_code
            == 401
        )

    known(), unknown()  # warm both paths (the dummy hash is made once)
    # Interleaved, so a change in machine load falls on both alike; medians.
    pairs = [(_seconds(known), _seconds(unknown)) for _ in range(9)]
    known_seconds = statistics.median(k for k, _ in pairs)
    unknown_seconds = statistics.median(u for _, u in pairs)
    hashing_seconds = statistics.median(
        _seconds(lambda: player.check_password("x")) for _ in range(3)
    )

    # Without the dummy hash the unknown email answered about 5x faster.
    ratio = max(known_seconds, unknown_seconds) / min(known_seconds, unknown_seconds)
    assert ratio < 2.0, (known_seconds, unknown_seconds)
    # The measurement means something: hashing is most of a login's time.
    assert unknown_seconds > 0.6 * hashing_seconds
