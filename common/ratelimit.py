"""Rate limits for DRF views, on django-ratelimit.

Keyed by the authenticated player when there is one (so players behind one NAT are
limited apart, and a player cannot escape by changing IP), else by client IP. Rates
come from ``settings.RATELIMIT_RATES[group]``. A blocked request raises
django-ratelimit's ``Ratelimited`` carrying ``retry_after`` (the seconds left in the
rate's window), which the API's exception handler renders as 429 ``RATE_LIMITED``
with ``Retry-After``.

Use the mixin on a view class (checked after authentication, on the listed methods)::

    class DepositCreateApi(RateLimitMixin, TenantApi):
        ratelimit_group = "deposit"

or the decorator on one handler method: ``@ratelimited("deposit")``.

When the counters' cache (Redis in production) does not answer, a group listed in
``RATELIMIT_FAIL_OPEN_GROUPS`` fails open (the request goes on, a warning is logged:
the money doors are protected by idempotency keys and the ledger, and players keep
depositing and cashing out); every other group fails closed with 503
``RATE_LIMIT_UNAVAILABLE`` and ``Retry-After`` (login, registration and password
reset must not become unlimited guessing while Redis is down). docs/security.md.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Callable

from django.conf import settings
from django_ratelimit.core import get_usage
from django_ratelimit.exceptions import Ratelimited

from common.clientip import client_ip
from common.errors import RateLimitUnavailable

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def ratelimit_key(group: str, request) -> str:
    # The portal's logged-in player is request.player; the API's is request.user.
    user = getattr(request, "player", None) or getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False) and user.pk:
        return f"{user._meta.label_lower}:{user.pk}"
    return f"ip:{client_ip(request)}"


def rate_period_seconds(rate: str) -> int:
    """``"5/m"`` → 60, ``"100/2h"`` → 7200."""
    _, period = rate.split("/", 1)
    multiplier = period[:-1] or "1"
    return int(multiplier) * _PERIODS[period[-1].lower()]


def ratelimit_enforce(request, *, group: str) -> None:
    """Count this request against ``group`` and raise ``Ratelimited`` when over."""
    rate = settings.RATELIMIT_RATES.get(group)
    if not rate:
        return
    usage = _usage_or_fallback(
        request,
        group=group,
        key=ratelimit_key,
        rate=rate,
        increment=True,
    )
    if usage is None or not usage["should_limit"]:
        return
    exc = Ratelimited()
    time_left = usage["time_left"]
    exc.retry_after = time_left if time_left > 0 else rate_period_seconds(rate)
    raise exc


def _usage_or_fallback(request, *, group: str, key, rate: str, increment: bool):
    """django-ratelimit's usage, or the documented fallback when the cache is down:
    None (no limit) for a fail-open group, else ``RateLimitUnavailable``."""
    try:
        return get_usage(
            request, group=f"casino.{group}", key=key, rate=rate, increment=increment
        )
    except Exception as exc:  # redis.ConnectionError, TimeoutError, OSError...
        fail_open = group in settings.RATELIMIT_FAIL_OPEN_GROUPS
        logger.warning(
            "ratelimit.cache_unavailable",
            extra={"group": group, "fail_open": fail_open, "error": type(exc).__name__},
        )
        if fail_open:
            return None
        raise RateLimitUnavailable() from exc


class RateLimitMixin:
    """Put before ``TenantApi`` in the bases. Runs after the tenant, authentication
    and permissions are settled, so the key is the player when there is one."""

    ratelimit_group: str = ""
    ratelimit_methods: tuple[str, ...] = ("POST",)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if self.ratelimit_group and request.method in self.ratelimit_methods:
            ratelimit_enforce(request, group=self.ratelimit_group)


def ratelimited(group: str) -> Callable:
    """Decorate a DRF handler method (``def post(self, request, ...)``)."""

    def decorator(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def wrapper(view, request, *args, **kwargs):
            ratelimit_enforce(request, group=group)
            return handler(view, request, *args, **kwargs)

        return wrapper

    return decorator


def _account_usage(request, *, group: str, account: str, increment: bool):
    rate = settings.RATELIMIT_RATES.get(group)
    if not rate:
        return None, rate
    digest = hashlib.sha256(account.strip().lower().encode()).hexdigest()
    usage = _usage_or_fallback(
        request,
        group=group,
        key=lambda _group, _request: f"account:{digest}",
        rate=rate,
        increment=increment,
    )
    return usage, rate


def account_ratelimit_check(request, *, group: str, account: str) -> None:
    """Raise ``Ratelimited`` when ``account`` (e.g. brand and email of a login) has
    used up ``group``'s rate, from whatever IP. Counts nothing: failures are counted
    with ``account_ratelimit_count``, so the limit is on guesses, not on logins."""
    usage, rate = _account_usage(request, group=group, account=account, increment=False)
    if usage is None or usage["count"] < usage["limit"]:
        return
    exc = Ratelimited()
    time_left = usage["time_left"]
    exc.retry_after = time_left if time_left > 0 else rate_period_seconds(rate)
    raise exc


def account_ratelimit_count(request, *, group: str, account: str) -> None:
    _account_usage(request, group=group, account=account, increment=True)
