"""Which brand a settlement file belongs to, when the command is not told."""

from __future__ import annotations

from payments.models import PSPConfig
from tenants.models import Tenant


def settlement_tenant_resolve(*, slug: str | None, provider: str) -> Tenant | None:
    """The tenant named by ``slug``; without one, the only brand with a configuration
    for ``provider`` (a settlement report is per PSP account, and each brand has its
    own). None when it cannot be told."""
    if slug:
        return Tenant.objects.filter(slug=slug).first()
    tenant_ids = list(
        PSPConfig.objects.filter(provider=provider)
        .values_list("tenant_id", flat=True)
        .distinct()[:2]
    )
    if len(tenant_ids) != 1:
        return None
    return Tenant.objects.get(pk=tenant_ids[0])
