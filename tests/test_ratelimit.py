"""Rate limits: keyed by the player when authenticated, by IP otherwise."""

import pytest
from django.core.checks import Warning as CheckWarning

from casino.checks_ratelimit import ratelimit_cache_is_shared
from tests.factories import TenantFactory, token_for
from tests.withdrawals.factories import DESTINATION, verified_player

pytestmark = pytest.mark.django_db

RATES = {
    "login": "2/h",
    "register": "2/h",
    "deposit": "2/h",
    "withdrawal": "2/h",
    "retry": "2/h",
}


@pytest.fixture(autouse=True)
def _tight_rates(settings):
    settings.RATELIMIT_RATES = RATES


def withdraw(api_client, player, ip, n):
    return api_client.post(
        "/api/v1/withdrawals",
        {"amount": "1.00", "currency": "EUR", "destination": DESTINATION},
        format="json",
        HTTP_X_TENANT=player.tenant.slug,
        HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        HTTP_IDEMPOTENCY_KEY=f"rl-{player.pk}-{n}",
        REMOTE_ADDR=ip,
    )


def test_a_player_over_the_limit_gets_429_rate_limited_with_retry_after(api_client):
    player = verified_player()
    codes = [withdraw(api_client, player, "10.0.0.1", n).status_code for n in range(3)]
    blocked = withdraw(api_client, player, "10.0.0.1", 4)
    assert codes == [201, 201, 429]
    assert blocked.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(blocked["Retry-After"]) <= 3600


def test_two_players_behind_one_ip_are_limited_independently(api_client):
    first = verified_player()
    second = verified_player(tenant=first.tenant)
    for n in range(3):
        withdraw(api_client, first, "10.0.0.1", n)
    assert withdraw(api_client, second, "10.0.0.1", 0).status_code == 201


def test_a_player_cannot_escape_the_limit_by_changing_ip(api_client):
    player = verified_player()
    withdraw(api_client, player, "10.0.0.1", 0)
    withdraw(api_client, player, "10.0.0.2", 1)
    assert withdraw(api_client, player, "10.0.0.3", 2).status_code == 429


def login(api_client, tenant, ip):
    return api_client.post(
        "/api/v1/auth/login",
        {"email": "nobody@example.com", "password": "wrong-password"},
        format="json",
        HTTP_X_TENANT=tenant.slug,
        REMOTE_ADDR=ip,
    )


def test_anonymous_login_is_limited_by_ip(api_client):
    tenant = TenantFactory()
    codes = [login(api_client, tenant, "10.0.0.1").status_code for _ in range(3)]
    assert codes == [401, 401, 429]
    assert login(api_client, tenant, "10.0.0.9").status_code == 401


def test_register_is_limited_by_ip(api_client):
    tenant = TenantFactory()
    codes = [
        api_client.post(
            "/api/v1/auth/register",
            {"email": f"p{n}@example.com", "password": "long-enough-pass"},
            format="json",
            HTTP_X_TENANT=tenant.slug,
            REMOTE_ADDR="10.0.0.1",
        ).status_code
        for n in range(3)
    ]
    assert codes == [201, 201, 429]


def test_player_retry_is_rate_limited(api_client):
    player = verified_player()
    url = "/api/v1/withdrawals/999999/retry"
    headers = {
        "HTTP_X_TENANT": player.tenant.slug,
        "HTTP_AUTHORIZATION": f"Bearer {token_for(player)}",
    }
    codes = [api_client.post(url, **headers).status_code for _ in range(3)]
    assert codes == [404, 404, 429]


def test_listing_withdrawals_is_not_counted_against_the_create_limit(api_client):
    player = verified_player()
    for _ in range(3):
        api_client.get(
            "/api/v1/withdrawals",
            HTTP_X_TENANT=player.tenant.slug,
            HTTP_AUTHORIZATION=f"Bearer {token_for(player)}",
        )
    assert withdraw(api_client, player, "10.0.0.1", 0).status_code == 201


def test_deploy_check_warns_when_the_rate_limit_cache_is_process_local(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    }
    (warning,) = ratelimit_cache_is_shared(None)
    assert isinstance(warning, CheckWarning)
    assert warning.id == "casino.W101"


def test_deploy_check_is_quiet_when_rate_limits_use_redis(settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/15",
        },
    }
    settings.RATELIMIT_USE_CACHE = "shared"
    assert ratelimit_cache_is_shared(None) == []
