"""Reads of PSP configuration and the webhook inbox."""

from __future__ import annotations

from django.db.models import QuerySet

from payments.exceptions import ProviderNotConfigured, WebhookEndpointNotFound
from payments.models import PSPConfig, WebhookInbox
from tenants.models import Tenant


def psp_config_for_deposit(
    *, tenant: Tenant, provider: str, currency: str
) -> PSPConfig:
    config = PSPConfig.objects.filter(
        tenant=tenant, provider=provider, enabled=True
    ).first()
    if config is None or not config.takes_currency(currency):
        raise ProviderNotConfigured(
            details={"provider": provider, "currency": currency}
        )
    return config


def psp_config_get_by_endpoint(*, provider: str, endpoint_id: str) -> PSPConfig:
    """The config a webhook URL names. A disabled config still receives: deposits
    already at the PSP must still be settled."""
    config = (
        PSPConfig.objects.select_related("tenant")
        .filter(provider=provider, endpoint_id=endpoint_id)
        .first()
    )
    if config is None:
        raise WebhookEndpointNotFound()
    return config


def webhook_inbox_list(*, tenant: Tenant) -> QuerySet[WebhookInbox]:
    return WebhookInbox.objects.filter(tenant=tenant).order_by("-id")
