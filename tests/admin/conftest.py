"""Two brands with a row of every admin-registered model each, built through the
services, and clients for an operator of each brand and a superuser."""

import io
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from audit.services import audit_record
from casino.models import Player
from casino.services import player_set_status
from common.actors import Actor
from reconciliation.settlement.importing import settlement_import
from tenants.models import Tenant
from tests.adyen.factories import adyen_rows
from tests.compliance.helpers import compliance_rows
from tests.crm.factories import crm_rows
from tests.factories import OperatorFactory, PlayerFactory, TenantFactory, fund
from tests.payments.factories import payment_rows
from tests.reconciliation.factories import stripe_file, stripe_line
from tests.withdrawals.factories import verified_player, withdrawal_requested
from wallet import services as wallet
from wallet.models import Hold
from wallet.services import FindingSpec, finding_record

SYSTEM = Actor.system("tests")


@dataclass
class Brand:
    tenant: Tenant
    player: Player
    operator: object
    client: Client
    hold: Hold


def _brand(slug: str) -> Brand:
    tenant = TenantFactory(slug=slug, name=f"{slug.title()} Brand")
    player = PlayerFactory(tenant=tenant, email=f"{slug}-player@example.com")
    operator = OperatorFactory(username=f"{slug}-op", tenants=[tenant])
    deposit = fund(player, 10_000)
    wallet.adjustment_create(
        actor=Actor.for_user(operator),
        player=player,
        currency="EUR",
        amount_minor=250,
        reason="welcome gesture",
        idempotency_key=f"{slug}:adjustment",
    )
    wallet.transaction_reverse(
        transaction_id=deposit.transaction_id,
        tenant_id=tenant.pk,
        actor=SYSTEM,
        reason="test reversal",
    )
    fund(player, 5_000)
    hold = wallet.hold_place(
        player=player,
        currency="EUR",
        amount_minor=1_000,
        idempotency_key=f"{slug}:hold",
        actor=SYSTEM,
    )
    player_set_status(
        actor=SYSTEM, player=player, status=Player.Status.BLOCKED, reason="touch"
    )
    player_set_status(
        actor=SYSTEM, player=player, status=Player.Status.ACTIVE, reason="touch"
    )
    audit_record(actor=SYSTEM, action="test.event", tenant_id=tenant.pk)
    payee = verified_player(tenant=tenant, email=f"{slug}-payee@example.com")
    withdrawal_requested(payee, 500, key=f"{slug}:withdrawal")
    payment_rows(tenant, payee)
    adyen_rows(tenant, payee)
    crm_rows(tenant, player, operator)
    compliance_rows(tenant)
    finding_record(
        spec=FindingSpec(
            tenant_id=tenant.pk,
            code="missing_in_ledger",
            severity="critical",
            object_type="psp_row",
            object_ref=f"{slug}:psp-ref",
            details={},
        ),
        source="reconcile_psp",
    )
    settlement_import(
        tenant_id=tenant.pk,
        provider="stripe",
        stream=io.BytesIO(stripe_file([stripe_line("transfer", gross=-100)])),
        file_name=f"{slug}.csv",
        actor=SYSTEM,
    )
    client = Client()
    client.force_login(operator)
    return Brand(tenant, player, operator, client, hold)


@pytest.fixture
def brand_a(db) -> Brand:
    return _brand("alpha")


@pytest.fixture
def brand_b(db) -> Brand:
    return _brand("beta")


@pytest.fixture
def superuser_client(db) -> Client:
    user = get_user_model().objects.create_superuser(
        "root", "root@example.com", "root-pass-123"
    )
    client = Client()
    client.force_login(user)
    return client
