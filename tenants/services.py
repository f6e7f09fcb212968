from __future__ import annotations

from collections.abc import Sequence

from django.db import transaction

from audit.services import audit_record, model_snapshot
from common.actors import Actor
from tenants.features import tenant_features_init
from tenants.models import Tenant, TenantDomain, TenantPolicy


def tenant_create(
    *,
    actor: Actor,
    slug: str,
    name: str,
    default_currency: str = "EUR",
    allowed_currencies: Sequence[str] = (),
    domains: Sequence[str] = (),
) -> Tenant:
    with transaction.atomic(savepoint=False):
        tenant = Tenant(
            slug=slug,
            name=name,
            default_currency=default_currency,
            allowed_currencies=list(allowed_currencies),
        )
        tenant.full_clean()
        tenant.save()
        TenantPolicy.objects.create(tenant=tenant)
        tenant_features_init(tenant=tenant)
        for domain in domains:
            TenantDomain.objects.create(tenant=tenant, domain=domain)
        audit_record(
            actor=actor,
            action="tenant.created",
            tenant_id=tenant.pk,
            target=tenant,
            after=model_snapshot(tenant),
        )
    return tenant


def tenant_policy_get(*, tenant: Tenant) -> TenantPolicy:
    policy, _ = TenantPolicy.objects.get_or_create(tenant=tenant)
    return policy


def tenant_policy_changed(
    *, actor: Actor, policy: TenantPolicy, before: dict, reason: str = ""
) -> None:
    """Audit a policy edit (the admin saves the form, then calls this)."""
    after = model_snapshot(policy)
    changed = {
        k: v for k, v in after.items() if before.get(k) != v and k != "updated_at"
    }
    if not changed:
        return
    audit_record(
        actor=actor,
        action="tenant_policy.updated",
        tenant_id=policy.tenant_id,
        target=policy,
        before={k: before.get(k) for k in changed},
        after=changed,
        reason=reason,
    )
