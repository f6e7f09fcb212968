"""Test data built through the services, so tests exercise the real rules."""

import itertools

import factory
from django.contrib.auth import get_user_model

from casino.models import Player
from casino.services import player_register, player_token_issue
from common.actors import Actor
from tenants.models import Tenant
from tenants.services import tenant_create
from wallet import services as wallet_services
from wallet.models import Account, JournalTransaction

SYSTEM = Actor.system("tests")
_keys = itertools.count(1)


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    slug = factory.Sequence(lambda n: f"brand{n}")
    name = factory.LazyAttribute(lambda o: o.slug.title())
    default_currency = "EUR"
    allowed_currencies = factory.LazyFunction(lambda: ["EUR", "USD"])

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return tenant_create(actor=SYSTEM, **kwargs)


class PlayerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Player

    tenant = factory.SubFactory(TenantFactory)
    email = factory.Sequence(lambda n: f"player{n}@example.com")
    password = "correct-horse-battery"
    display_name = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return player_register(**kwargs)


class OperatorFactory(factory.django.DjangoModelFactory):
    """A staff user who works on the given tenants."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"operator{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    is_staff = True
    password = factory.PostGenerationMethodCall("set_password", "operator-pass-123")

    @factory.post_generation
    def tenants(self, create, extracted, **kwargs):
        self.save()
        for tenant in extracted or []:
            tenant.operators.add(self)


def token_for(player: Player) -> str:
    return player_token_issue(player=player)


def fund(
    player: Player, amount_minor: int, currency: str = "EUR", provider: str = "stripe"
):
    """Credit a player as a completed PSP deposit would, without its deposit record
    (fast, for tests about balances). ``reconcile`` reports such a credit
    (DEPOSIT_CREDIT_WITHOUT_DEPOSIT): a test that reconciles funds players with
    ``tests.payments.factories.completed_deposit``."""
    return wallet_services.player_credit(
        player=player,
        currency=currency,
        amount_minor=amount_minor,
        source_kind=Account.Kind.PSP_CLEARING,
        kind=JournalTransaction.Kind.DEPOSIT,
        idempotency_key=f"test-fund:{next(_keys)}",
        actor=SYSTEM,
        provider=provider,
    )
