"""Reads of PSP configuration and the webhook inbox."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from payments.exceptions import ProviderNotConfigured, WebhookEndpointNotFound
from payments.models import PaymentRoute, PSPConfig, WebhookInbox
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


# Without a route, a brand keeps what it had before routing existed.
DEFAULT_DEPOSIT_PROVIDER = "stripe"
DEFAULT_PAYOUT_PROVIDER = "manual"


@dataclass(frozen=True, slots=True)
class Route:
    deposit: str
    payout: str


def payment_route_get(*, tenant_id: int, currency: str) -> Route:
    """The brand's route for this currency, else its default route (empty currency),
    else the defaults."""
    routes = {
        route.currency: route
        for route in PaymentRoute.objects.filter(
            tenant_id=tenant_id, currency__in=[currency, ""]
        )
    }
    route = routes.get(currency) or routes.get("")
    if route is None:
        return Route(deposit=DEFAULT_DEPOSIT_PROVIDER, payout=DEFAULT_PAYOUT_PROVIDER)
    return Route(deposit=route.deposit_provider, payout=route.payout_provider)


def payment_route_list(*, tenant: Tenant) -> QuerySet[PaymentRoute]:
    return PaymentRoute.objects.filter(tenant=tenant).order_by("currency")


def psp_config_for_payout(*, tenant_id: int, provider: str) -> PSPConfig | None:
    """The brand's config for a payout provider, or ``None`` when it has none (the
    ``manual`` provider needs none; a PSP's factory refuses ``None`` with
    ``ProviderNotConfigured``). A disabled config still pays out what was routed."""
    return (
        PSPConfig.objects.select_related("tenant")
        .filter(tenant_id=tenant_id, provider=provider)
        .first()
    )


# --- issue 9: health and metrics (platform-wide, not per tenant) -------------------


def webhook_oldest_unapplied_received_at():
    """When the oldest verified delivery still to apply arrived (received with an
    event id, or failed and due again); None when there is none."""
    return (
        WebhookInbox.objects.filter(
            status__in=[WebhookInbox.Status.RECEIVED, WebhookInbox.Status.FAILED]
        )
        .exclude(event_id="")
        .order_by("received_at")
        .values_list("received_at", flat=True)
        .first()
    )
