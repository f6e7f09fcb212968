import os

import pytest
from django.db import connection

REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES", "").lower() in (
    "1",
    "true",
    "yes",
)


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.postgres`` tests run only on PostgreSQL. Locally on SQLite they
    are skipped with a reason; with REQUIRE_POSTGRES=1 (CI) they must run."""
    from django.conf import settings

    # The browser tests run last (a stable sort, after pytest-django's own order):
    # Playwright's sync API leaves an asyncio loop running in the main thread, and
    # asgiref's async_to_sync (django-health-check's checks, issue 9) refuses to run
    # in a thread with a running loop.
    items.sort(key=lambda item: "tests/e2e/" in item.nodeid)
    engine = settings.DATABASES["default"]["ENGINE"]
    on_postgres = "postgresql" in engine
    _replica_tests_skip_unless_configured(settings, items)
    if REQUIRE_POSTGRES and not on_postgres:
        raise pytest.UsageError(
            "REQUIRE_POSTGRES=1 but DATABASE_URL does not point at PostgreSQL "
            f"(engine {engine}). The PostgreSQL-only tests must run here."
        )
    if on_postgres:
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://...")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _postgres_reachable_when_required(django_db_setup, django_db_blocker):
    if REQUIRE_POSTGRES:
        with django_db_blocker.unblock():
            assert connection.vendor == "postgresql"
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture(autouse=True)
def _fresh_rate_limit_counters():
    """Rate-limit counters live in the (locmem) cache: start every test at zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def clock():
    """The policy clock (common.clock), frozen at the real now; ``clock.advance(
    seconds=...)`` moves it. Unfrozen after the test."""
    from common import clock as policy_clock

    policy_clock.freeze()
    yield policy_clock
    policy_clock.unfreeze()


@pytest.fixture(autouse=True)
def _operator_2fa_optional(settings):
    """Admin tests sign operators in with ``force_login`` (no second factor). The
    default of OPERATOR_2FA_REQUIRED follows DEBUG, so pin it off here; the 2FA tests
    turn it on themselves (tests/admin/test_operator_auth.py)."""
    settings.OPERATOR_2FA_REQUIRED = False


# --- issue 12: the read replica ---------------------------------------------------
REQUIRE_REPLICA = os.environ.get("REQUIRE_REPLICA", "").lower() in ("1", "true", "yes")


def _replica_tests_skip_unless_configured(settings, items) -> None:
    """``@pytest.mark.replica`` tests need DATABASE_REPLICA_URL: skipped with a reason
    without it, mandatory with REQUIRE_REPLICA=1 (CI)."""
    if "replica" in settings.DATABASES:
        return
    if REQUIRE_REPLICA:
        raise pytest.UsageError("REQUIRE_REPLICA=1 but DATABASE_REPLICA_URL is not set")
    skip = pytest.mark.skip(
        reason="needs a streaming replica: set DATABASE_REPLICA_URL"
    )
    for item in items:
        if "replica" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _report_reads_on_the_primary_unless_replica_test(request, settings):
    """A test's data lives in its uncommitted transaction, which a replica cannot
    see: report reads use the primary, except in ``@pytest.mark.replica`` tests."""
    settings.REPLICA_READS = "replica" in request.keywords
