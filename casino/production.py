"""Refusals checked when the settings load, not only by ``manage.py check``.

gunicorn and Celery run no system checks, so ``casino.settings`` calls
``unsafe_production_settings`` itself and raises ``ImproperlyConfigured`` when
``DEBUG`` is off and anything here is found: the process never starts serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Management commands that only compare models with migration files: they serve
# nothing, read no secret and move no money, so an unconfigured checkout may run
# them (`python manage.py makemigrations --check` in a linter or a review).
OFFLINE_COMMANDS = frozenset({"makemigrations"})
# The system-check twins of the load-time refusals, silenced for those commands only.
OFFLINE_SILENCED_CHECKS = [
    "casino.E001",
    "casino.E002",
    "django_ratelimit.E003",
    "django_ratelimit.W001",
]


def offline_command(argv: list[str]) -> bool:
    """Whether this process is ``manage.py <an offline command>``."""
    return (
        len(argv) > 1 and argv[0].endswith("manage.py") and argv[1] in OFFLINE_COMMANDS
    )


# Caches every worker process keeps to itself: rate limits and the webhook
# config cache would count and forget per process.
PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


def unsafe_production_settings(values: Mapping[str, Any]) -> list[str]:
    """What is unsafe about these settings for a server with DEBUG off; empty when
    DEBUG is on (development) or nothing is."""
    if values["DEBUG"]:
        return []
    problems = []
    if (
        values["SECRET_KEY"] == values["DEV_SECRET_KEY"]
        or len(values["SECRET_KEY"]) < 32
    ):
        problems.append(
            "SECRET_KEY is the public development key (or shorter than 32 "
            "characters): set SECRET_KEY to a long random value"
        )
    if not values["FIELD_ENCRYPTION_KEYS"]:
        problems.append(
            "FIELD_ENCRYPTION_KEYS is empty, so PSP secrets would be encrypted with a "
            "key derived from SECRET_KEY: set it (Fernet keys, newest first)"
        )
    if values["PAYMENTS_SIMULATOR_ENABLED"]:
        problems.append(
            "PAYMENTS_SIMULATOR_ENABLED is on: the simulator signs PSP events with "
            "real secrets and must never run with DEBUG off"
        )
    if not values["CELERY_BROKER_URL"] and not values["CELERY_TASK_ALWAYS_EAGER"]:
        problems.append(
            "CELERY_BROKER_URL is empty: set it (e.g. redis://127.0.0.1:6379/2), or "
            "set CELERY_TASK_ALWAYS_EAGER=true to run every task inside the web "
            "process on purpose"
        )
    for alias, cache in values["CACHES"].items():
        if cache.get("BACKEND") in PROCESS_LOCAL_CACHES:
            problems.append(
                f"cache '{alias}' is process-local ({cache['BACKEND']}): set "
                "CACHE_URL to a shared cache, e.g. redis://127.0.0.1:6379/1"
            )
    return problems
