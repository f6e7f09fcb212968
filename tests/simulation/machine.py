"""The model-based simulation of the money flow (issue 14), shared by the bounded
test (tests/simulation/test_money_flow.py) and the long mode (``make soak``).

A hypothesis ``RuleBasedStateMachine`` drives the real services and the real webhook
endpoints on PostgreSQL with real commits, in any order: players registering on two
brands; deposits through Stripe and Adyen paid by signed PSP events, duplicated,
forged, or delivered to the other brand's endpoint; withdrawals submitted, canceled
by the player, rejected by an operator. A plain-Python model says what each player's
available and held balance must be. After every step it checks the model against the
ledger, and the reconcile selectors (``ledger_invariants_check``,
``payments_invariants_check``: every transaction sums to zero, cached balances equal
entries, no negative balance, held equals open withdrawals, each completed deposit
exactly one credit) on both brands.

Each example builds its own two brands (fresh slugs), so examples never share money.
"""

from __future__ import annotations

import itertools
import json
import time
from dataclasses import dataclass, field

from django.db import transaction
from django.test import Client, override_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    precondition,
    rule,
)

from casino.models import Player
from common.actors import Actor
from common.errors import ApplicationError
from payments.deposits.services import deposit_start
from payments.providers.stripe import webhooks as stripe_webhooks
from payments.simulator import adyen as adyen_sim
from payments.simulator.events import event_for
from payments.withdrawals.services import (
    withdrawal_cancel_by_player,
    withdrawal_review_reject,
    withdrawal_submit,
)
from tenants.features import tenant_feature_set
from tests.adyen.factories import adyen_psp_config
from tests.factories import TenantFactory
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.payments.fake_stripe import FakeStripeServer
from tests.withdrawals.factories import verified_player
from wallet.models import Deposit, Withdrawal
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)

_world = itertools.count(1)
OPERATOR = Actor.system("simulation-operator")
DESTINATION = {"type": "iban", "iban": "DE89370400440532013000", "holder_name": "Ann"}
OPEN_WITHDRAWAL = {
    Withdrawal.State.REQUESTED,
    Withdrawal.State.APPROVED,
    Withdrawal.State.PAYOUT_PENDING,
    Withdrawal.State.PAYOUT_FAILED,
}


@dataclass
class PlayerModel:
    available: int = 0
    held: int = 0


@dataclass
class Brand:
    tenant: object
    stripe: object
    adyen: object


@dataclass
class Model:
    players: dict[int, PlayerModel] = field(default_factory=dict)
    paid: set[int] = field(default_factory=set)
    open_withdrawals: dict[int, tuple[int, int]] = field(default_factory=dict)


