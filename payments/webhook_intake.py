"""The front door of the webhook endpoints: what happens before a delivery is stored.

- ``webhook_body_read``: refuses a body over ``WEBHOOK_MAX_BODY_BYTES`` (413) before
  anything is stored, by its Content-Length when given, else by what was read.
- ``webhook_config_get``: the endpoint's config, cached in-process for
  ``WEBHOOK_CONFIG_CACHE_SECONDS`` with its secrets decrypted once, so a delivery
  costs no config query and no decryption (a config edited in the admin takes effect
  within that time everywhere).
- Unauthenticated deliveries are rate-limited per endpoint (``WebhookFloodGuard``):
  every refused delivery counts against ``RATELIMIT_RATES["webhook_rejected"]`` in
  the shared cache; past the limit one is answered 429 and not stored, so a flood of
  forgeries cannot fill the inbox while the PSP's signed deliveries get through.
"""

from __future__ import annotations

import functools
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from common.errors import RateLimited
from common.ratelimit import rate_period_seconds
from payments.exceptions import WebhookPayloadTooLarge
from payments.models import PSPConfig
from payments.selectors import psp_config_get_by_endpoint

_SECRETS = (
    "secret_key",
    "webhook_secret",
    "hmac_key",
    "webhook_password",
    "balance_platform_hmac_key",
)
_configs: dict[tuple[str, str], tuple[float, PSPConfig]] = {}
_lock = threading.Lock()


def webhook_body_read(request: HttpRequest) -> bytes:
    limit = settings.WEBHOOK_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise WebhookPayloadTooLarge(details={"max_bytes": limit})
    body = request.body
    if len(body) > limit:
        raise WebhookPayloadTooLarge(details={"max_bytes": limit})
    return body


def webhook_config_get(*, provider: str, endpoint_id: str) -> PSPConfig:
    ttl = settings.WEBHOOK_CONFIG_CACHE_SECONDS
    key = (provider, endpoint_id)
    now = time.monotonic()
    cached = _configs.get(key)
    if cached is not None and cached[0] > now:
        return cached[1]
    config = psp_config_get_by_endpoint(provider=provider, endpoint_id=endpoint_id)
    if ttl > 0:
        for name in _SECRETS:  # decrypt once per cache lifetime, not per delivery
            setattr(config, name, functools.cache(getattr(config, name)))
        with _lock:
            _configs[key] = (now + ttl, config)
    return config


def webhook_config_cache_clear() -> None:
    with _lock:
        _configs.clear()


class WebhookFloodGuard:
    """Counts one endpoint's refused deliveries in the shared cache. ``admit()`` is
    asked before a refused delivery is stored: past the limit it says no, and
    ``tripped`` tells the door to answer 429 instead of the refusal. Verified
    deliveries never touch the counter (no cache round trip on the fast path)."""

    def __init__(self, config: PSPConfig):
        self.key = f"webhook-rejected:{config.pk}"
        self.rate = settings.RATELIMIT_RATES.get("webhook_rejected")
        self.tripped = False

    def admit(self) -> bool:
        if not self.rate or not settings.RATELIMIT_ENABLE:
            return True
        period = rate_period_seconds(self.rate)
        if cache.add(self.key, 1, timeout=period):
            count = 1
        else:
            try:
                count = cache.incr(self.key)
            except ValueError:  # expired between add and incr
                cache.add(self.key, 1, timeout=period)
                count = 1
        self.tripped = count > int(self.rate.split("/", 1)[0])
        return not self.tripped

    def refusal(self) -> RateLimited:
        return RateLimited(
            "Too many unauthenticated deliveries to this endpoint.",
            retry_after=rate_period_seconds(self.rate),
        )
