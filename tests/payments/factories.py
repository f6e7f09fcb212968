"""PSP configs and deposits, created through the services."""

import itertools
import json
import time

import factory

from common.actors import Actor
from payments.config.services import psp_config_save
from payments.models import PSPConfig
from payments.providers.stripe import webhooks
from payments.simulator.events import event_for
from payments.webhooks.services import webhook_receive
from tests.factories import TenantFactory
from wallet import services as wallet

SYSTEM = Actor.system("tests")
_keys = itertools.count(1)


class PSPConfigFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PSPConfig

    tenant = factory.SubFactory(TenantFactory)
    provider = "stripe"
    mode = "test"
    currencies = factory.LazyFunction(list)
    publishable_key = "pk_test_publishable0001"
    secret_key = factory.Sequence(lambda n: f"sk_test_tenantkey{n:06d}abcdef")
    webhook_secret = factory.Sequence(lambda n: f"whsec_tenantsecret{n:06d}abcdef")

    @classmethod
    def _create(cls, model_class, *args, secret_key, webhook_secret, **kwargs):
        return psp_config_save(
            actor=SYSTEM,
            config=model_class(**kwargs),
            secret_key=secret_key,
            webhook_secret=webhook_secret,
            created=True,
        )


def pending_deposit(player, amount_minor=5000, currency="EUR", provider="stripe"):
    """A deposit waiting at the PSP, as after a successful checkout creation."""
    deposit, _ = wallet.deposit_create(
        player=player,
        provider=provider,
        amount_minor=amount_minor,
        currency=currency,
        idempotency_key=f"test-deposit-{next(_keys)}",
        actor=SYSTEM,
    )
    return wallet.deposit_checkout_attach(
        deposit_id=deposit.pk,
        tenant_id=deposit.tenant_id,
        provider_reference=f"cs_test_{deposit.pk}",
        checkout_url=f"https://checkout.stripe.com/c/pay/cs_test_{deposit.pk}",
        actor=SYSTEM,
    )


def completed_deposit(player, amount_minor=5_000, currency="EUR", provider="stripe"):
    """A deposit the PSP confirmed: its record and its credit posting (what funds a
    player in tests that reconcile: ``fund`` posts a credit with no deposit)."""
    deposit = pending_deposit(player, amount_minor, currency, provider)
    return wallet.deposit_complete(
        deposit_id=deposit.pk,
        tenant_id=deposit.tenant_id,
        amount_minor=amount_minor,
        currency=currency,
        payment_reference=f"pi_{deposit.pk}",
        actor=Actor.psp(provider),
    )


def payment_rows(tenant, player):
    """A row of each payments admin model for ``tenant`` (PSP config, webhook inbox,
    deposit), the delivery verified and applied by the real service: for fixtures
    that need a row of every admin model."""
    config = PSPConfigFactory(tenant=tenant)
    deposit = pending_deposit(player)
    body = json.dumps(event_for(deposit, "checkout.session.expired")).encode()
    header = webhooks.sign(
        payload=body, secret=config.webhook_secret(), timestamp=int(time.time())
    )
    webhook_receive(config=config, body=body, headers={"Stripe-Signature": header})
    return config, deposit