class MoneyFlow(RuleBasedStateMachine):
    executed_steps = 0  # across examples, for the steps/s the long mode prints

    players = Bundle("players")
    deposits = Bundle("deposits")
    withdrawals = Bundle("withdrawals")

    def __init__(self):
        super().__init__()
        n = next(_world)
        self.brands = []
        for side in ("a", "b"):
            tenant = TenantFactory(slug=f"sim{n}{side}", name=f"Sim {n}{side}")
            self.brands.append(
                Brand(
                    tenant=tenant,
                    stripe=PSPConfigFactory(tenant=tenant),
                    adyen=adyen_psp_config(
                        tenant=tenant, merchant_account=f"SimMerchant{n}{side}"
                    ),
                )
            )
        self.model = Model()
        self.killed = {brand.tenant.pk: False for brand in self.brands}
        # A local Stripe for deposits started through deposit_start (the door the
        # kill switch guards); the webhook rules pay them like the others.
        self.fake_server = FakeStripeServer()
        self.fake = self.fake_server.__enter__()
        for brand in self.brands:
            self.fake.valid_keys.add(brand.stripe.secret_key())
        self.stripe_settings = override_settings(
            STRIPE_API_BASE=self.fake.url, STRIPE_MAX_NETWORK_RETRIES=0
        )
        self.stripe_settings.enable()
        self.http = Client()
        self.keys = itertools.count(1)

    # --- helpers -------------------------------------------------------------------

    def _brand_of(self, tenant_id: int) -> Brand:
        return next(b for b in self.brands if b.tenant.pk == tenant_id)

    def _other_brand(self, tenant_id: int) -> Brand:
        return next(b for b in self.brands if b.tenant.pk != tenant_id)

    def _post_stripe(self, config, event: dict, *, secret: str | None = None):
        body = json.dumps(event).encode()
        signature = stripe_webhooks.sign(
            payload=body,
            secret=secret or config.webhook_secret(),
            timestamp=int(time.time()),
        )
        return self.http.post(
            f"/api/v1/webhooks/stripe/{config.endpoint_id}/",
            data=body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=signature,
        )

    def _post_adyen(self, config, item: dict, *, authorization: str | None = None):
        return self.http.post(
            f"/api/v1/webhooks/adyen/{config.endpoint_id}/",
            data=json.dumps(adyen_sim.batch(item)).encode(),
            content_type="application/json",
            HTTP_AUTHORIZATION=authorization or adyen_sim.basic_auth_header(config),
        )

    def _credit_expected(self, deposit: Deposit) -> None:
        if deposit.pk not in self.model.paid:
            self.model.paid.add(deposit.pk)
            self.model.players[deposit.player_id].available += deposit.amount_minor

    # --- rules ---------------------------------------------------------------------

    @rule(target=players, side=st.sampled_from([0, 1]))
    def register(self, side):
        player = verified_player(balance_minor=0, tenant=self.brands[side].tenant)
        self.model.players[player.pk] = PlayerModel()
        return player

    @rule(
        target=deposits,
        player=players,
        provider=st.sampled_from(["stripe", "adyen"]),
        amount=st.integers(100, 50_000),
    )
    def start_deposit(self, player, provider, amount):
        return pending_deposit(player, amount_minor=amount, provider=provider)

    @rule(target=deposits, player=players, amount=st.integers(100, 50_000))
    def start_deposit_through_the_door(self, player, amount):
        """``deposit_start`` as the API calls it: refused while the brand's Stripe
        kill switch is pulled (nothing created), else a checkout at the fake."""
        try:
            deposit, _ = deposit_start(
                player=player,
                amount_minor=amount,
                currency="EUR",
                idempotency_key=f"sim-dep-{next(self.keys)}",
                return_url_for=lambda d: "https://brand.example/return",
                provider="stripe",
            )
        except ApplicationError as refused:
            assert self.killed[player.tenant_id], refused.code
            assert refused.code == "MODULE_TEMPORARILY_DISABLED"
            return multiple()
        assert not self.killed[player.tenant_id], "a deposit opened past the switch"
        assert deposit.state == Deposit.State.PENDING_PROVIDER
        return deposit

    @rule(side=st.sampled_from([0, 1]))
    def flip_the_stripe_kill_switch(self, side):
        """Mid-flow: deposits already at the PSP must still be credited when paid."""
        tenant = self.brands[side].tenant
        self.killed[tenant.pk] = not self.killed[tenant.pk]
        with transaction.atomic(durable=True):
            tenant_feature_set(
                actor=OPERATOR,
                tenant=tenant,
                feature="stripe",
                killed=self.killed[tenant.pk],
                reason="simulation",
            )

    @rule(deposit=deposits, times=st.integers(1, 3))
    def psp_reports_paid(self, deposit, times):
        """The genuine signed event, delivered ``times`` times (PSPs redeliver)."""
        brand = self._brand_of(deposit.tenant_id)
        if deposit.provider == "stripe":
            event = event_for(deposit, "checkout.session.completed")
            answers = [self._post_stripe(brand.stripe, event) for _ in range(times)]
        else:
            item = adyen_sim.notification_item(
                config=brand.adyen, deposit=deposit, event="AUTHORISATION"
            )
            answers = [self._post_adyen(brand.adyen, item) for _ in range(times)]
        assert [a.status_code for a in answers] == [200] * times, answers[0].content
        self._credit_expected(deposit)

    @rule(deposit=deposits)
    def forged_payment(self, deposit):
        """Signed with a key that is not the brand's: refused, nothing moves."""
        brand = self._brand_of(deposit.tenant_id)
        if deposit.provider == "stripe":
            event = event_for(deposit, "checkout.session.completed")
            answer = self._post_stripe(brand.stripe, event, secret="whsec_forged")
        else:
            item = adyen_sim.notification_item(
                config=brand.adyen, deposit=deposit, event="AUTHORISATION"
            )
            item["additionalData"]["hmacSignature"] = "Zm9yZ2Vk"
            answer = self._post_adyen(brand.adyen, item)
        assert 400 <= answer.status_code < 500, answer.content

    @rule(deposit=deposits)
    def delivered_to_the_other_brand(self, deposit):
        """The event signed with the other brand's key, to the other brand's door:
        it must never pay this brand's deposit."""
        other = self._other_brand(deposit.tenant_id)
        if deposit.provider == "stripe":
            answer = self._post_stripe(
                other.stripe, event_for(deposit, "checkout.session.completed")
            )
        else:
            item = adyen_sim.notification_item(
                config=other.adyen, deposit=deposit, event="AUTHORISATION"
            )
            answer = self._post_adyen(other.adyen, item)
        assert answer.status_code < 500, answer.content

    @rule(target=withdrawals, player=players, amount=st.integers(1, 60_000))
    def withdraw(self, player, amount):
        expected = self.model.players[player.pk]
        try:
            with transaction.atomic(durable=True):
                withdrawal, _ = withdrawal_submit(
                    player=player,
                    amount_minor=amount,
                    currency="EUR",
                    destination=DESTINATION,
                    idempotency_key=f"sim-wd-{next(self.keys)}",
                )
        except ApplicationError as refused:
            if refused.code == "INSUFFICIENT_FUNDS":
                assert amount > expected.available, (amount, expected)
            return None  # refused by a policy: nothing moved (checked below)
        assert amount <= expected.available, "a withdrawal beyond the balance"
        expected.available -= amount
        expected.held += amount
        self.model.open_withdrawals[withdrawal.pk] = (player.pk, amount)
        return withdrawal

    @rule(withdrawal=consumes(withdrawals), by=st.sampled_from(["player", "operator"]))
    def take_back(self, withdrawal, by):
        if withdrawal is None:
            return
        withdrawal.refresh_from_db()
        try:
            with transaction.atomic(durable=True):
                if by == "player":
                    withdrawal_cancel_by_player(
                        withdrawal=withdrawal, actor=Actor.for_player(withdrawal.player)
                    )
                else:
                    withdrawal_review_reject(
                        withdrawal=withdrawal, actor=OPERATOR, reason="simulation"
                    )
        except ApplicationError:
            assert withdrawal.state != Withdrawal.State.REQUESTED
            return
        player_pk, amount = self.model.open_withdrawals.pop(withdrawal.pk)
        self.model.players[player_pk].available += amount
        self.model.players[player_pk].held -= amount

    def teardown(self):
        self.stripe_settings.disable()
        self.fake_server.__exit__(None, None, None)

    # --- invariants ----------------------------------------------------------------

    @invariant()
    def ledger_agrees_with_the_model(self):
        type(self).executed_steps += 1
        for brand in self.brands:
            assert ledger_invariants_check(tenant_id=brand.tenant.pk) == []
            assert payments_invariants_check(tenant_id=brand.tenant.pk) == []
        completed = set(
            Deposit.objects.filter(
                tenant_id__in=[b.tenant.pk for b in self.brands],
                state=Deposit.State.COMPLETED,
            ).values_list("pk", flat=True)
        )
        assert completed == self.model.paid
        for player_pk, expected in self.model.players.items():
            balances = balance_list(player=Player.objects.get(pk=player_pk))
            actual = (
                sum(b.available_minor for b in balances),
                sum(b.held_minor for b in balances),
            )
            assert actual == (expected.available, expected.held), (player_pk, actual)

    @precondition(lambda self: self.model.open_withdrawals)
    @invariant()
    def held_is_the_open_withdrawals(self):
        open_rows = Withdrawal.objects.filter(pk__in=self.model.open_withdrawals)
        assert all(w.state in OPEN_WITHDRAWAL for w in open_rows)
