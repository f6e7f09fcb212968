"""The one clock for policy windows (cooldowns, velocity, daily limits).

``now()`` is ``django.utils.timezone.now()`` unless a test froze it; tests use the
``clock`` fixture (tests/conftest.py) to freeze and advance time instead of sleeping.
The override is process-wide on purpose, so threads in concurrency tests see it too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

_frozen: datetime | None = None


def now() -> datetime:
    return _frozen if _frozen is not None else timezone.now()


def freeze(at: datetime | None = None) -> datetime:
    global _frozen
    _frozen = at or timezone.now()
    return _frozen


def advance(*, seconds: float) -> datetime:
    global _frozen
    _frozen = now() + timedelta(seconds=seconds)
    return _frozen


def unfreeze() -> None:
    global _frozen
    _frozen = None


def start_of_day(moment: datetime | None = None) -> datetime:
    """Midnight UTC of ``moment`` (default: now): daily limits reset then."""
    moment = (moment or now()).astimezone(UTC)
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)
