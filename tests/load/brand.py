"""The load run's brand, made through the services before the clients start.

A fresh brand per run (its own slug), so the checks after the run read only what
this run did: EUR deposits through Stripe, GBP deposits through Adyen, payouts
through Adyen's Transfers API, every withdrawal reviewed by an operator (no
automatic approval) who signs in to the admin with a TOTP second factor. Players
who register during the run need no KYC to withdraw (their money came from their
deposits, so the closed loop refunds it to them); the "veterans" made here are
KYC-verified with winnings, so part of their withdrawals goes to a bank account in
their verified name (an Adyen transfer)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import model_snapshot
from casino.models import Player
from casino.services import (
    player_register,
    player_set_kyc_status,
    player_set_verified_name,
)
from common.actors import Actor
from payments.config.services import payment_route_save, psp_config_save
from payments.models import PaymentRoute, PSPConfig
from tenants.services import tenant_create, tenant_policy_changed, tenant_policy_get
from wallet.services import adjustment_create

SETUP = Actor.system("loadtest")
PLAYER_PASSWORD = "load-test-Passw0rd"
VERIFIED_NAME = "Vera Veteran"
WINNINGS = {"EUR": 50_000, "GBP": 30_000}


@dataclass(frozen=True)
class LoadBrand:
    """What the client processes need to know (picklable, no model instances)."""

    slug: str
    tenant_id: int
    stripe_config_id: int
    adyen_config_id: int
    stripe_endpoint: str
    adyen_endpoint: str
    stripe_secret_key: str
    operator_username: str
    operator_password: str
    operator_totp_key: str
    veterans: tuple[str, ...]  # emails; password PLAYER_PASSWORD


def load_brand_create(*, run: str, veterans: int) -> LoadBrand:
    with transaction.atomic(durable=True):
        tenant = tenant_create(
            actor=SETUP,
            slug=f"load-{run}",
            name=f"Load test {run}",
            default_currency="EUR",
            allowed_currencies=["GBP"],
        )
        policy = tenant_policy_get(tenant=tenant)
        before = model_snapshot(policy)
        policy.kyc_required_for_withdrawal = False
        policy.payout_cooldown_seconds = 0
        policy.save()
        tenant_policy_changed(
            actor=SETUP, policy=policy, before=before, reason="load test brand"
        )
        stripe_key = f"sk_test_load{secrets.token_hex(12)}"
        stripe = psp_config_save(
            actor=SETUP,
            config=PSPConfig(tenant=tenant, provider="stripe", mode="test"),
            secret_key=stripe_key,
            webhook_secret=f"whsec_load{secrets.token_hex(16)}",
            created=True,
        )
        adyen = psp_config_save(
            actor=SETUP,
            config=PSPConfig(
                tenant=tenant,
                provider="adyen",
                mode="test",
                merchant_account=f"LoadMerchant{run}",
                webhook_username="adyen-load",
                balance_account_id=f"BA{secrets.token_hex(12).upper()}",
            ),
            secret_key=f"AQE_load_{secrets.token_hex(12)}",
            hmac_key=secrets.token_hex(32).upper(),
            webhook_password=secrets.token_urlsafe(16),
            balance_platform_hmac_key=secrets.token_hex(32).upper(),
            created=True,
        )
        for currency, deposits_through in (("EUR", "stripe"), ("GBP", "adyen")):
            payment_route_save(
                actor=SETUP,
                route=PaymentRoute(
                    tenant=tenant,
                    currency=currency,
                    deposit_provider=deposits_through,
                    payout_provider="adyen",
                ),
                created=True,
            )
        operator_password = secrets.token_urlsafe(18)
        operator = get_user_model().objects.create_user(
            username=f"load-operator-{run}",
            password=operator_password,
            is_staff=True,
        )
        tenant.operators.add(operator)
        device = TOTPDevice.objects.create(user=operator, name="load", confirmed=True)
        emails = tuple(
            _veteran_create(tenant=tenant, email=f"veteran{n}@load-{run}.invalid")
            for n in range(veterans)
        )
    return LoadBrand(
        slug=tenant.slug,
        tenant_id=tenant.pk,
        stripe_config_id=stripe.pk,
        adyen_config_id=adyen.pk,
        stripe_endpoint=stripe.endpoint_id,
        adyen_endpoint=adyen.endpoint_id,
        stripe_secret_key=stripe_key,
        operator_username=operator.username,
        operator_password=operator_password,
        operator_totp_key=device.key,
        veterans=emails,
    )


def _veteran_create(*, tenant, email: str) -> str:
    player = player_register(
        tenant=tenant, email=email, password=PLAYER_PASSWORD, display_name="Vera"
    )
    player_set_kyc_status(
        actor=SETUP,
        player=player,
        kyc_status=Player.KycStatus.VERIFIED,
        reason="load test veteran",
    )
    player_set_verified_name(
        actor=SETUP, player=player, verified_name=VERIFIED_NAME, reason="KYC"
    )
    for currency, amount in WINNINGS.items():
        adjustment_create(
            actor=SETUP,
            player=player,
            currency=currency,
            amount_minor=amount,
            reason="winnings before the load run",
            idempotency_key=f"load:{email}:winnings:{currency}",
        )
    return email
