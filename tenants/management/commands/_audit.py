"""Shared by the audit commands (they live in tenants because ``--tenant`` names a
brand by slug, and audit sits below tenants)."""

from __future__ import annotations

from django.core.management.base import CommandError

from tenants.models import Tenant

#: The platform chain (events without a tenant) in --tenant.
PLATFORM = "platform"


def audit_chains(slug: str | None) -> list[tuple[str, Tenant | None]]:
    """``[(label, tenant or None)]``: one brand, the platform chain, or all of them
    (every tenant, then the platform chain)."""
    if slug == PLATFORM:
        return [(PLATFORM, None)]
    if slug:
        tenant = Tenant.objects.filter(slug=slug).first()
        if tenant is None:
            raise CommandError(f"No tenant with slug {slug!r}.")
        return [(tenant.slug, tenant)]
    chains: list[tuple[str, Tenant | None]] = [
        (tenant.slug, tenant) for tenant in Tenant.objects.order_by("pk")
    ]
    chains.append((PLATFORM, None))
    return chains
