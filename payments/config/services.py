"""A brand's PSP configurations and payment routes: the writes operators make in the
admin (and the simulator's generated test configs). Audited; secrets are replaced
only when a new one is given and never appear in the audit trail."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from audit.services import audit_record
from common.actors import Actor
from payments.models import PaymentRoute, PSPConfig
from payments.providers.registry import provider_build, provider_simulated_config
from payments.providers.stripe.provider import simulator_enabled
from tenants.models import Tenant


def psp_config_save(
    *,
    actor: Actor,
    config: PSPConfig,
    secret_key: str = "",
    webhook_secret: str = "",
    hmac_key: str = "",
    webhook_password: str = "",
    balance_platform_hmac_key: str = "",
    created: bool,
) -> PSPConfig:
    """Save a config, replacing a secret only when a new one is given. The audit
    record says which secrets changed, never their values."""
    with transaction.atomic(savepoint=False):
        if secret_key:
            config.set_secret_key(secret_key)
        if webhook_secret:
            config.set_webhook_secret(webhook_secret)
        if hmac_key:
            config.set_hmac_key(hmac_key)
        if webhook_password:
            config.set_webhook_password(webhook_password)
        if balance_platform_hmac_key:
            config.set_balance_platform_hmac_key(balance_platform_hmac_key)
        config.full_clean()
        config.save()
        audit_record(
            actor=actor,
            action="psp_config.created" if created else "psp_config.updated",
            tenant_id=config.tenant_id,
            target=config,
            after={
                "provider": config.provider,
                "mode": config.mode,
                "enabled": config.enabled,
                "currencies": config.currencies,
                "publishable_key": config.publishable_key,
                "merchant_account": config.merchant_account,
                "live_url_prefix": config.live_url_prefix,
                "balance_account_id": config.balance_account_id,
                "webhook_username": config.webhook_username,
                # Which secrets were replaced, by name only (a key named "secret"
                # would be redacted whole by the audit trail).
                "replaced": [
                    name
                    for name, given in (
                        ("api key", secret_key),
                        ("webhook signing key", webhook_secret),
                        ("HMAC key", hmac_key),
                        ("webhook password", webhook_password),
                        ("balance platform HMAC key", balance_platform_hmac_key),
                    )
                    if given
                ],
            },
        )
    return config


def psp_config_ensure_simulated(
    *, tenant: Tenant, provider: str = "stripe"
) -> PSPConfig:
    """Simulator mode only: give a brand a test-mode config with generated secrets
    (no real Stripe key; the simulator never calls Stripe)."""
    if not simulator_enabled():
        raise RuntimeError("psp_config_ensure_simulated needs the simulator enabled")
    existing = PSPConfig.objects.filter(tenant=tenant, provider=provider).first()
    if existing is not None:
        return existing
    # What a simulated account looks like is the provider's business.
    fields, generated = provider_simulated_config(
        name=provider, tenant_slug=tenant.slug
    )
    config = PSPConfig(
        tenant=tenant, provider=provider, mode=PSPConfig.Mode.TEST, **fields
    )
    try:
        with transaction.atomic():
            return psp_config_save(
                actor=Actor.system("payments-simulator"),
                config=config,
                created=True,
                **generated,
            )
    except (IntegrityError, ValidationError):  # a concurrent first deposit made it
        return PSPConfig.objects.get(tenant=tenant, provider=provider)


def psp_config_check_credentials(*, config: PSPConfig, actor: Actor) -> None:
    """Make a harmless authenticated call to the PSP; raises ``ProviderError`` or
    ``ProviderUnavailable``. Audited with the outcome, never the key."""
    provider = provider_build(name=config.provider, config=config)
    outcome = "ok"
    try:
        provider.check_credentials()
    except Exception as exc:
        outcome = getattr(exc, "code", type(exc).__name__)
        raise
    finally:
        audit_record(
            actor=actor,
            action="psp_config.credentials_checked",
            tenant_id=config.tenant_id,
            target=config,
            after={"outcome": outcome},
        )


def payment_route_save(
    *, actor: Actor, route: PaymentRoute, created: bool
) -> PaymentRoute:
    """Save a brand's route (admin); audited."""
    with transaction.atomic(savepoint=False):
        route.currency = route.currency.upper()
        route.full_clean()
        route.save()
        audit_record(
            actor=actor,
            action="payment_route.created" if created else "payment_route.updated",
            tenant_id=route.tenant_id,
            target=route,
            after={
                "currency": route.currency,
                "deposit_provider": route.deposit_provider,
                "payout_provider": route.payout_provider,
            },
        )
    return route


def payment_route_delete(*, actor: Actor, route: PaymentRoute) -> None:
    with transaction.atomic(savepoint=False):
        audit_record(
            actor=actor,
            action="payment_route.deleted",
            tenant_id=route.tenant_id,
            target=route,
            before={
                "currency": route.currency,
                "deposit_provider": route.deposit_provider,
                "payout_provider": route.payout_provider,
            },
        )
        route.delete()
