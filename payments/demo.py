"""Demo data for the withdrawal review flow, built through the services.

``seed_withdrawals_demo()`` is idempotent: run it again and it finds what it made.
It leaves one verified player with a withdrawal waiting in the operator's queue, and
sets the brand's retry policy low (2 retries, 5 s cooldown) so an operator can approve,
mark the payout failed and retry until the policy refuses with
PAYMENT_RETRY_LIMIT_EXCEEDED within a minute. The player's money comes from a deposit
paid through the PSP simulator (needs ``PAYMENTS_SIMULATOR_ENABLED``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction

from audit.services import audit_record, model_snapshot
from casino.models import Player
from casino.services import player_register
from common.actors import Actor
from payments.simulator.deposits import simulated_deposit_pay
from payments.withdrawals.services import withdrawal_submit
from tenants.models import Tenant
from tenants.services import tenant_create, tenant_policy_changed, tenant_policy_get
from wallet.models import Withdrawal

SEED = Actor.system("seed_withdrawals_demo")
PLAYER_EMAIL = "withdrawer@example.com"
PLAYER_PASSWORD = "correct-horse-7391"
OPERATOR_USERNAME = "payments-operator"
OPERATOR_PASSWORD = "demo-operator-pass"
DEMO_IBAN = {
    "type": "iban",
    "iban": "DE89370400440532013000",
    "holder_name": "Dana Demo",
}


@dataclass(frozen=True)
class DemoWithdrawal:
    tenant: Tenant
    player: Player
    withdrawal: Withdrawal
    operator_username: str


def seed_withdrawals_demo(*, tenant_slug: str = "demo") -> DemoWithdrawal:
    with transaction.atomic(durable=True):
        tenant = Tenant.objects.filter(slug=tenant_slug).first() or tenant_create(
            actor=SEED, slug=tenant_slug, name=tenant_slug.title()
        )
        policy = tenant_policy_get(tenant=tenant)
        before = model_snapshot(policy)
        policy.payout_retry_limit = 2
        policy.payout_cooldown_seconds = 5
        policy.full_clean()
        policy.save()
        tenant_policy_changed(
            actor=SEED, policy=policy, before=before, reason="withdrawal demo"
        )

        user_model = get_user_model()
        operator = user_model.objects.filter(username=OPERATOR_USERNAME).first()
        if operator is None:
            operator = user_model.objects.create_user(
                username=OPERATOR_USERNAME,
                password=OPERATOR_PASSWORD,
                is_staff=True,
            )
        tenant.operators.add(operator)

        player = Player.objects.filter(tenant=tenant, email=PLAYER_EMAIL).first()
        if player is None:
            player = player_register(
                tenant=tenant,
                email=PLAYER_EMAIL,
                password=PLAYER_PASSWORD,
                display_name="Dana Demo",
            )
        if player.kyc_status != Player.KycStatus.VERIFIED:
            # No KYC flow exists yet; the demo player is verified by fiat, on record,
            # with the name the closed-loop payout checks the bank account against.
            Player.objects.filter(pk=player.pk).update(
                kyc_status=Player.KycStatus.VERIFIED,
                verified_name=DEMO_IBAN["holder_name"],
            )
            audit_record(
                actor=SEED,
                action="player.kyc_status_changed",
                tenant_id=tenant.pk,
                target=player,
                before={"kyc_status": player.kyc_status},
                after={
                    "kyc_status": Player.KycStatus.VERIFIED,
                    "verified_name": DEMO_IBAN["holder_name"],
                },
                reason="withdrawal demo",
            )
            player.refresh_from_db()
    # Funded by a deposit paid through the PSP simulator and the real webhook code,
    # as a player funds their account (its own transactions).
    simulated_deposit_pay(
        player=player,
        amount_minor=50_000,
        currency="EUR",
        idempotency_key=f"demo:withdrawals:funding:{player.pk}",
    )
    with transaction.atomic(durable=True):
        withdrawal, _ = withdrawal_submit(
            player=player,
            amount_minor=12_000,
            currency="EUR",
            destination=DEMO_IBAN,
            idempotency_key="demo-withdrawal-1",
        )
    return DemoWithdrawal(
        tenant=tenant,
        player=player,
        withdrawal=withdrawal,
        operator_username=OPERATOR_USERNAME,
    )
