"""Deploy check: rate-limit counters in a process-local cache do not limit anything
once there are several worker processes."""

from django.conf import settings
from django.core.checks import Tags, Warning, register

_PROCESS_LOCAL = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
    "django.core.cache.backends.filebased.FileBasedCache",
)


@register(Tags.caches, deploy=True)
def ratelimit_cache_is_shared(app_configs, **kwargs):
    alias = getattr(settings, "RATELIMIT_USE_CACHE", "default")
    backend = settings.CACHES.get(alias, {}).get("BACKEND", "")
    if backend in _PROCESS_LOCAL:
        return [
            Warning(
                f"The rate-limit cache '{alias}' ({backend}) is not shared between "
                "processes: every worker counts on its own.",
                hint="Set CACHE_URL to Redis, e.g. redis://127.0.0.1:6379/1.",
                id="casino.W101",
            )
        ]
    return []
