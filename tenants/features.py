"""Per-brand feature flags and kill switches, read the same way from every door.

``tenant_feature_require`` is the one gate: the CRM API, the CRM admin pages and the
payment call sites ask it (or its boolean twin ``tenant_feature_enabled``), so a brand
without a module is refused identically everywhere. Flags are read from the cache
(one entry per brand, all features at once) and written only through
``tenant_feature_set``, which audits the change and drops the cache entry when the
transaction commits."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.db import transaction

from audit.services import audit_record
from common.actors import Actor
from tenants.exceptions import FeatureDisabled, ModuleTemporarilyDisabled
from tenants.models import Tenant, TenantFeature

logger = logging.getLogger(__name__)

Feature = TenantFeature.Feature

#: What a brand without a row for the feature gets. Modules that already worked
#: before flags existed stay on; affiliates has no code yet, so it starts off.
FEATURE_DEFAULTS: dict[str, bool] = {
    Feature.CRM: True,
    Feature.AFFILIATES: False,
    Feature.ADYEN: True,
    Feature.STRIPE: True,
    Feature.WITHDRAWALS_AUTO_APPROVE: True,
}


@dataclass(frozen=True, slots=True)
class FeatureState:
    enabled: bool
    killed: bool

    @property
    def usable(self) -> bool:
        return self.enabled and not self.killed


def _cache_key(tenant_id: int) -> str:
    return f"tenant-features:v1:{tenant_id}"


def _cache_call(method, *args):
    """The cache is only a copy of the table: when it (Redis) does not answer, read
    and decide from the database, never fail the request (issue 14, Redis down)."""
    try:
        return method(*args)
    except Exception as exc:  # redis.ConnectionError, TimeoutError, OSError...
        logger.warning(
            "tenant_features.cache_unavailable", extra={"error": type(exc).__name__}
        )
        return None


def _unknown(feature: str) -> ValueError:
    return ValueError(f"unknown feature {feature!r}; known: {sorted(FEATURE_DEFAULTS)}")


def tenant_feature_states(*, tenant: Tenant | int) -> dict[str, FeatureState]:
    """Every feature's state for a brand; one cache read (one query on a miss)."""
    tenant_id = tenant if isinstance(tenant, int) else tenant.pk
    key = _cache_key(tenant_id)
    stored = _cache_call(cache.get, key)
    if stored is None:
        stored = {
            feature: (default, False) for feature, default in FEATURE_DEFAULTS.items()
        }
        for feature, enabled, killed in TenantFeature.objects.filter(
            tenant_id=tenant_id
        ).values_list("feature", "enabled", "killed"):
            stored[feature] = (enabled, killed)
        _cache_call(cache.set, key, stored, settings.TENANT_FEATURES_CACHE_SECONDS)
    return {feature: FeatureState(*state) for feature, state in stored.items()}


def tenant_feature_state(*, tenant: Tenant | int, feature: str) -> FeatureState:
    if feature not in FEATURE_DEFAULTS:
        raise _unknown(feature)
    return tenant_feature_states(tenant=tenant)[feature]


def tenant_feature_enabled(*, tenant: Tenant | int, feature: str) -> bool:
    """True when the brand has the feature and its kill switch is not pulled."""
    return tenant_feature_state(tenant=tenant, feature=feature).usable


def tenant_feature_require(*, tenant: Tenant | int, feature: str) -> None:
    """Raise FEATURE_DISABLED (403) or MODULE_TEMPORARILY_DISABLED (503)."""
    state = tenant_feature_state(tenant=tenant, feature=feature)
    if not state.enabled:
        raise FeatureDisabled(
            f"The {feature} module is not enabled for this brand.",
            details={"feature": feature},
        )
    if state.killed:
        raise ModuleTemporarilyDisabled(
            f"The {feature} module is temporarily switched off for this brand.",
            details={"feature": feature},
        )


def tenant_feature_set(
    *,
    actor: Actor,
    tenant: Tenant,
    feature: str,
    enabled: bool | None = None,
    killed: bool | None = None,
    reason: str = "",
) -> TenantFeature:
    """Switch a feature or its kill switch for one brand, audited; the cached flags
    are dropped when the transaction commits, so every process sees the change
    within one request (or TENANT_FEATURES_CACHE_SECONDS for a peer's stale cache
    on a process-local cache)."""
    if feature not in FEATURE_DEFAULTS:
        raise _unknown(feature)
    with transaction.atomic(savepoint=False):
        row, created = TenantFeature.objects.select_for_update().get_or_create(
            tenant=tenant,
            feature=feature,
            defaults={"enabled": FEATURE_DEFAULTS[feature], "killed": False},
        )
        before = {"enabled": row.enabled, "killed": row.killed}
        if created:
            before = {"enabled": FEATURE_DEFAULTS[feature], "killed": False}
        if enabled is not None:
            row.enabled = enabled
        if killed is not None:
            row.killed = killed
        row.save()
        after = {"enabled": row.enabled, "killed": row.killed}
        if after != before:
            audit_record(
                actor=actor,
                action="tenant_feature.updated",
                tenant_id=tenant.pk,
                target=row,
                before={"feature": feature, **before},
                after={"feature": feature, **after},
                reason=reason,
            )
        # Dropped now (this process reads its own write at once) and again on commit
        # (a reader that re-cached the old value meanwhile is corrected).
        cache.delete(_cache_key(tenant.pk))
        transaction.on_commit(lambda: cache.delete(_cache_key(tenant.pk)))
    return row


def tenant_provider_require(*, tenant: Tenant | int, provider: str) -> None:
    """Refuse a PSP the brand does not have (or has stopped): a provider whose name
    is a feature (``stripe``, ``adyen``) is gated by it; one that is not (``manual``)
    always passes. Deposit starts and payout routing call this."""
    if provider in FEATURE_DEFAULTS:
        tenant_feature_require(tenant=tenant, feature=provider)


def tenant_features_init(*, tenant: Tenant) -> None:
    """Give a new brand one row per feature at its default, so the admin lists every
    flag and kill switch of the brand (and an operator can pull any kill switch)."""
    TenantFeature.objects.bulk_create(
        [
            TenantFeature(tenant=tenant, feature=feature, enabled=default)
            for feature, default in FEATURE_DEFAULTS.items()
        ],
        ignore_conflicts=True,
    )
    cache.delete(_cache_key(tenant.pk))
