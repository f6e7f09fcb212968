"""The model-based simulation of the money flow (issue 14), shared by the bounded
test (tests/simulation/test_money_flow.py) and the long mode (``make soak``).

A hypothesis ``RuleBasedStateMachine`` drives the real services and the real webhook
endpoints on PostgreSQL with real commits, in any order, on two brands: deposits
through Stripe and Adyen; PSP events (paid, failed, expired, a wrong amount, refund
outcomes, disputes opened / won / lost, transfers booked / failed / returned) kept in
a mailbox and delivered later, out of order, more than once, forged, or to the other
brand; withdrawals requested, canceled, rejected, approved (closed loop: refund legs
to the deposits, the rest as a payout through Adyen's Transfers API at a local fake),
payouts accepted, refused or unanswered, retried within and beyond the policy;
operator refunds (partial, full, beyond the refundable: refused); kill switches
pulled mid-flow; a worker crashing between a commit and its enqueue (the message is
lost) and the outbox sweep re-driving it. PSP calls go to the local fakes
(tests/payments/fake_stripe.py, tests/adyen/fake_adyen.py), never the network.

A plain-Python model (tests/simulation/model.py) says what every balance, deposit,
refund and withdrawal must be, and how many postings of each kind the books hold.
After every step the invariants compare the model with the database and run the
reconcile selectors on both brands, seal and verify the audit chains and run
``manage.py reconcile`` (these last every ``SIMULATION_HEAVY_EVERY`` steps, default
every step, and at the end of a history).

Each example builds its own two brands (fresh slugs), so examples never share money.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from unittest import mock

from celery.app.task import Task
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.test import Client, override_settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from audit.sealing import audit_seal_pending
from audit.verification import audit_chain_verify
from casino.models import Player
from common import clock
from common.actors import Actor
from common.errors import ApplicationError
from payments.deposits.refunds import refund_request
from payments.deposits.services import deposit_start
from payments.models import PaymentRoute, Refund
from payments.outbox import outbox_sweep
from payments.providers.adyen.webhooks import item_signature
from payments.providers.stripe import webhooks as stripe_webhooks
from payments.simulator import adyen as adyen_sim
from payments.simulator.events import event_for
from payments.withdrawals.services import (
    payout_retry,
    withdrawal_cancel_by_player,
    withdrawal_review_approve,
    withdrawal_review_reject,
    withdrawal_submit,
)
from tenants.features import tenant_feature_set
from tests.adyen.factories import adyen_psp_config
from tests.adyen.fake_adyen import FakeAdyen
from tests.factories import TenantFactory
from tests.payments.factories import PSPConfigFactory, pending_deposit
from tests.payments.fake_stripe import FakeStripeServer
from tests.simulation import model as m
from tests.withdrawals.factories import policy_set, verified_player
from wallet.models import Deposit, JournalTransaction, PayoutAttempt, Withdrawal
from wallet.selectors import (
    balance_list,
    ledger_invariants_check,
    payments_invariants_check,
)
from wallet.services import refund_leg_key

_world = itertools.count(1)
OPERATOR = Actor.system("simulation-operator")
DESTINATION = {
    "type": "iban",
    "iban": "DE89370400440532013000",
    "holder_name": "Ann Example",  # verified_player's verified name
}
# Heavier checks (audit chain sealed and verified, manage.py reconcile) run every
# this many steps and at the end of every history.
HEAVY_EVERY = int(os.environ.get("SIMULATION_HEAVY_EVERY", "1"))
# TENANT-POLICY-002 per brand: retries allowed, seconds between attempts.
RETRY_POLICY = ((1, 60), (2, 60))
PAYOUT_MODES = ("accept", "refuse", "unknown")
DEPOSIT_OUTCOMES = ("paid", "paid", "failed", "expired", "wrong_amount", "nothing")
# What the PSP says later about a payout it took ("nothing": it stays unknown).
TRANSFER_OUTCOMES = ("booked", "booked", "failed", "nothing")
REFUND_OUTCOMES = ("succeeded", "succeeded", "failed", "nothing")
# The withdrawal states a review decision can move.
FITTING = {
    "approve": {m.REQUESTED},
    "reject": {m.REQUESTED, m.PAYOUT_FAILED},
    "cancel": {m.REQUESTED},
    "retry": {m.PAYOUT_FAILED},
}
Kind = JournalTransaction.Kind
indexes = st.integers(0, 1_000)


@dataclass
class Brand:
    tenant: object
    stripe: object
    adyen: object
    retry_limit: int
    cooldown: int


@dataclass
class Message:
    """A PSP notification as the PSP would send it: ``post`` delivers it to our
    endpoint; ``effect`` is what it does to the model when the product applies it
    (once per endpoint and event id)."""

    label: str
    endpoint: str
    delivered: bool
    event_id: str
    post: Callable[[], object]
    effect: Callable[[], None]


class MoneyFlow(RuleBasedStateMachine):
    executed_steps = 0  # across examples, for the steps/s the long mode prints

    players = Bundle("players")
    deposits = Bundle("deposits")
    withdrawals = Bundle("withdrawals")

    def __init__(self):
        super().__init__()
        n = next(_world)
        clock.freeze()
        self.brands = []
        for side, (retry_limit, cooldown) in zip("ab", RETRY_POLICY, strict=True):
            tenant = TenantFactory(slug=f"sim{n}{side}", name=f"Sim {n}{side}")
            policy_set(
                tenant,
                payout_retry_limit=retry_limit,
                payout_cooldown_seconds=cooldown,
            )
            PaymentRoute.objects.create(
                tenant=tenant, deposit_provider="stripe", payout_provider="adyen"
            )
            self.brands.append(
                Brand(
                    tenant=tenant,
                    stripe=PSPConfigFactory(tenant=tenant),
                    adyen=adyen_psp_config(
                        tenant=tenant, merchant_account=f"SimMerchant{n}{side}"
                    ),
                    retry_limit=retry_limit,
                    cooldown=cooldown,
                )
            )
        self.model = m.Model()
        self.killed = {
            (b.tenant.pk, p): False for b in self.brands for p in ("stripe", "adyen")
        }
        self.mailbox: list[Message] = []
        # (endpoint, event id) of every event the product has claimed, and the
        # claimed ones whose application task was lost (the sweep applies them).
        self.claimed: set[tuple[str, str]] = set()
        self.unapplied: dict[tuple[str, str], Message] = {}
        self.ids = itertools.count(1)
        self.steps = 0
        # Local PSPs: Stripe for checkouts and refunds, Adyen for refunds and
        # payouts (its answer to a transfer is what the rule chose).
        self.fake_server = FakeStripeServer()
        self.fake = self.fake_server.__enter__()
        for brand in self.brands:
            self.fake.valid_keys.add(brand.stripe.secret_key())
        self.adyen = FakeAdyen()
        self.payout_mode = "accept"
        self.transfer_outcome = "booked"
        self.refund_outcome = "succeeded"
        self.adyen.answer = self._adyen_answers
        self.psp_settings = override_settings(
            STRIPE_API_BASE=self.fake.url,
            STRIPE_MAX_NETWORK_RETRIES=0,
            ADYEN_CHECKOUT_BASE_URL=self.adyen.url,
            ADYEN_TRANSFERS_BASE_URL=self.adyen.url,
        )
        self.psp_settings.enable()
        self.http = Client()
        # Players registered on both brands. Money from the start: on each brand a
        # player with a deposit paid through each PSP and a withdrawal awaiting
        # review (handed to the bundles by the initialize rules), so short
        # histories reach refunds and payouts.
        self.seed_players, self.seed_deposits = [], []
        for side in (0, 1):
            player = self._player_registered(side)
            self.seed_players.append(player)
            for provider in ("stripe", "adyen"):
                deposit = self._deposit_modelled(
                    pending_deposit(player, amount_minor=20_000, provider=provider)
                )
                self._deliver(self._deposit_outcome(deposit, "paid", 0))
                self.seed_deposits.append(deposit)
        self.seed_withdrawals = [
            self.withdraw(player=player, amount=15_000) for player in self.seed_players
        ]
        # And a newcomer per brand, with nothing yet.
        self.seed_players += [self._player_registered(side) for side in (0, 1)]

    @initialize(target=players)
    def players_on_both_brands(self):
        return multiple(*self.seed_players)

    @initialize(target=deposits)
    def their_paid_deposits(self):
        return multiple(*self.seed_deposits)

    @initialize(target=withdrawals)
    def their_withdrawals_awaiting_review(self):
        return multiple(*self.seed_withdrawals)

    @initialize(era=st.sampled_from(["fresh", "half a year later"]))
    def the_history_starts(self, era):
        """Half the histories start half a year on: no deposit is within the
        closed loop's refund window, so approvals pay out through Adyen whole."""
        if era != "fresh":
            self._time_passes("half")

    # --- the local PSPs and the broker ---------------------------------------------------

    def _adyen_answers(self, request: dict) -> tuple[int, dict]:
        method, path = request["method"], request["path"]
        if path.endswith("/refunds"):
            return 201, {
                "pspReference": f"RF{next(self.ids):08d}",
                "status": "received",
            }
        if path == "/transfers":
            if self.payout_mode == "refuse":
                return 422, {"errorCode": "30_112", "message": "Insufficient balance"}
            if self.payout_mode == "unknown":
                return 503, {}
            return 202, {"id": f"TR{next(self.ids):08d}", "status": "received"}
        return 404, {"message": f"not served by the fake: {method} {path}"}

    @contextlib.contextmanager
    def _worker_crash(self, crash: bool):
        """Every publish in the block fails, as when the process dies between the
        commit and the enqueue: the committed rows are all that is left."""
        if not crash:
            yield
            return

        def lost(self, *args, **kwargs):
            raise ConnectionError("the worker died before publishing")

        with mock.patch.object(Task, "apply_async", lost):
            yield

    # --- helpers ---------------------------------------------------------------------

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

    def _stripe_message(self, deposit, label: str, event: dict, effect) -> Message:
        config = self._brand_of(deposit.tenant_id).stripe
        return Message(
            label=label,
            endpoint=config.endpoint_id,
            delivered=False,
            event_id=event["id"],
            post=lambda: self._post_stripe(config, event),
            effect=effect,
        )

    def _adyen_message(self, deposit, label: str, item: dict, effect) -> Message:
        config = self._brand_of(deposit.tenant_id).adyen
        item["additionalData"]["hmacSignature"] = item_signature(
            {k: v for k, v in item.items()}, hmac_key=config.hmac_key()
        )
        return Message(
            label=label,
            endpoint=config.endpoint_id,
            delivered=False,
            event_id=f"{item['pspReference']}:{item['eventCode']}:{item['success']}",
            post=lambda: self._post_adyen(config, item),
            effect=effect,
        )

    def _adyen_item(self, deposit, event: str, **kwargs) -> dict:
        brand = self._brand_of(deposit.tenant_id)
        return adyen_sim.notification_item(
            config=brand.adyen, deposit=deposit, event=event, **kwargs
        )

    def _deliver(self, message: Message, *, crash: bool = False) -> None:
        """Post a message; the model applies its effect when the product does: at
        once, or (a lost task) when the sweep or a redelivery re-drives the row."""
        key = (message.endpoint, message.event_id)
        message.delivered = True
        with self._worker_crash(crash):
            answer = message.post()
        assert answer.status_code == 200, (message.label, answer.content)
        if key not in self.claimed:
            self.claimed.add(key)
            if crash:
                self.unapplied[key] = message
            else:
                message.effect()
        elif key in self.unapplied and not crash:
            # A redelivery of a stored, never applied event re-drives the first row.
            self.unapplied.pop(key).effect()

    def _send(self, message: Message, now: bool) -> None:
        """Delivered at once, or kept in the mailbox for later."""
        if now:
            self._deliver(message)
        else:
            self.mailbox.append(message)

    def _pick(self, items: list, index: int):
        return items[index % len(items)]

    def _withdrawal_model(self, withdrawal) -> m.WithdrawalModel | None:
        if withdrawal is None:
            return None
        return self.model.withdrawals[withdrawal.pk]

    def _payout_dispatched(self, expected: m.WithdrawalModel, crash: bool) -> None:
        """The newest attempt was sent after commit (unless the enqueue was lost):
        the model records what the fake Adyen answered."""
        attempt = (
            PayoutAttempt.objects.filter(withdrawal_id=expected.pk)
            .order_by("-number")
            .first()
        )
        modelled = m.AttemptModel(pk=attempt.pk, created_at=self.model.clock)
        expected.attempts.append(modelled)
        if not crash:
            self._attempt_answered(expected, modelled, attempt)

    def _attempt_answered(self, expected, modelled, attempt) -> None:
        """Record the fake Adyen's answer; Adyen's later word on a transfer it took
        (``self.transfer_outcome``) goes into the mailbox."""
        self._attempt_recorded(expected, modelled, attempt)
        if modelled.transfer_id and self.transfer_outcome != "nothing":
            self.mailbox.append(
                self._transfer_message(expected, modelled, self.transfer_outcome)
            )

    def _attempt_recorded(self, expected, modelled, attempt) -> None:
        if self.payout_mode == "accept":
            modelled.state, modelled.transfer_id = "sent", attempt.provider_reference
        elif self.payout_mode == "refuse":
            modelled.state = "failed"
            expected.state = m.PAYOUT_FAILED
        else:
            # Unknown: Adyen may hold it; it names it by our reference when it tells.
            modelled.state = "unknown"
            modelled.transfer_id = f"TRLATE{attempt.pk:06d}"

    def _refund_sent(self, refund: m.RefundModel, crash: bool) -> None:
        """Unless the enqueue was lost, the PSP has the refund; its later word
        (``self.refund_outcome``) goes into the mailbox."""
        refund.sent = not crash
        if refund.sent and self.refund_outcome != "nothing":
            self.mailbox.append(
                self._refund_outcome(refund, self.refund_outcome == "succeeded")
            )

    # --- players and deposits --------------------------------------------------------

    def _player_registered(self, side):
        player = verified_player(balance_minor=0, tenant=self.brands[side].tenant)
        self.model.players[player.pk] = m.PlayerModel(tenant_pk=player.tenant_id)
        return player

    def _deposit_modelled(self, deposit):
        self.model.deposits[deposit.pk] = m.DepositModel(
            pk=deposit.pk,
            player_pk=deposit.player_id,
            provider=deposit.provider,
            amount=deposit.amount_minor,
        )
        return deposit

    @rule(
        target=deposits,
        player=players,
        provider=st.sampled_from(["stripe", "adyen", "stripe checkout"]),
        amount=st.integers(100, 50_000),
        psp_says=st.sampled_from(DEPOSIT_OUTCOMES),
    )
    def start_deposit(self, player, provider, amount, psp_says):
        """A deposit waiting at Stripe or Adyen (``stripe checkout``: through
        ``deposit_start``, as the API calls it, at the fake Stripe). What the PSP
        will say about it goes into the mailbox."""
        if provider == "stripe checkout":
            deposit = self._deposit_through_the_door(player, amount)
            if deposit is None:
                return multiple()
        else:
            deposit = pending_deposit(player, amount_minor=amount, provider=provider)
        self._deposit_modelled(deposit)
        if psp_says != "nothing":
            self.mailbox.append(self._deposit_outcome(deposit, psp_says, 1))
        return deposit

    def _deposit_through_the_door(self, player, amount):
        """Refused while the brand's Stripe kill switch is pulled (nothing
        created), else a checkout at the fake Stripe."""
        killed = self.killed[(player.tenant_id, "stripe")]
        try:
            deposit, _ = deposit_start(
                player=player,
                amount_minor=amount,
                currency="EUR",
                idempotency_key=f"sim-dep-{next(self.ids)}",
                return_url_for=lambda d: "https://brand.example/return",
                provider="stripe",
            )
        except ApplicationError as refused:
            assert killed, refused.code
            assert refused.code == "MODULE_TEMPORARILY_DISABLED"
            return None
        assert not killed, "a deposit opened past the switch"
        assert deposit.state == Deposit.State.PENDING_PROVIDER
        return deposit

    @rule(
        change=st.sampled_from(
            [
                "a minute passes",
                "half a year passes",
                "stripe kill switch",
                "adyen kill switch",
            ]
        ),
        side=st.sampled_from([0, 1]),
    )
    def the_world_changes(self, change, side):
        if change.endswith("passes"):
            self._time_passes(change.split()[1])
        else:
            self._flip_a_kill_switch(side, change.split()[0])

    def _flip_a_kill_switch(self, side, feature):
        """Mid-flow: what already reached the PSP is still settled by its events;
        new Stripe checkouts and new Adyen payouts (approvals, retries) are refused."""
        tenant = self.brands[side].tenant
        key = (tenant.pk, feature)
        self.killed[key] = not self.killed[key]
        with transaction.atomic(durable=True):
            tenant_feature_set(
                actor=OPERATOR,
                tenant=tenant,
                feature=feature,
                killed=self.killed[key],
                reason="simulation",
            )

    # --- PSP messages: sent at once, or kept in the mailbox ----------------------------

    def _deposit_outcome(self, deposit, outcome: str, wrong_by: int) -> Message:
        deposit.refresh_from_db()
        model = self.model
        pk = deposit.pk
        if deposit.provider == "stripe":
            if outcome in ("paid", "wrong_amount"):
                amount = deposit.amount_minor + (wrong_by if outcome != "paid" else 0)
                event = event_for(
                    deposit, "checkout.session.completed", amount_minor=amount
                )
                return self._stripe_message(
                    deposit,
                    f"stripe {outcome} {amount} deposit {pk}",
                    event,
                    lambda: model.deposit_paid_applied(pk, amount),
                )
            event_type, state = {
                "failed": ("checkout.session.async_payment_failed", "failed"),
                "expired": ("checkout.session.expired", "expired"),
            }[outcome]
            return self._stripe_message(
                deposit,
                f"stripe {outcome} deposit {pk}",
                event_for(deposit, event_type),
                lambda: model.deposit_unpaid_applied(pk, state),
            )
        if outcome in ("paid", "wrong_amount"):
            amount = deposit.amount_minor + (wrong_by if outcome != "paid" else 0)
            item = self._adyen_item(deposit, "AUTHORISATION", amount_minor=amount)
            if outcome == "wrong_amount":
                # Another payment (its own pspReference) for a different amount.
                item["pspReference"] = f"WRONG{next(self.ids):011d}"
            return self._adyen_message(
                deposit,
                f"adyen {outcome} {amount} deposit {pk}",
                item,
                lambda: model.deposit_paid_applied(pk, amount),
            )
        event = {"failed": "AUTHORISATION_REFUSED", "expired": "CANCELLATION"}[outcome]
        item = self._adyen_item(deposit, event)
        if event == "CANCELLATION":
            item["pspReference"] = f"CANCEL{pk:010d}"
            item["originalReference"] = adyen_sim.payment_psp_reference(deposit)
        return self._adyen_message(
            deposit,
            f"adyen {event} deposit {pk}",
            item,
            lambda: model.deposit_unpaid_applied(pk, "failed"),
        )

    @rule(
        deposit=deposits,
        outcome=st.sampled_from(["paid", "failed", "expired", "wrong_amount"]),
        wrong_by=st.sampled_from([-1, 1, 99, -50]),
        delivery=st.sampled_from(["later", "now", "now twice"]),
    )
    def psp_sends_deposit_outcome(self, deposit, outcome, wrong_by, delivery):
        """Delivered at once (once or twice: PSPs redeliver) or into the mailbox,
        delivered later in any order (a failure after a success, a payment after
        the expiry, an amount that is not the deposit's)."""
        message = self._deposit_outcome(deposit, outcome, wrong_by)
        if delivery == "later":
            self.mailbox.append(message)
        for _ in range({"later": 0, "now": 1, "now twice": 2}[delivery]):
            self._deliver(message)

    @precondition(lambda self: self.mailbox)
    @rule(
        index=indexes, count=st.integers(1, 3), again=st.booleans(), crash=st.booleans()
    )
    def mailbox_delivers(self, index, count, again, crash):
        """``count`` messages not delivered yet, in any order (``again``: any
        messages, delivered before or not: PSPs redeliver); with ``crash`` the
        worker dies after storing each, before enqueueing its application."""
        for _ in range(count):
            waiting = [message for message in self.mailbox if not message.delivered]
            self._deliver(
                self._pick(waiting if waiting and not again else self.mailbox, index),
                crash=crash,
            )

    @rule(deposit=deposits, how=st.sampled_from(["forged", "to the other brand"]))
    def bad_delivery(self, deposit, how):
        if how == "forged":
            self._forged_payment(deposit)
        else:
            self._delivered_to_the_other_brand(deposit)

    def _forged_payment(self, deposit):
        """Signed with a key that is not the brand's: refused, nothing moves."""
        deposit.refresh_from_db()
        brand = self._brand_of(deposit.tenant_id)
        if deposit.provider == "stripe":
            event = event_for(deposit, "checkout.session.completed")
            answer = self._post_stripe(brand.stripe, event, secret="whsec_forged")
        else:
            item = self._adyen_item(deposit, "AUTHORISATION")
            item["additionalData"]["hmacSignature"] = "Zm9yZ2Vk"
            answer = self._post_adyen(brand.adyen, item)
        assert 400 <= answer.status_code < 500, answer.content

    def _delivered_to_the_other_brand(self, deposit):
        """The event signed with the other brand's key, to the other brand's door:
        it must never pay this brand's deposit."""
        deposit.refresh_from_db()
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

    # --- refunds and disputes --------------------------------------------------------

    @rule(
        deposit=deposits,
        share=st.sampled_from(["part", "all", "more"]),
        then=st.sampled_from(REFUND_OUTCOMES),
        crash=st.booleans(),
    )
    def operator_refunds(self, deposit, share, then, crash):
        """Partial, full or beyond what is left: refused unless completed and
        within the refundable amount; the PSP is asked after commit."""
        expected = self.model.deposits[deposit.pk]
        left = self.model.refundable(expected)
        self.refund_outcome = then
        amount = {"part": max(left // 2, 1), "all": max(left, 1), "more": left + 1}[
            share
        ]
        try:
            with self._worker_crash(crash), transaction.atomic(durable=True):
                refund = refund_request(
                    deposit_id=deposit.pk,
                    tenant_id=deposit.tenant_id,
                    amount_minor=amount,
                    reason="simulation",
                    actor=OPERATOR,
                    request_key=f"sim-refund-{next(self.ids)}",
                )
        except ApplicationError as refused:
            if expected.state != "completed":
                assert refused.code == "REFUND_NOT_ALLOWED", refused.code
            else:
                assert refused.code == "REFUND_EXCEEDS_REFUNDABLE", refused.code
                assert not 0 < amount <= left, (amount, left)
            return
        assert expected.state == "completed" and 0 < amount <= left, (amount, left)
        modelled = m.RefundModel(pk=refund.pk, deposit_pk=deposit.pk, amount=amount)
        self.model.refunds[refund.pk] = modelled
        self._refund_sent(modelled, crash)

    def _refund_outcome(self, refund: m.RefundModel, ok: bool) -> Message:
        row = Refund.objects.select_related("deposit").get(pk=refund.pk)
        deposit = row.deposit
        model = self.model
        effect = (
            (lambda: model.refund_succeeded_applied(refund.pk))
            if ok
            else (lambda: model.refund_failed_applied(refund.pk))
        )
        label = f"{deposit.provider} refund {refund.pk} {'ok' if ok else 'failed'}"
        if deposit.provider == "stripe":
            event = event_for(deposit, "charge.refund.updated")
            event["data"]["object"].update(
                id=row.provider_reference,
                amount=row.amount_minor,
                status="succeeded" if ok else "failed",
                metadata={"deposit_id": str(deposit.pk), "refund": f"refund:{row.pk}"},
            )
            return self._stripe_message(deposit, label, event, effect)
        item = self._adyen_item(
            deposit,
            "REFUND",
            amount_minor=row.amount_minor,
            merchant_reference=f"refund:{row.pk}",
            psp_reference=row.provider_reference,
        )
        item["success"] = "true" if ok else "false"
        return self._adyen_message(deposit, label, item, effect)

    @precondition(
        lambda self: (
            self._transfer_targets() or any(r.sent for r in self.model.refunds.values())
        )
    )
    @rule(
        index=indexes,
        word=st.sampled_from(
            [
                "refund succeeded",
                "refund failed",
                "transfer booked",
                "transfer failed",
                "transfer returned",
            ]
        ),
        now=st.booleans(),
    )
    def psp_has_more_to_say(self, index, word, now):
        """Another word, into the mailbox, on a refund the PSP has (an operator's
        or a closed-loop leg: succeeded, or failed, which after a success is a
        reversal) or a payout it has (sent, or unanswered at the time): booked,
        failed, or returned after booking."""
        about, status = word.split()
        if about == "refund":
            sent = [r for r in self.model.refunds.values() if r.sent]
            if sent:
                refund = self._pick(sent, index)
                self._send(self._refund_outcome(refund, status == "succeeded"), now)
            return
        targets = self._transfer_targets()
        if targets:
            expected, attempt = self._pick(targets, index)
            self._send(self._transfer_message(expected, attempt, status), now)

    @rule(
        deposit=deposits,
        stage=st.sampled_from(["notified", "opened", "opened", "won", "lost"]),
        share=st.sampled_from(["all", "part"]),
        now=st.booleans(),
    )
    def psp_sends_dispute(self, deposit, stage, share, now):
        """A dispute's stages, delivered at once or into the mailbox: Adyen has no
        plain "lost" (its chargeback stands), so a lost Adyen dispute is a
        notification again."""
        deposit.refresh_from_db()
        model, pk = self.model, deposit.pk
        amount = deposit.amount_minor if share == "all" else deposit.amount_minor // 2
        effects = {
            "opened": lambda: model.chargeback_applied(pk, amount),
            "won": lambda: model.dispute_won_applied(pk),
            "lost": lambda: None,
        }
        if deposit.provider == "stripe":
            created = stage in ("notified", "opened")
            event = event_for(
                deposit,
                "charge.dispute.created" if created else "charge.dispute.closed",
                amount_minor=amount,
            )
            event["data"]["object"]["status"] = {
                "notified": "warning_needs_response",
                "opened": "needs_response",
                "won": "won",
                "lost": "lost",
            }[stage]
            effect = (
                (lambda: self._stripe_dispute_notified(pk))
                if stage == "notified"
                else effects[stage]
            )
            self._send(
                self._stripe_message(
                    deposit, f"stripe dispute {stage} {pk}", event, effect
                ),
                now,
            )
            return
        code = {
            "notified": "NOTIFICATION_OF_CHARGEBACK",
            "lost": "NOTIFICATION_OF_CHARGEBACK",
            "opened": "CHARGEBACK",
            "won": "CHARGEBACK_REVERSED",
        }[stage]
        item = self._adyen_item(
            deposit,
            code,
            amount_minor=amount,
            psp_reference=f"DISPUTE{next(self.ids):09d}",
        )
        item["originalReference"] = adyen_sim.payment_psp_reference(deposit)
        # Adyen names our deposit in the merchant reference: always found.
        effect = (
            (lambda: model.dispute_notified_applied(pk))
            if code == "NOTIFICATION_OF_CHARGEBACK"
            else effects[stage]
        )
        self._send(
            self._adyen_message(deposit, f"adyen {code} {pk}", item, effect), now
        )

    def _stripe_dispute_notified(self, deposit_pk: int) -> None:
        # Stripe names the payment: a deposit not paid when it is applied is not
        # found, and nothing freezes.
        if self.model.deposits[deposit_pk].state == "completed":
            self.model.dispute_notified_applied(deposit_pk)

    # --- withdrawals -----------------------------------------------------------------

    @rule(target=withdrawals, player=players, amount=st.integers(1, 45_000))
    def withdraw(self, player, amount):
        expected = self.model.players[player.pk]
        try:
            with transaction.atomic(durable=True):
                withdrawal, _ = withdrawal_submit(
                    player=player,
                    amount_minor=amount,
                    currency="EUR",
                    destination=DESTINATION,
                    idempotency_key=f"sim-wd-{next(self.ids)}",
                )
        except ApplicationError as refused:
            if expected.frozen:
                assert refused.code == "WITHDRAWALS_FROZEN", refused.code
            if refused.code == "INSUFFICIENT_FUNDS":
                assert amount > expected.available, (amount, expected)
            return multiple()  # refused by a policy: nothing moved (checked below)
        assert not expected.frozen, "a withdrawal past a chargeback freeze"
        assert amount <= expected.available, "a withdrawal beyond the balance"
        expected.available -= amount
        expected.held += amount
        self.model.withdrawals[withdrawal.pk] = m.WithdrawalModel(
            pk=withdrawal.pk, player_pk=player.pk, amount=amount, bank=amount
        )
        return withdrawal

    def _fitting(self, withdrawal, decision: str, fitting: bool, index: int):
        """With ``fitting`` the decision goes to a withdrawal (picked by ``index``)
        in a state that allows it, when there is one, rather than ``withdrawal``."""
        if fitting:
            candidates = [
                w
                for w in self.model.withdrawals.values()
                if w.state in FITTING[decision]
            ]
            if candidates:
                return Withdrawal.objects.get(pk=self._pick(candidates, index).pk)
        return withdrawal

    @rule(
        withdrawal=withdrawals,
        mode=st.sampled_from(PAYOUT_MODES),
        then=st.sampled_from(TRANSFER_OUTCOMES),
        refunds=st.sampled_from(REFUND_OUTCOMES),
        crash=st.booleans(),
        fitting=st.booleans(),
        index=indexes,
    )
    def approve(self, withdrawal, mode, then, refunds, crash, fitting, index):
        """An operator approves. ``mode`` is the fake Adyen's answer to the payout,
        ``then`` what Adyen says about it later, ``refunds`` what the PSPs say later
        about the refund legs; ``crash``: the worker dies before enqueueing the PSP
        calls."""
        withdrawal = self._fitting(withdrawal, "approve", fitting, index)
        self._approve(withdrawal, mode, then, refunds, crash)

    @rule(
        withdrawal=withdrawals,
        mode=st.sampled_from(PAYOUT_MODES),
        then=st.sampled_from(TRANSFER_OUTCOMES),
        crash=st.booleans(),
        fitting=st.booleans(),
        index=indexes,
    )
    def retry_the_payout(self, withdrawal, mode, then, crash, fitting, index):
        """An operator retries a failed payout (``mode``, ``then``, ``crash`` as
        for ``approve``)."""
        withdrawal = self._fitting(withdrawal, "retry", fitting, index)
        self._retry(withdrawal, mode, then, crash)

    @rule(
        withdrawal=withdrawals,
        by=st.sampled_from(["player", "operator"]),
        fitting=st.booleans(),
        index=indexes,
    )
    def take_back(self, withdrawal, by, fitting, index):
        withdrawal = self._fitting(
            withdrawal, "cancel" if by == "player" else "reject", fitting, index
        )
        self._take_back(withdrawal, by)

    def _take_back(self, withdrawal, by):
        """The player cancels (only while requested) or an operator rejects (while
        requested, or after a failed payout): the hold goes back to available."""
        expected = self._withdrawal_model(withdrawal)
        if expected is None:
            return
        withdrawal.refresh_from_db()
        allowed = {m.REQUESTED} if by == "player" else {m.REQUESTED, m.PAYOUT_FAILED}
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
            assert expected.state not in allowed, expected.state
            return
        to_state = m.CANCELED if by == "player" else m.REJECTED
        if expected.state == to_state:
            return  # a repeat: nothing changes
        assert expected.state in allowed, expected.state
        self.model.withdrawal_released(expected, to_state)

    def _approve(self, withdrawal, mode, then, refunds, crash):
        """An operator approves: the closed loop refunds the player's recent
        deposits first (a refund leg each, paid from a hold of its own); the rest is
        paid out through Adyen, whose answer is ``mode``. Refused whole while the
        brand's Adyen kill switch is pulled and there is a bank leg."""
        expected = self._withdrawal_model(withdrawal)
        if expected is None:
            return
        withdrawal.refresh_from_db()
        legs = (
            self.model.closed_loop_plan(expected)
            if expected.state == m.REQUESTED
            else []
        )
        bank = expected.amount - sum(amount for _, amount in legs)
        self.payout_mode, self.transfer_outcome = mode, then
        self.refund_outcome = refunds
        killed = self.killed[(withdrawal.tenant_id, "adyen")]
        try:
            with self._worker_crash(crash), transaction.atomic(durable=True):
                withdrawal_review_approve(withdrawal=withdrawal, actor=OPERATOR)
        except ApplicationError as refused:
            if expected.state == m.REQUESTED:
                assert killed and bank, refused.code
                assert refused.code == "MODULE_TEMPORARILY_DISABLED", refused.code
            return
        if expected.state != m.REQUESTED:
            assert expected.state in (
                m.APPROVED,
                m.PAYOUT_PENDING,
                m.PAID,
                m.PAYOUT_FAILED,
            )
            return  # a repeat changes nothing
        assert not (killed and bank), "a payout routed past the kill switch"
        expected.state = m.APPROVED
        expected.bank = bank
        for deposit_pk, amount in legs:
            refund = Refund.objects.get(
                tenant_id=withdrawal.tenant_id,
                request_key=refund_leg_key(
                    withdrawal_id=withdrawal.pk, deposit_id=deposit_pk
                ),
            )
            modelled = m.RefundModel(
                pk=refund.pk, deposit_pk=deposit_pk, amount=amount, leg_of=expected.pk
            )
            self.model.refunds[refund.pk] = modelled
            expected.legs.append(refund.pk)
            self._refund_sent(modelled, crash)
        if bank:
            expected.state = m.PAYOUT_PENDING
            self._payout_dispatched(expected, crash)

    def _transfer_targets(self) -> list[tuple[m.WithdrawalModel, m.AttemptModel]]:
        return [
            (w, a)
            for w in self.model.withdrawals.values()
            for a in w.attempts
            if a.transfer_id
        ]

    def _transfer_message(self, expected, attempt, status: str) -> Message:
        withdrawal = Withdrawal.objects.get(pk=expected.pk)
        config = self._brand_of(withdrawal.tenant_id).adyen
        document = adyen_sim.transfer_update(
            config=config,
            transfer_id=attempt.transfer_id,
            reference=f"withdrawal:{expected.pk}:attempt:{attempt.pk}",
            amount_minor=expected.bank,
            currency="EUR",
            status=status,
            reason="refusedByCounterpartyBank" if status == "failed" else "approved",
            sequence_number={"booked": 3, "failed": 3, "returned": 4}[status],
        )
        model = self.model

        def post():
            return adyen_sim.deliver_transfer_update(config=config, document=document)

        return Message(
            label=f"transfer {attempt.transfer_id} {status}",
            endpoint=config.endpoint_id,
            delivered=False,
            event_id=f"transfer:{attempt.transfer_id}:{status}:"
            f"{document['data']['sequenceNumber']}",
            post=post,
            effect=lambda: model.transfer_applied(expected.pk, attempt.pk, status),
        )

    def _retry(self, withdrawal, mode, then, crash):
        """TENANT-POLICY-002: only a failed payout, at most ``retry_limit`` times,
        not before the cooldown, and not while the Adyen kill switch is pulled."""
        expected = self._withdrawal_model(withdrawal)
        if expected is None:
            return
        withdrawal.refresh_from_db()
        brand = self._brand_of(withdrawal.tenant_id)
        self.payout_mode, self.transfer_outcome = mode, then
        try:
            with self._worker_crash(crash):
                attempt = payout_retry(
                    withdrawal=withdrawal, actor=OPERATOR, by_player=False
                )
        except ApplicationError as refused:
            if self.killed[(withdrawal.tenant_id, "adyen")]:
                assert refused.code == "MODULE_TEMPORARILY_DISABLED", refused.code
            elif expected.state != m.PAYOUT_FAILED:
                assert refused.code == "ILLEGAL_TRANSACTION_STATE_TRANSITION", (
                    refused.code
                )
            elif len(expected.attempts) - 1 >= brand.retry_limit:
                assert refused.code == "PAYMENT_RETRY_LIMIT_EXCEEDED", refused.code
            else:
                since = self.model.clock - expected.attempts[-1].created_at
                assert since < brand.cooldown, (refused.code, since)
                assert refused.code == "PAYMENT_COOLDOWN_ACTIVE", refused.code
            return
        assert attempt is not None
        assert not self.killed[(withdrawal.tenant_id, "adyen")]
        assert expected.state == m.PAYOUT_FAILED, expected.state
        assert len(expected.attempts) - 1 < brand.retry_limit
        assert self.model.clock - expected.attempts[-1].created_at >= brand.cooldown
        expected.state = m.PAYOUT_PENDING
        self._payout_dispatched(expected, crash)

    # --- time and the outbox sweep ---------------------------------------------------

    def _time_passes(self, span):
        """A minute: retry cooldowns end. Half a year: every deposit is out of the
        closed loop's refund window from then on (the policy clock is ahead of the
        real completion times), so approvals pay everything to the bank."""
        if span == "minute":
            clock.advance(seconds=61)
            self.model.clock += 61
        elif not self.model.refund_window_passed:
            clock.advance(seconds=timedelta(days=181).total_seconds())
            self.model.refund_window_passed = True

    @rule(
        mode=st.sampled_from(PAYOUT_MODES),
        then=st.sampled_from(TRANSFER_OUTCOMES),
        refunds=st.sampled_from(REFUND_OUTCOMES),
    )
    def outbox_sweep_runs(self, mode, then, refunds):
        """The periodic sweep re-enqueues what waited: stored deliveries never
        applied, payout attempts never sent, refunds never sent. Each is applied
        once (in the sweep's order: deliveries by id, then payouts, then refunds)."""
        self.payout_mode, self.transfer_outcome = mode, then
        self.refund_outcome = refunds
        outbox_sweep(stale_seconds=0)
        for key in list(self.unapplied):  # claimed in id order
            self.unapplied.pop(key).effect()
        for expected in self.model.withdrawals.values():
            for attempt in expected.attempts:
                if attempt.state == "pending":
                    row = PayoutAttempt.objects.get(pk=attempt.pk)
                    self._attempt_answered(expected, attempt, row)
        for refund in self.model.refunds.values():
            if refund.state == "pending" and not refund.sent:
                self._refund_sent(refund, crash=False)

    def teardown(self):
        try:
            self._heavy_checks()
        finally:
            clock.unfreeze()
            self.psp_settings.disable()
            self.fake_server.__exit__(None, None, None)
            self.adyen.close()

    # --- invariants ------------------------------------------------------------------

    def _heavy_checks(self):
        """The audit chain of each brand verifies (sealed first, as the sealer
        would), and ``manage.py reconcile`` is clean for each brand."""
        for brand in self.brands:
            audit_seal_pending(tenant_id=brand.tenant.pk)
            report = audit_chain_verify(tenant=brand.tenant)
            assert report.ok, report.broken
            call_command("reconcile", tenant=brand.tenant.slug, stdout=io.StringIO())

    @invariant()
    def ledger_agrees_with_the_model(self):
        type(self).executed_steps += 1
        self.steps += 1
        tenant_ids = [b.tenant.pk for b in self.brands]
        for tenant_id in tenant_ids:
            assert ledger_invariants_check(tenant_id=tenant_id) == []
            assert payments_invariants_check(tenant_id=tenant_id) == []
        deposits = dict(
            Deposit.objects.filter(tenant_id__in=tenant_ids).values_list("pk", "state")
        )
        assert deposits == {pk: d.state for pk, d in self.model.deposits.items()}
        for player_pk, expected in self.model.players.items():
            player = Player.objects.get(pk=player_pk)
            balances = balance_list(player=player)
            actual = (
                sum(b.available_minor for b in balances),
                sum(b.held_minor for b in balances),
                player.withdrawals_frozen,
            )
            assert actual == (expected.available, expected.held, expected.frozen), (
                player_pk,
                actual,
                expected,
            )

    @invariant()
    def payments_agree_with_the_model(self):
        tenant_ids = [b.tenant.pk for b in self.brands]
        withdrawals = dict(
            Withdrawal.objects.filter(tenant_id__in=tenant_ids).values_list(
                "pk", "state"
            )
        )
        assert withdrawals == {pk: w.state for pk, w in self.model.withdrawals.items()}
        refunds = dict(
            Refund.objects.filter(tenant_id__in=tenant_ids).values_list("pk", "state")
        )
        assert refunds == {pk: r.state for pk, r in self.model.refunds.items()}
        attempts = dict(
            PayoutAttempt.objects.filter(tenant_id__in=tenant_ids).values_list(
                "pk", "state"
            )
        )
        assert attempts == {
            a.pk: a.state for w in self.model.withdrawals.values() for a in w.attempts
        }
        refunded = dict(
            Deposit.objects.filter(tenant_id__in=tenant_ids).values_list(
                "pk", "refunded_minor"
            )
        )
        assert refunded == {pk: d.refunded for pk, d in self.model.deposits.items()}

    @invariant()
    def every_event_moved_money_at_most_once(self):
        """The postings of each kind are exactly what the model's applied events
        make: a duplicate, a redelivery or a re-driven row that moved money again
        would add one."""
        tenant_ids = [b.tenant.pk for b in self.brands]
        counts = dict(
            JournalTransaction.objects.filter(tenant_id__in=tenant_ids)
            .values("kind")
            .annotate(n=Count("id"))
            .values_list("kind", "n")
        )
        postings = self.model.postings
        assert {
            "deposit": counts.get(Kind.DEPOSIT, 0),
            "refund": counts.get(Kind.REFUND, 0),
            "chargeback": counts.get(Kind.CHARGEBACK, 0),
            "withdrawal_post": counts.get(Kind.WITHDRAWAL_POST, 0),
            "reversal": counts.get(Kind.REVERSAL, 0),
        } == postings.__dict__
        # Every paid withdrawal: one posting of its bank hold (counted above) and
        # one PSP transfer key: exactly one paid attempt, with the PSP's reference.
        for expected in self.model.withdrawals.values():
            if expected.state == m.PAID and expected.bank:
                paid = PayoutAttempt.objects.filter(
                    withdrawal_id=expected.pk, state=PayoutAttempt.State.PAID
                ).values_list("provider_reference", flat=True)
                assert len(paid) == 1 and paid[0], (expected.pk, list(paid))

    @invariant()
    def audit_chain_and_reconcile(self):
        if self.steps % HEAVY_EVERY == 0:
            self._heavy_checks()
