"""The front door of the webhook endpoints: what happens before a delivery is stored.

- ``webhook_body_read``: refuses a body over ``WEBHOOK_MAX_BODY_BYTES`` (413) before
  anything is stored, by its Content-Length when given, else by what was read.
- ``webhook_config_get``: the endpoint's config, cached in-process for
  ``WEBHOOK_CONFIG_CACHE_SECONDS`` with its secrets decrypted once, so a delivery
  costs no config query and no decryption (a config edited in the admin takes effect
  within that time everywhere).
- Unauthenticated deliveries are rate-limited per endpoint: every refused delivery
  counts against ``RATELIMIT_RATES["webhook_rejected"]`` in the shared cache. Past
  the limit, a delivery is verified *before* it is stored, and one that fails is
  answered 429 without being stored, so a flood of forgeries cannot fill the inbox
  while the PSP's signed deliveries still get through.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Mapping

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from common.errors import ApplicationError, RateLimited
from common.ratelimit import rate_period_seconds
from payments.exceptions import WebhookPayloadTooLarge
from payments.models import PSPConfig
from payments.providers.registry import provider_build
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


def _rejections_key(config: PSPConfig) -> str:
    return f"webhook-rejected:{config.pk}"


def webhook_rejection_count(config: PSPConfig) -> None:
    rate = settings.RATELIMIT_RATES.get("webhook_rejected")
    if not rate or not settings.RATELIMIT_ENABLE:
        return
    key = _rejections_key(config)
    if cache.add(key, 1, timeout=rate_period_seconds(rate)):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=rate_period_seconds(rate))


def webhook_flood_guard(
    *, config: PSPConfig, body: bytes, headers: Mapping[str, str]
) -> None:
    """Past the endpoint's limit of refused deliveries, verify before storing and
    answer 429 (nothing stored) to a delivery that does not verify."""
    rate = settings.RATELIMIT_RATES.get("webhook_rejected")
    if not rate or not settings.RATELIMIT_ENABLE:
        return
    allowed = int(rate.split("/", 1)[0])
    if (cache.get(_rejections_key(config)) or 0) < allowed:
        return
    try:
        provider_build(name=config.provider, config=config).verify_and_parse_webhook(
            body=body, headers=headers
        )
    except ApplicationError:
        raise RateLimited(
            "Too many unauthenticated deliveries to this endpoint.",
            retry_after=rate_period_seconds(rate),
        ) from None
