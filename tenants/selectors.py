from __future__ import annotations

from django.db.models import QuerySet

from tenants.exceptions import TenantNotFound, TenantSuspended
from tenants.models import Tenant


def tenant_get_for_request(*, header_slug: str | None, host: str | None) -> Tenant:
    """Resolve the brand a player request is for: the ``X-Tenant`` header wins, else
    the host is matched against the brand's domains. Suspended brands are refused."""
    tenant = None
    if header_slug:
        tenant = Tenant.objects.filter(slug=header_slug.strip().lower()).first()
    elif host:
        hostname = host.split(":", 1)[0].lower()
        tenant = Tenant.objects.filter(domains__domain=hostname).first()
    if tenant is None:
        raise TenantNotFound(details={"tenant": header_slug or host or ""})
    if not tenant.is_active:
        raise TenantSuspended(details={"tenant": tenant.slug})
    return tenant


def tenant_list_for_operator(*, user) -> QuerySet[Tenant]:
    """The brands an operator works on; a superuser has them all."""
    if user.is_superuser:
        return Tenant.objects.all()
    return Tenant.objects.filter(operators=user)


def tenant_ids_for_operator(*, user) -> list[int] | None:
    """None means "all tenants" (superuser)."""
    if user.is_superuser:
        return None
    return list(Tenant.objects.filter(operators=user).values_list("id", flat=True))
